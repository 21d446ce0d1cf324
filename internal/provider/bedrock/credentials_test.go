package bedrock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

const (
	roleKey    = "ASIAROLEKEY"
	roleSecret = "role/secret+value"
	roleToken  = "role-session-token"
)

func credentialJSON(exp time.Time) string {
	return fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q,"Token":%q,"Expiration":%q}`, roleKey, roleSecret, roleToken, exp.UTC().Format(time.RFC3339))
}

func chain(t *testing.T, extra map[string]any, env map[string]string) credentialSource {
	t.Helper()
	d := testDeploymentEnv(t, extra, env)
	return d.Signer.(*signer).creds
}

func testDeploymentEnv(t *testing.T, extra map[string]any, env map[string]string) *provider.Deployment {
	t.Helper()
	e := map[string]any{"aws_region_name": "us-east-1"}
	for k, v := range extra {
		e[k] = v
	}
	d := &provider.Deployment{Provider: "bedrock", Model: "anthropic.claude-3-haiku-20240307-v1:0", Extra: e}
	if err := Prepare(d, testEnv(t, env)); err != nil {
		t.Fatal(err)
	}
	return d
}

func expectCreds(t *testing.T, src credentialSource, key, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := src.retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != key || c.SessionToken != token {
		t.Fatalf("got %s token %q, want %s token %q", c, c.SessionToken, key, token)
	}
}

func TestContainerCredentials(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("pod-identity-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization") + " " + r.URL.Path)
		_, _ = io.WriteString(w, credentialJSON(time.Now().Add(time.Hour)))
	}))
	defer srv.Close()
	src := chain(t, nil, map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL + "/v1/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile})
	expectCreds(t, src, roleKey, roleToken)
	if got := auth.Load(); got != "pod-identity-token /v1/credentials" {
		t.Errorf("request = %v", got)
	}
}

func TestIMDSv2Credentials(t *testing.T) {
	var calls []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
				w.WriteHeader(400)
				return
			}
			_, _ = io.WriteString(w, "imds-session")
		case r.Header.Get("X-aws-ec2-metadata-token") != "imds-session":
			w.WriteHeader(401)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			_, _ = io.WriteString(w, "gateway-role\n")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/gateway-role":
			_, _ = io.WriteString(w, `{"Code":"Success","Type":"AWS-HMAC",`+credentialJSON(time.Now().Add(6 * time.Hour))[1:])
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	src := chain(t, nil, map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.URL})
	expectCreds(t, src, roleKey, roleToken)
	want := "PUT /latest/api/token,GET /latest/meta-data/iam/security-credentials/,GET /latest/meta-data/iam/security-credentials/gateway-role"
	if got := strings.Join(calls, ","); got != want {
		t.Errorf("calls = %s", got)
	}
}

// stsServer answers AssumeRole (checking its signature) and
// AssumeRoleWithWebIdentity.
func stsServer(t *testing.T, baseSecret string, seen *url.Values) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		*seen = form
		if form.Get("Action") == "AssumeRole" {
			if err := verifySigV4(r, body, baseSecret); err != nil {
				t.Errorf("AssumeRole signature: %v", err)
			}
		} else if r.Header.Get("Authorization") != "" {
			t.Error("AssumeRoleWithWebIdentity must not be signed")
		}
		if form.Get("RoleArn") == "arn:aws:iam::1:role/denied" {
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>`)
			return
		}
		action := form.Get("Action")
		fmt.Fprintf(w, `<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%sResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials></%sResult></%sResponse>`,
			action, action, roleKey, roleSecret, roleToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), action, action)
	}))
}

func TestAssumeRole(t *testing.T) {
	var seen url.Values
	srv := stsServer(t, "base-secret", &seen)
	defer srv.Close()
	src := chain(t, map[string]any{"aws_access_key_id": "AKIABASE", "aws_secret_access_key": "base-secret", "aws_role_name": "arn:aws:iam::1:role/bedrock",
		"aws_session_name": "gw", "aws_external_id": "ext-42", "aws_sts_endpoint": srv.URL}, nil)
	expectCreds(t, src, roleKey, roleToken)
	if seen.Get("RoleArn") != "arn:aws:iam::1:role/bedrock" || seen.Get("RoleSessionName") != "gw" || seen.Get("ExternalId") != "ext-42" {
		t.Errorf("form = %v", seen)
	}
}

func TestAssumeRoleFailureNamesNoSecret(t *testing.T) {
	var seen url.Values
	srv := stsServer(t, "base-secret", &seen)
	defer srv.Close()
	src := chain(t, map[string]any{"aws_access_key_id": "AKIABASE", "aws_secret_access_key": "base-secret", "aws_role_name": "arn:aws:iam::1:role/denied", "aws_sts_endpoint": srv.URL}, nil)
	_, err := src.retrieve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || strings.Contains(err.Error(), "base-secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestWebIdentity(t *testing.T) {
	var seen url.Values
	srv := stsServer(t, "", &seen)
	defer srv.Close()
	// LiteLLM's settings.
	src := chain(t, map[string]any{"aws_web_identity_token": "oidc-token-1", "aws_role_name": "arn:aws:iam::1:role/web", "aws_session_name": "s1", "aws_sts_endpoint": srv.URL}, nil)
	expectCreds(t, src, roleKey, roleToken)
	if seen.Get("WebIdentityToken") != "oidc-token-1" || seen.Get("RoleSessionName") != "s1" {
		t.Errorf("form = %v", seen)
	}
	// EKS service accounts: the token file is read at each refresh.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("oidc-token-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src = chain(t, nil, map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": file, "AWS_ROLE_ARN": "arn:aws:iam::1:role/irsa", "AWS_STS_ENDPOINT": srv.URL})
	expectCreds(t, src, roleKey, roleToken)
	if seen.Get("WebIdentityToken") != "oidc-token-2" || seen.Get("RoleArn") != "arn:aws:iam::1:role/irsa" {
		t.Errorf("form = %v", seen)
	}
}

func TestProfileAssumesRole(t *testing.T) {
	var seen url.Values
	srv := stsServer(t, "src-secret", &seen)
	defer srv.Close()
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	config := filepath.Join(dir, "config")
	_ = os.WriteFile(creds, []byte("# keys\n[source]\naws_access_key_id = AKIASRC\naws_secret_access_key = src-secret\n"), 0o600)
	_ = os.WriteFile(config, []byte("[profile app]\nrole_arn = arn:aws:iam::1:role/app\nsource_profile = source\nexternal_id = e1\ns3 =\n  max_concurrent_requests = 10\n[sso-session corp]\nsso_region = us-east-1\n[profile sso]\nsso_session = corp\n"), 0o600)
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": config, "AWS_STS_ENDPOINT": srv.URL}
	src := chain(t, map[string]any{"aws_profile_name": "app"}, env)
	expectCreds(t, src, roleKey, roleToken)
	if seen.Get("RoleArn") != "arn:aws:iam::1:role/app" || seen.Get("ExternalId") != "e1" {
		t.Errorf("form = %v", seen)
	}
	d := &provider.Deployment{Provider: "bedrock", Model: "a.b", Extra: map[string]any{"aws_profile_name": "sso"}}
	if err := Prepare(d, testEnv(t, env)); err == nil || !strings.Contains(err.Error(), "SSO") {
		t.Errorf("sso profile: %v", err)
	}
}

func TestNoCredentialsWithoutIMDS(t *testing.T) {
	d := &provider.Deployment{Provider: "bedrock", Model: "a.b"}
	err := Prepare(d, testEnv(t, map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}))
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Fatalf("err = %v", err)
	}
}

// Temporary credentials are fetched once, reused until close to expiry,
// renewed in the background while still valid, and fetched again after
// the upstream said they expired.
func TestCachedCredentials(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var fetches atomic.Int32
	release := make(chan struct{})
	c := newCached(func(ctx context.Context) (Credentials, error) {
		n := fetches.Add(1)
		if n == 3 {
			<-release
		}
		return Credentials{AccessKeyID: fmt.Sprint("K", n), SecretAccessKey: "s", Expires: clock().Add(time.Hour)}, nil
	})
	c.now = clock
	ctx := context.Background()

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := c.retrieve(ctx); err != nil || got.AccessKeyID != "K1" {
				t.Errorf("got %v %v", got, err)
			}
		}()
	}
	wg.Wait()
	if fetches.Load() != 1 {
		t.Fatalf("fetches = %d, want 1 for concurrent first use", fetches.Load())
	}
	advance(50 * time.Minute)
	if got, _ := c.retrieve(ctx); got.AccessKeyID != "K1" {
		t.Errorf("fresh credentials replaced: %v", got)
	}
	advance(6 * time.Minute) // inside the refresh window: renewal starts, old ones serve
	if got, _ := c.retrieve(ctx); got.AccessKeyID != "K1" && got.AccessKeyID != "K2" {
		t.Errorf("got %v", got)
	}
	waitFor(t, func() bool { g, _ := c.retrieve(ctx); return g.AccessKeyID == "K2" })

	c.invalidate()
	done := make(chan Credentials)
	go func() { g, _ := c.retrieve(ctx); done <- g }()
	close(release)
	if got := <-done; got.AccessKeyID != "K3" {
		t.Errorf("after invalidate: %v", got)
	}

	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	blocked := newCached(func(ctx context.Context) (Credentials, error) { <-ctx.Done(); return Credentials{}, ctx.Err() })
	if _, err := blocked.retrieve(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a caller's deadline must bound its wait: %v", err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if ok() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestCredentialsDoNotPrintSecrets(t *testing.T) {
	c := Credentials{AccessKeyID: "AKID", SecretAccessKey: "very-secret", SessionToken: "tok-secret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c)} {
		if strings.Contains(s, "secret") && strings.Contains(s, "very") || strings.Contains(s, "tok-secret") {
			t.Errorf("printed %q", s)
		}
	}
}
