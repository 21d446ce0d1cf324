package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Credentials served over HTTP: the container endpoint (ECS task roles,
// EKS Pod Identity) and the EC2 instance metadata service. Errors name
// the source and status, never a response body, which may hold secrets.

// remoteCredentials is the JSON both endpoints answer with.
type remoteCredentials struct {
	Code            string `json:"Code"` // IMDS only: "Success"
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

func (r remoteCredentials) credentials(source string) (Credentials, error) {
	if r.AccessKeyID == "" || r.SecretAccessKey == "" || r.Code != "" && r.Code != "Success" {
		return Credentials{}, fmt.Errorf("%s returned no credentials", source)
	}
	c := Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey, SessionToken: r.Token}
	if r.Expiration != "" {
		t, err := time.Parse(time.RFC3339, r.Expiration)
		if err != nil {
			return Credentials{}, fmt.Errorf("%s returned an invalid expiration time", source)
		}
		c.Expires = t
	}
	return c, nil
}

// maxCredentialBody bounds what a credential endpoint may send.
const maxCredentialBody = 64 << 10

type container struct {
	url              string
	token, tokenFile string
	client           *http.Client
}

// containerSource reads AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS) or
// AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity, local emulators).
func containerSource(lookup func(string) string) (*container, bool) {
	c := &container{
		token:     lookup("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
		tokenFile: lookup("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
		client:    &http.Client{Timeout: 10 * time.Second},
	}
	if rel := lookup("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		c.url = "http://169.254.170.2" + rel
		return c, true
	}
	if full := lookup("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		c.url = full
		return c, true
	}
	return nil, false
}

func (c *container) fetch(ctx context.Context) (Credentials, error) {
	const source = "the container credentials endpoint"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: invalid URL", source)
	}
	token := c.token
	if c.tokenFile != "" {
		// Re-read each time: EKS rotates the file.
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: reading the authorization token file: %w", source, err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	var rc remoteCredentials
	if err := getJSON(c.client, req, source, &rc); err != nil {
		return Credentials{}, err
	}
	return rc.credentials(source)
}

type imds struct {
	endpoint string
	client   *http.Client
}

// imdsSource talks to the EC2 instance metadata service (endpoint
// overridable with AWS_EC2_METADATA_SERVICE_ENDPOINT) with IMDSv2 session
// tokens. Connecting is bounded tightly, since off EC2 nothing answers.
func imdsSource(lookup func(string) string) *imds {
	endpoint := strings.TrimRight(firstNonEmpty(lookup("AWS_EC2_METADATA_SERVICE_ENDPOINT"), "http://169.254.169.254"), "/")
	dialer := &net.Dialer{Timeout: time.Second}
	return &imds{endpoint: endpoint, client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil}}}
}

func (m *imds) fetch(ctx context.Context) (Credentials, error) {
	const source = "the EC2 instance metadata service"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.endpoint+"/latest/api/token", nil)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: invalid endpoint", source)
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
	token, err := getBody(m.client, req, source)
	if err != nil {
		return Credentials{}, err
	}
	get := func(path string) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+path, nil)
		if err == nil {
			r.Header.Set("X-aws-ec2-metadata-token", string(token))
		}
		return r, err
	}
	req, err = get("/latest/meta-data/iam/security-credentials/")
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: invalid endpoint", source)
	}
	roles, err := getBody(m.client, req, source)
	if err != nil {
		return Credentials{}, err
	}
	role, _, _ := strings.Cut(strings.TrimSpace(string(roles)), "\n")
	if role == "" || strings.ContainsAny(role, "/?#") {
		return Credentials{}, fmt.Errorf("%s: the instance has no IAM role", source)
	}
	req, err = get("/latest/meta-data/iam/security-credentials/" + role)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: invalid endpoint", source)
	}
	var rc remoteCredentials
	if err := getJSON(m.client, req, source, &rc); err != nil {
		return Credentials{}, err
	}
	return rc.credentials(source)
}

func getBody(client *http.Client, req *http.Request, source string) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // drop the URL net/http puts in front
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCredentialBody))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered HTTP %d", source, resp.StatusCode)
	}
	return b, nil
}

func getJSON(client *http.Client, req *http.Request, source string, v any) error {
	b, err := getBody(client, req, source)
	if err != nil {
		return err
	}
	if json.Unmarshal(b, v) != nil {
		return fmt.Errorf("%s returned invalid JSON", source)
	}
	return nil
}
