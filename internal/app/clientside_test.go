package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/proxy"
)

func clientSideFor(t *testing.T, yaml string) *clientSide {
	t.Helper()
	cfg, _, err := config.Parse("c.yaml", []byte(yaml), ".", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cs, err := newClientSide(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.close)
	return cs
}

func TestClientSideOffByDefault(t *testing.T) {
	cfg, _, err := config.Parse("c.yaml", []byte("model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o, api_key: sk-conf}\n"), ".", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cs, err := newClientSide(cfg); cs != nil || err != nil {
		t.Fatalf("nothing enables client-side credentials, yet %v %v", cs, err)
	}
}

func TestCheckBase(t *testing.T) {
	cs := &clientSide{hosts: []string{"api.example.com", ".corp.example", "127.0.0.1", "169.254.169.254", "metadata.google.internal", "fe80::1"}}
	for base, want := range map[string]string{
		"https://api.example.com/v1":             "",
		"https://API.example.com./v1":            "",
		"https://llm.corp.example/v1":            "",
		"http://127.0.0.1:8080/v1":               "",
		"https://corp.example/v1":                "not on",
		"https://evil.example/v1":                "not on",
		"https://api.example.com.evil.example/v": "not on",
		"https://user:pw@api.example.com/v1":     "without credentials",
		"https://api.example.com\\@evil.example": "without credentials",
		"ftp://api.example.com/":                 "without credentials",
		"http://169.254.169.254/latest":          "cloud metadata",
		"http://metadata.google.internal/":       "cloud metadata",
		"http://[fe80::1]/":                      "link-local",
	} {
		err := cs.checkBase(base, nil)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s refused: %v", base, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want a refusal saying %q", base, err, want)
		}
		if e := provider.AsError(err); err != nil && e.Status != 400 {
			t.Errorf("%s: status %d", base, e.Status)
		}
	}
}

func TestForbiddenAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"169.254.169.254":        "cloud metadata",
		"::ffff:169.254.169.254": "cloud metadata",
		"fd00:ec2::254":          "cloud metadata",
		"100.100.100.200":        "cloud metadata",
		"169.254.10.1":           "link-local",
		"fe80::1234":             "link-local",
		"0.0.0.0":                "non-unicast",
		"127.0.0.1":              "loopback",
		"::1":                    "loopback",
		"10.1.2.3":               "",
		"93.184.216.34":          "",
	} {
		if got := forbidden(netip.MustParseAddr(addr), false); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
	if forbidden(netip.MustParseAddr("127.0.0.1"), true) != "" || forbidden(netip.MustParseAddr("169.254.169.254"), true) == "" {
		t.Error("an allow-listed loopback host may connect to loopback, never to metadata")
	}
}

// The dial guard sees the resolved address: a name that passed the
// allow-list but resolves to loopback or metadata is refused when it
// connects.
func TestDialGuard(t *testing.T) {
	ctx := context.Background()
	if err := dialGuard(ctx, "tcp", "127.0.0.1:80", nil); err == nil {
		t.Error("loopback allowed without an allow-listed loopback host")
	}
	if err := dialGuard(context.WithValue(ctx, loopbackKey{}, true), "tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("allow-listed loopback: %v", err)
	}
	if err := dialGuard(context.WithValue(ctx, loopbackKey{}, true), "tcp", "[fd00:ec2::254]:80", nil); err == nil {
		t.Error("metadata allowed")
	}
	if err := dialGuard(ctx, "tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("a public address: %v", err)
	}
}

const clientSideConfig = `model_list:
  - model_name: open
    litellm_params: {model: openai/gpt-4o, api_key: sk-configured-secret-0000, api_base: "http://127.0.0.1:1/v1", extra_headers: {X-Internal: secret-header}}
  - model_name: keyonly
    litellm_params: {model: openai/gpt-4o, api_key: sk-configured-secret-0000, configurable_clientside_auth_params: ["api_key"]}
general_settings:
  allowed_client_side_api_base_hosts: ["127.0.0.1"]
`

// The configured credentials never go to a client's api_base, and a 3xx
// from it is not followed.
func TestOverrideSendsOnlyTheClientsCredentials(t *testing.T) {
	var hits, elsewhere atomic.Int64
	var auth, internal atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		internal.Store(r.Header.Get("X-Internal"))
		if strings.Contains(r.URL.Path, "redirect") {
			http.Redirect(w, r, other.URL+"/v1/chat/completions", http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[]}`))
	}))
	defer up.Close()
	cs := clientSideFor(t, clientSideConfig+"  allow_client_side_credentials: true\n")
	d := &provider.Deployment{ID: "d1", ModelName: "open", Provider: "openai", Model: "gpt-4o", APIBase: "http://127.0.0.1:1/v1",
		APIKey: "sk-configured-secret-0000", Headers: [][2]string{{"X-Internal", "secret-header"}}, Organization: "org-1"}
	send := func(base string, key provider.Secret) error {
		od, err := cs.Override(d, proxy.ClientCredentials{APIBase: base, APIKey: key})
		if err != nil {
			return err
		}
		var env openai.Envelope
		body := []byte(`{"model":"open","messages":[]}`)
		if err := openai.ParseEnvelope(body, &env); err != nil {
			t.Fatal(err)
		}
		var res provider.Result
		err = od.Impl.Send(context.Background(), &provider.Call{Op: provider.OpChat, Deployment: od, Body: body, Envelope: &env, ClientModel: "open"}, &res)
		if err == nil && res.Owner != nil {
			res.Owner.Release()
		}
		return err
	}
	if err := send(up.URL+"/v1", "sk-client-1111"); err != nil {
		t.Fatal(err)
	}
	if auth.Load() != "Bearer sk-client-1111" || internal.Load() != "" {
		t.Errorf("upstream got Authorization %q, X-Internal %q: only the client's key may go there", auth.Load(), internal.Load())
	}
	if err := send(up.URL+"/v1", ""); err != nil || auth.Load() != "" {
		t.Errorf("without a client key nothing is sent: %v, %q", err, auth.Load())
	}
	err := send(up.URL+"/redirect", "sk-client-1111")
	if e := provider.AsError(err); err == nil || e.Status != 502 || elsewhere.Load() != 0 {
		t.Errorf("a redirect: %v, followed %d times", err, elsewhere.Load())
	}
	if d.APIKey != "sk-configured-secret-0000" || d.APIBase != "http://127.0.0.1:1/v1" || len(d.Headers) != 1 {
		t.Errorf("the configured deployment was changed: %+v", d)
	}
	if hits.Load() != 3 {
		t.Errorf("%d upstream hits, want 3", hits.Load())
	}
}

func TestOverridePermissions(t *testing.T) {
	cs := clientSideFor(t, clientSideConfig)
	open := &provider.Deployment{ID: "a", ModelName: "open", Provider: "openai", Model: "gpt-4o", APIBase: "http://127.0.0.1:1/v1"}
	if _, err := cs.Override(open, proxy.ClientCredentials{APIBase: "http://127.0.0.1:2/v1"}); err == nil {
		t.Error("a deployment that allows nothing accepted an api_base")
	}
	cfg, _, _ := config.Parse("c.yaml", []byte(clientSideConfig), ".", func(string) (string, bool) { return "", false })
	keyOnly := &provider.Deployment{ID: cfg.ModelList[1].ID, ModelName: "keyonly", Provider: "openai", Model: "gpt-4o", APIBase: "https://api.openai.com/v1", APIKey: "sk-configured-secret-0000"}
	od, err := cs.Override(keyOnly, proxy.ClientCredentials{APIKey: "sk-client-2222"})
	if err != nil || od.APIKey.Reveal() != "sk-client-2222" || od.APIBase != "https://api.openai.com/v1" || od == keyOnly {
		t.Fatalf("api_key only: %v %+v", err, od)
	}
	if _, err := cs.Override(keyOnly, proxy.ClientCredentials{APIBase: "http://127.0.0.1:2/v1", APIKey: "k"}); err == nil {
		t.Error("an api_base was accepted where only api_key is configurable")
	}
}

func TestAttemptSettings(t *testing.T) {
	models := "model_list:\n"
	for _, m := range []string{"a", "b", "c", "d", "ignored", "big", "legacy", "z"} {
		models += "  - model_name: " + m + "\n    litellm_params: {model: mock/" + m + "}\n"
	}
	cfg, _, err := config.Parse("c.yaml", []byte(models+`router_settings:
  num_retries: 4
  retry_after: 1
  retry_policy: {RateLimitErrorRetries: 7}
  model_group_retry_policy: {a: {InternalServerErrorRetries: 0}}
  fallbacks: [{a: [b, c]}, {a: [ignored]}, {"*": [d]}]
  context_window_fallbacks: [{a: [big]}]
  max_fallbacks: 0
litellm_settings:
  num_retries: 9
  fallbacks: [{a: [legacy]}]
  default_fallbacks: [z]
`), ".", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r, f := attemptSettings(cfg)
	if r.NumRetries != 4 || r.After.Seconds() != 1 || r.Max("x", 3, -1) != 7 || r.Max("a", 5, -1) != 0 {
		t.Errorf("retries %+v", r)
	}
	if got := f.Generic["a"]; len(got) != 2 || got[1] != "c" || f.Generic["*"][0] != "d" || f.ContextWindow["a"][0] != "big" || f.Default[0] != "z" || f.MaxFallbacks() != 0 {
		t.Errorf("fallbacks %+v (max %d)", f, f.MaxFallbacks())
	}
	empty, _, _ := config.Parse("c.yaml", []byte("model_list:\n  - model_name: a\n    litellm_params: {model: mock/a}\n"), ".", func(string) (string, bool) { return "", false })
	if r, f := attemptSettings(empty); r.NumRetries != defaultNumRetries || f.MaxFallbacks() != 5 {
		t.Errorf("defaults: %d retries, %d fallbacks", r.NumRetries, f.MaxFallbacks())
	}
}
