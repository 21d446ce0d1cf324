package bedrock

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// stsClient calls the two AWS STS actions LiteLLM's role settings use,
// over STS's query protocol: a form POST answered in XML.
type stsClient struct {
	endpoint, region string
	http             *http.Client
	now              func() time.Time // tests pin the signing clock
}

// stsCredentials is the Credentials element of both actions' results.
type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

// stsResponse is either action's response; the other member stays empty.
type stsResponse struct {
	AssumeRole  stsCredentials `xml:"AssumeRoleResult>Credentials"`
	WebIdentity stsCredentials `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
}

type stsError struct {
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
}

// assumeRole is sts:AssumeRole, signed with base's credentials.
func (c stsClient) assumeRole(ctx context.Context, base credentialSource, role, session, externalID string) (Credentials, error) {
	creds, err := base.retrieve(ctx)
	if err != nil {
		return Credentials{}, err
	}
	form := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {role}, "RoleSessionName": {session}, "DurationSeconds": {"3600"}}
	if externalID != "" {
		form.Set("ExternalId", externalID)
	}
	return c.call(ctx, form, &creds)
}

// assumeRoleWithWebIdentity is sts:AssumeRoleWithWebIdentity, which the
// OIDC token authorises on its own: the request is not signed.
func (c stsClient) assumeRoleWithWebIdentity(ctx context.Context, role, session, token string) (Credentials, error) {
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {role}, "RoleSessionName": {session}, "WebIdentityToken": {token}, "DurationSeconds": {"3600"}}
	return c.call(ctx, form, nil)
}

func (c stsClient) call(ctx context.Context, form url.Values, creds *Credentials) (Credentials, error) {
	action := form.Get("Action")
	source := "AWS STS " + action + " for " + form.Get("RoleArn")
	body := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: invalid STS endpoint", source)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if creds != nil {
		s := newSigner(c.region, "sts", staticCredentials(*creds))
		s.now = c.now
		s.signHTTP(req, body, *creds)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", source, unwrapURLError(err))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxCredentialBody)); err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", source, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e stsError
		if xml.Unmarshal(buf.Bytes(), &e) == nil && e.Code != "" {
			return Credentials{}, fmt.Errorf("%s: %s: %s", source, e.Code, e.Message)
		}
		return Credentials{}, fmt.Errorf("%s answered HTTP %d", source, resp.StatusCode)
	}
	var r stsResponse
	if err := xml.Unmarshal(buf.Bytes(), &r); err != nil {
		return Credentials{}, fmt.Errorf("%s returned invalid XML", source)
	}
	sc := r.AssumeRole
	if sc.AccessKeyID == "" {
		sc = r.WebIdentity
	}
	if sc.AccessKeyID == "" || sc.SecretAccessKey == "" {
		return Credentials{}, fmt.Errorf("%s returned no credentials", source)
	}
	out := Credentials{AccessKeyID: sc.AccessKeyID, SecretAccessKey: sc.SecretAccessKey, SessionToken: sc.SessionToken}
	if out.Expires, err = time.Parse(time.RFC3339, strings.TrimSpace(sc.Expiration)); err != nil {
		return Credentials{}, fmt.Errorf("%s returned an invalid expiration time", source)
	}
	return out, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
