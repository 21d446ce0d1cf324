package gemini

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// tokenServer is a fake OAuth token endpoint. handle, when set, answers
// instead of the default (a fresh token "tok-N" valid for an hour).
type tokenServer struct {
	*httptest.Server
	calls  atomic.Int32
	handle func(w http.ResponseWriter, r *http.Request, n int32)
	t      *testing.T
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{t: t}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.calls.Add(1)
		if ts.handle != nil {
			ts.handle(w, r, n)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-" + string(rune('0'+n)), "expires_in": 3600, "token_type": "Bearer"})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// fakeClock is a settable clock shared with a tokenSource.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newSource(t *testing.T, tokenURI string) (*tokenSource, *fakeClock) {
	t.Helper()
	creds, err := parseCredentials([]byte(serviceAccount(tokenURI)))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTokenSource(creds)
	clock := &fakeClock{t: time.Unix(1_750_000_000, 0)}
	ts.now = clock.now
	return ts, clock
}

func sign(t *testing.T, ts *tokenSource) (string, error) {
	t.Helper()
	req := &upstream.Request{}
	if err := ts.Sign(context.Background(), req); err != nil {
		return "", err
	}
	if len(req.Header) != 1 || req.Header[0][0] != "Authorization" {
		t.Fatalf("headers = %v", req.Header)
	}
	return req.Header[0][1], nil
}

// TestServiceAccountAssertion checks the JWT-bearer exchange: the form,
// the assertion's header, claims and RS256 signature.
func TestServiceAccountAssertion(t *testing.T) {
	srv := newTokenServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request, _ int32) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", got)
		}
		if got := r.PostForm.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("grant_type %q", got)
		}
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if len(parts) != 3 {
			t.Fatalf("assertion has %d parts", len(parts))
		}
		var header map[string]string
		var claims map[string]any
		decodeSegment(t, parts[0], &header)
		decodeSegment(t, parts[1], &claims)
		if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != "key-1" {
			t.Errorf("header %v", header)
		}
		want := map[string]any{"iss": "gateway@sa-project.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/cloud-platform",
			"aud": srv.URL + "/token", "iat": float64(1_750_000_000), "exp": float64(1_750_000_000 + 3600)}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("claim %s = %v, want %v", k, claims[k], v)
			}
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&testKey().PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			t.Errorf("signature does not verify: %v", err)
		}
		_, _ = w.Write([]byte(`{"access_token":"ya29.good","expires_in":3599,"token_type":"Bearer"}`))
	}
	ts, _ := newSource(t, srv.URL+"/token")
	for range 3 {
		got, err := sign(t, ts)
		if err != nil {
			t.Fatal(err)
		}
		if got != "Bearer ya29.good" {
			t.Errorf("Authorization = %q", got)
		}
	}
	if n := srv.calls.Load(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1 (the token is cached)", n)
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestTokenRefresh: a token is replaced in the background shortly before
// it expires (requests keep the old one meanwhile), and waited for once it
// has expired.
func TestTokenRefresh(t *testing.T) {
	srv := newTokenServer(t)
	ts, clock := newSource(t, srv.URL)
	if got, _ := sign(t, ts); got != "Bearer tok-1" {
		t.Fatalf("first token %q", got)
	}
	clock.add(50 * time.Minute)
	if got, _ := sign(t, ts); got != "Bearer tok-1" {
		t.Fatalf("token within its lifetime: %q", got)
	}

	// 57 minutes in: under refreshAhead left, still usable.
	clock.add(7 * time.Minute)
	if got, _ := sign(t, ts); got != "Bearer tok-1" {
		t.Fatalf("token being refreshed ahead: %q, want the current one", got)
	}
	waitFor(t, func() bool { return srv.calls.Load() == 2 && ts.idle() })
	if got, _ := sign(t, ts); got != "Bearer tok-2" {
		t.Fatalf("after the background refresh: %q", got)
	}

	// Expired: the request waits for a new token.
	clock.add(2 * time.Hour)
	if got, _ := sign(t, ts); got != "Bearer tok-3" {
		t.Fatalf("after expiry: %q", got)
	}
}

func (ts *tokenSource) idle() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.pending == nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTokenSingleFlight: requests that need a token at once share one
// refresh.
func TestTokenSingleFlight(t *testing.T) {
	srv := newTokenServer(t)
	release := make(chan struct{})
	srv.handle = func(w http.ResponseWriter, _ *http.Request, _ int32) {
		<-release
		_, _ = w.Write([]byte(`{"access_token":"shared","expires_in":3600}`))
	}
	ts, _ := newSource(t, srv.URL)
	const n = 32
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := sign(t, ts)
			if err != nil {
				t.Error(err)
			}
			results <- got
		}()
	}
	waitFor(t, func() bool { return srv.calls.Load() >= 1 })
	time.Sleep(20 * time.Millisecond) // let the others queue up behind it
	close(release)
	wg.Wait()
	close(results)
	for got := range results {
		if got != "Bearer shared" {
			t.Errorf("got %q", got)
		}
	}
	if c := srv.calls.Load(); c != 1 {
		t.Errorf("token endpoint called %d times, want 1", c)
	}
}

// TestTokenErrors: a refused grant is a non-retryable credentials error, a
// failing or unreachable endpoint a retryable one; neither leaks a key.
func TestTokenErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		retryable bool
		want      string
	}{
		{"invalid grant", 400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, false, "HTTP 400: invalid_grant (Invalid JWT Signature.)"},
		{"disabled account", 401, `{"error":"invalid_client","error_description":"The OAuth client was disabled."}`, false, "invalid_client"},
		{"unavailable", 503, `upstream connect error`, true, "HTTP 503"},
		{"throttled", 429, `{"error":"rate_limit_exceeded"}`, true, "HTTP 429"},
		{"no token", 200, `{"token_type":"Bearer"}`, false, "HTTP 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTokenServer(t)
			srv.handle = func(w http.ResponseWriter, _ *http.Request, _ int32) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}
			ts, _ := newSource(t, srv.URL)
			_, err := sign(t, ts)
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *provider.Error", err)
			}
			if pe.Status != 502 || pe.Code != "upstream_credentials" || pe.Retryable != tc.retryable {
				t.Errorf("got %d %s retryable=%v, want 502 upstream_credentials retryable=%v", pe.Status, pe.Code, pe.Retryable, tc.retryable)
			}
			if !strings.Contains(pe.Message, tc.want) || !strings.HasPrefix(pe.Message, "vertex_ai: ") {
				t.Errorf("message %q does not contain %q", pe.Message, tc.want)
			}
			if strings.Contains(pe.Message, "PRIVATE KEY") {
				t.Errorf("message leaks the key: %q", pe.Message)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := newTokenServer(t)
		srv.Close()
		ts, _ := newSource(t, srv.URL)
		_, err := sign(t, ts)
		var pe *provider.Error
		if !errors.As(err, &pe) || !pe.Retryable || pe.Status != 502 {
			t.Fatalf("err = %#v", err)
		}
	})
}

// TestTokenWaitHonoursContext: a request that gives up waiting for a token
// does not cancel the refresh the others share.
func TestTokenWaitHonoursContext(t *testing.T) {
	srv := newTokenServer(t)
	release := make(chan struct{})
	srv.handle = func(w http.ResponseWriter, _ *http.Request, _ int32) {
		<-release
		_, _ = w.Write([]byte(`{"access_token":"late","expires_in":3600}`))
	}
	ts, _ := newSource(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Sign(ctx, &upstream.Request{}) }()
	waitFor(t, func() bool { return srv.calls.Load() == 1 })
	cancel()
	var pe *provider.Error
	if err := <-done; !errors.As(err, &pe) || pe.Status != provider.StatusClientClosed {
		t.Fatalf("err = %v, want client closed", err)
	}
	close(release)
	waitFor(t, ts.idle)
	if got, _ := sign(t, ts); got != "Bearer late" {
		t.Errorf("token after the abandoned wait: %q", got)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
}

func TestAuthorizedUserCredentials(t *testing.T) {
	srv := newTokenServer(t)
	srv.handle = func(w http.ResponseWriter, r *http.Request, _ int32) {
		_ = r.ParseForm()
		f := r.PostForm
		if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "1//refresh" || f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" {
			t.Errorf("form %v", f)
		}
		_, _ = w.Write([]byte(`{"access_token":"user-token","expires_in":3599}`))
	}
	creds, err := parseCredentials([]byte(`{"type":"authorized_user","client_id":"cid","client_secret":"csecret","refresh_token":"1//refresh","quota_project_id":"billing-proj","token_uri":"` + srv.URL + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTokenSource(creds)
	if got, err := sign(t, ts); err != nil || got != "Bearer user-token" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestLoadCredentials(t *testing.T) {
	sa := serviceAccount("https://oauth2.example/token")
	dir := t.TempDir()
	path := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(path, []byte(sa), 0o600); err != nil {
		t.Fatal(err)
	}
	var asMap map[string]any
	_ = json.Unmarshal([]byte(sa), &asMap)
	envWith := func(kv map[string]string) func(...string) string {
		return func(names ...string) string {
			for _, n := range names {
				if v := kv[n]; v != "" {
					return v
				}
			}
			return ""
		}
	}
	none := envWith(nil)
	for _, tc := range []struct {
		name    string
		v       any
		env     func(...string) string
		wantErr string
	}{
		{name: "path", v: path, env: none},
		{name: "json", v: sa, env: none},
		{name: "yaml mapping", v: asMap, env: none},
		{name: "GOOGLE_APPLICATION_CREDENTIALS", env: envWith(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": path})},
		{name: "VERTEXAI_CREDENTIALS", env: envWith(map[string]string{"VERTEXAI_CREDENTIALS": sa})},
		{name: "gcloud ADC", env: envWith(map[string]string{"CLOUDSDK_CONFIG": dir}), wantErr: "vertex_ai needs vertex_credentials"},
		{name: "none", env: envWith(map[string]string{"HOME": dir}), wantErr: "vertex_ai needs vertex_credentials"},
		{name: "missing file", v: filepath.Join(dir, "nope.json"), env: none, wantErr: "reading vertex credentials"},
		{name: "external account", v: `{"type":"external_account"}`, env: none, wantErr: `type "external_account" are not supported`},
		{name: "bad key", v: `{"type":"service_account","client_email":"a@b","private_key":"nope"}`, env: none, wantErr: "not PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadCredentials(tc.v, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.email != "gateway@sa-project.iam.gserviceaccount.com" || c.key == nil || c.projectID != "sa-project" {
				t.Errorf("credentials %+v", c)
			}
		})
	}
	// gcloud's well-known file, when present.
	adc := filepath.Join(dir, "application_default_credentials.json")
	if err := os.WriteFile(adc, []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadCredentials(nil, envWith(map[string]string{"CLOUDSDK_CONFIG": dir}))
	if err != nil || c.kind != "authorized_user" {
		t.Fatalf("gcloud ADC: %+v, %v", c, err)
	}
}
