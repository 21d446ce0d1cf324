package main

// End-to-end tests of routing through outages (issue 5's "Done means"):
// retries, fallbacks, cooldowns shared across replicas, the retry budget
// and client-side api_base, against fake upstreams that fail on purpose.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
)

const completionBody = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"from %s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`

func answer(name string) providertest.Reply {
	return providertest.Reply{Body: fmt.Appendf(nil, completionBody, name)}
}

func failing(status int, headers map[string]string) providertest.Reply {
	typ := map[int]string{400: "invalid_request_error", 401: "invalid_request_error", 429: "requests", 500: "server_error", 503: "server_error"}[status]
	return providertest.Reply{Status: status, Header: headers,
		Body: fmt.Appendf(nil, `{"error":{"message":"upstream says %d","type":%q,"param":null,"code":null}}`, status, typ)}
}

// deployment is one model_list entry on a fake upstream.
func deployment(group, id, url string) string {
	return fmt.Sprintf(`  - model_name: %s
    litellm_params: {model: openai/gpt-4o-mini, api_base: "%s/v1", api_key: sk-upstream-e2e-secret-000}
    model_info: {id: %s}
`, group, url, id)
}

func routingConfig(deployments, routerSettings string) string {
	return "model_list:\n" + deployments + "router_settings:\n" + routerSettings + "general_settings:\n  master_key: " + masterKey + "\n"
}

func chat(t *testing.T, g *gateway, model, extra string) (*http.Response, string) {
	t.Helper()
	resp := post(t, g.url+"/v1/chat/completions", masterKey, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]`+extra+`}`)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Primary answering 429, and another 500 (streamed, too): the fallback
// answers, the client sees 200, and the headers say how it went.
func TestFallbackAnswersFor429And500(t *testing.T) {
	up429 := providertest.NewUpstream(t, failing(429, map[string]string{"Retry-After": "1"}))
	up500 := providertest.NewUpstream(t, failing(500, nil))
	backup := providertest.NewUpstream(t, answer("backup"))
	streamBackup := providertest.NewUpstream(t, providertest.Reply{Events: streamEvents()})
	g := start(t, routingConfig(
		deployment("p429", "p429-1", up429.URL)+deployment("p500", "p500-1", up500.URL)+deployment("p500s", "p500s-1", up500.URL)+
			deployment("backup", "backup-1", backup.URL)+deployment("sbackup", "sbackup-1", streamBackup.URL),
		"  num_retries: 2\n  fallbacks: [{p429: [backup]}, {p500: [backup]}, {p500s: [sbackup]}]\n"), nil)
	for _, tc := range []struct {
		model string
		up    *providertest.Upstream
	}{{"p429", up429}, {"p500", up500}} {
		before, backups := len(tc.up.Requests()), len(backup.Requests())
		resp, body := chat(t, g, tc.model, "")
		if resp.StatusCode != 200 || !strings.Contains(body, "from backup") {
			t.Fatalf("%s: %d %s", tc.model, resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("x-litellm-attempted-fallbacks") != "1" || h.Get("x-litellm-model-group") != "backup" || h.Get("x-litellm-model-id") != "backup-1" ||
			h.Get("x-litellm-max-fallbacks") != "5" || !strings.HasPrefix(h.Get("x-litellm-model-api-base"), backup.URL) {
			t.Errorf("%s: routing headers %v", tc.model, h)
		}
		if n := len(tc.up.Requests()) - before; n != 1 {
			t.Errorf("%s: the primary got %d requests; with a fallback ready it is not retried after a wait", tc.model, n)
		}
		if n := len(backup.Requests()) - backups; n != 1 {
			t.Errorf("%s: the fallback got %d requests", tc.model, n)
		}
	}
	// A stream whose primary fails before its first byte falls back too.
	c := g.client(masterKey)
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "p500s", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	acc := openai.ChatCompletionAccumulator{}
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil || acc.Choices[0].Message.Content != "Hello!" {
		t.Errorf("streamed fallback: %v %+v", err, acc.ChatCompletion)
	}
	if strings.Contains(g.logs.String(), "sk-upstream-e2e-secret-000") {
		t.Errorf("the provider key appeared in the logs")
	}
}

// 400 and 401 are the request's or the deployment's own problem: not
// retried, not a reason to fall back or to cool the deployment down.
func TestNoRetryNoCooldownFor400And401(t *testing.T) {
	up400 := providertest.NewUpstream(t, failing(400, nil))
	up401 := providertest.NewUpstream(t, failing(401, nil))
	backup := providertest.NewUpstream(t, answer("backup"))
	g := start(t, routingConfig(
		deployment("bad", "bad-1", up400.URL)+deployment("denied", "denied-1", up401.URL)+deployment("backup", "backup-1", backup.URL),
		"  num_retries: 3\n  allowed_fails: 0\n  cooldown_time: 60\n  fallbacks: [{bad: [backup]}, {denied: [backup]}]\n"), nil)
	for _, tc := range []struct {
		model  string
		up     *providertest.Upstream
		status int
		typ    string
	}{{"bad", up400, 400, "invalid_request_error"}, {"denied", up401, 401, "invalid_request_error"}} {
		for i := 1; i <= 2; i++ {
			resp, body := chat(t, g, tc.model, "")
			if resp.StatusCode != tc.status || !strings.Contains(body, `"type":"`+tc.typ+`"`) || !strings.Contains(body, "upstream says") {
				t.Errorf("%s #%d: %d %s", tc.model, i, resp.StatusCode, body)
			}
			if resp.Header.Get("x-litellm-model-id") != tc.model+"-1" || resp.Header.Get("x-litellm-attempted-retries") != "0" {
				t.Errorf("%s #%d: headers %v", tc.model, i, resp.Header)
			}
			// Exactly one upstream request per client request, the second
			// one too: the deployment was not cooled down.
			if n := len(tc.up.Requests()); n != i {
				t.Errorf("%s: after %d requests the upstream got %d", tc.model, i, n)
			}
		}
	}
	if n := len(backup.Requests()); n != 0 {
		t.Errorf("the fallback got %d requests for final errors", n)
	}
}

// A stream cut after k chunks: the client gets the k chunks and an error
// event; nothing is retried, because the client already has bytes.
func TestStreamCutIsNotRetried(t *testing.T) {
	const k = 2
	cut := providertest.NewUpstream(t, providertest.Reply{Events: streamEvents(), CutAfter: k})
	backup := providertest.NewUpstream(t, providertest.Reply{Events: streamEvents()})
	g := start(t, routingConfig(deployment("cut", "cut-1", cut.URL)+deployment("cut", "cut-2", cut.URL)+deployment("backup", "backup-1", backup.URL),
		"  num_retries: 3\n  fallbacks: [{cut: [backup]}]\n"), nil)
	c := g.client(masterKey)
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "cut", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for s.Next() {
		acc.AddChunk(s.Current())
		n++
	}
	if s.Err() == nil || n != k || acc.Choices[0].Message.Content != "Hello" || acc.Choices[0].FinishReason != "" {
		t.Errorf("client saw %d chunks (%q, finish %q), error %v; want the %d chunks sent, then an error", n, acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, s.Err(), k)
	}
	if got, fb := len(cut.Requests()), len(backup.Requests()); got != 1 || fb != 0 {
		t.Errorf("upstream requests: cut %d, backup %d; want exactly 1 and 0", got, fb)
	}
}

// One of three deployments failing, two replicas sharing Redis: once it
// failed on replica A, replica B avoids it too; after cooldown_time it is
// tried again and, healthy, serves again.
func TestCooldownSharedAcrossReplicas(t *testing.T) {
	redisURL := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("set SWITCHBOARD_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the two-replica test")
	}
	const cooldown = 5 * time.Second
	good1 := providertest.NewUpstream(t, answer("good1"))
	good2 := providertest.NewUpstream(t, answer("good2"))
	flaky := providertest.NewUpstream(t, failing(500, nil))
	// Ids unique to this run, so that state another run left in Redis
	// cannot decide this one.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg := routingConfig(deployment("trio", "good1-"+run, good1.URL)+deployment("trio", "good2-"+run, good2.URL)+deployment("trio", "flaky-"+run, flaky.URL),
		"  num_retries: 2\n  allowed_fails: 0\n  cooldown_time: "+strconv.Itoa(int(cooldown.Seconds()))+"\n  redis_url: "+redisURL+"\n")
	db := "DATABASE_URL=" + filepath.Join(t.TempDir(), "shared.db")
	a := start(t, cfg, nil, db, "SWITCHBOARD_SPILL_DIR="+t.TempDir())
	b := start(t, cfg, nil, db, "SWITCHBOARD_SPILL_DIR="+t.TempDir())

	for i := 0; len(flaky.Requests()) == 0; i++ {
		if i == 50 {
			t.Fatal("50 requests and the random choice never picked the failing deployment")
		}
		if resp, body := chat(t, a, "trio", ""); resp.StatusCode != 200 {
			t.Fatalf("replica A: %d %s (a retry on another deployment should have answered)", resp.StatusCode, body)
		}
	}
	failedAt, before := time.Now(), len(flaky.Requests())
	// The news travels through Redis asynchronously; a moment is plenty.
	time.Sleep(300 * time.Millisecond)
	for i := range 20 {
		if resp, body := chat(t, b, "trio", ""); resp.StatusCode != 200 {
			t.Fatalf("replica B request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	// Only meaningful while the cooldown lasts (a slow machine may outlast
	// it). Were B on its own, it would pick the failing deployment with a
	// chance of 1 − (2/3)^20 and count it.
	if n := len(flaky.Requests()) - before; n > 0 && time.Since(failedAt) < cooldown {
		t.Errorf("replica B sent %d of 20 requests to the deployment replica A cooled down", n)
	}

	flaky.SetReply(answer("flaky"))
	deadline := time.Now().Add(cooldown + 15*time.Second)
	seen := len(flaky.Requests())
	for len(flaky.Requests()) == seen {
		if time.Now().After(deadline) {
			t.Fatalf("the cooled deployment was not tried again %v after its cooldown", deadline.Sub(failedAt))
		}
		for _, g := range []*gateway{a, b} {
			if resp, body := chat(t, g, "trio", ""); resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if since := time.Since(failedAt); since < cooldown/2 {
		t.Errorf("tried again %v after failing, before its cooldown of %v", since, cooldown)
	}
	// Healthy again, it rejoins the rotation.
	rejoined := len(flaky.Requests())
	for range 30 {
		for _, g := range []*gateway{a, b} {
			if resp, body := chat(t, g, "trio", ""); resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
	}
	if len(flaky.Requests()) == rejoined {
		t.Error("the recovered deployment got no traffic in 60 requests")
	}
}

// A whole group down: clients get fast 503s carrying Retry-After, and the
// retry budget keeps upstream attempts within 1.2× client requests.
func TestFullOutageFailsFast(t *testing.T) {
	var ups []*providertest.Upstream
	var deps string
	for i := range 3 {
		u := providertest.NewUpstream(t, failing(503, nil))
		ups = append(ups, u)
		deps += deployment("down", "down-"+strconv.Itoa(i), u.URL)
	}
	g := start(t, routingConfig(deps, "  num_retries: 2\n  cooldown_time: 60\n"), nil)
	const n = 200
	withRetryAfter := 0
	for i := range n {
		start := time.Now()
		resp, body := chat(t, g, "down", "")
		if resp.StatusCode != 503 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("request %d took %v to fail", i, d)
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra >= 1 {
			withRetryAfter++
		} else if i >= n-50 {
			t.Errorf("request %d: 503 without Retry-After (%q): the outage should be known by now", i, resp.Header.Get("Retry-After"))
		}
	}
	attempts := 0
	for _, u := range ups {
		attempts += len(u.Requests())
	}
	if attempts > n*12/10 {
		t.Errorf("%d upstream attempts for %d client requests: more than 1.2×", attempts, n)
	}
	t.Logf("cooldowns on: %d upstream attempts for %d requests; %d answers carried Retry-After", attempts, n, withRetryAfter)

	// With cooldowns off every request reaches the upstream, and wants two
	// retries: the retry budget alone holds the attempts to 1.2×.
	var off []*providertest.Upstream
	deps = ""
	for i := range 3 {
		u := providertest.NewUpstream(t, failing(503, nil))
		off = append(off, u)
		deps += deployment("down", "nocool-"+strconv.Itoa(i), u.URL)
	}
	g = start(t, routingConfig(deps, "  num_retries: 2\n  disable_cooldowns: true\n"), nil)
	for i := range n {
		if resp, body := chat(t, g, "down", ""); resp.StatusCode != 503 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	attempts = 0
	for _, u := range off {
		attempts += len(u.Requests())
	}
	if attempts > n*12/10 || attempts < n {
		t.Errorf("cooldowns off: %d upstream attempts for %d client requests, want between %d and %d", attempts, n, n, n*12/10)
	}
	t.Logf("cooldowns off: %d upstream attempts for %d requests", attempts, n)
}

// Per-request api_base: refused by default; allowed to an allow-listed
// host with the client's key only; never to link-local, allow-listed or
// not; and a redirect from it is not followed.
func TestClientSideAPIBase(t *testing.T) {
	configured := providertest.NewUpstream(t, answer("configured"))
	mine := providertest.NewUpstream(t, answer("mine"))
	elsewhere := providertest.NewUpstream(t, answer("elsewhere"))
	redirector := providertest.NewUpstream(t, providertest.Reply{Status: 307, Header: map[string]string{"Location": elsewhere.URL + "/v1/chat/completions"}})
	deps := deployment("open", "open-1", configured.URL)
	override := func(base string) string {
		return `,"api_base":"` + base + `","api_key":"sk-client-own-key-1234567890"`
	}

	plain := start(t, routingConfig(deps, "  num_retries: 0\n"), nil)
	resp, body := chat(t, plain, "open", override(mine.URL+"/v1"))
	if resp.StatusCode != 400 || !strings.Contains(body, "allow_client_side_credentials") {
		t.Errorf("default config: %d %s, want 400", resp.StatusCode, body)
	}

	g := start(t, routingConfig(deps, "  num_retries: 0\n")+
		"  allow_client_side_credentials: true\n  allowed_client_side_api_base_hosts: [\"127.0.0.1\", \"169.254.169.254\"]\n", nil)
	resp, body = chat(t, g, "open", override(mine.URL+"/v1"))
	if resp.StatusCode != 200 || !strings.Contains(body, "from mine") {
		t.Fatalf("allow-listed api_base: %d %s", resp.StatusCode, body)
	}
	got := mine.Requests()
	if len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer sk-client-own-key-1234567890" || strings.Contains(string(got[0].Body), "sk-client") {
		t.Errorf("the client's upstream got %d requests, Authorization %q, body %s", len(got), got[0].Header.Get("Authorization"), got[0].Body)
	}
	for _, tc := range []struct{ name, base string }{
		{"link-local, allow-listed by name", "http://169.254.169.254/v1"},
		{"not allow-listed", "http://localhost:1/v1"},
		{"credentials in the URL", "http://user:pw@127.0.0.1:1/v1"},
	} {
		resp, body := chat(t, g, "open", override(tc.base))
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d %s, want 400", tc.name, resp.StatusCode, body)
		}
	}
	resp, body = chat(t, g, "open", override(redirector.URL+"/v1"))
	if resp.StatusCode != 502 || len(elsewhere.Requests()) != 0 {
		t.Errorf("a redirect: %d %s; followed %d times", resp.StatusCode, body, len(elsewhere.Requests()))
	}
	if n := len(configured.Requests()); n != 0 {
		t.Errorf("the configured upstream got %d requests", n)
	}
	if strings.Contains(g.logs.String(), "sk-client-own-key") || strings.Contains(g.logs.String(), "sk-upstream-e2e-secret-000") {
		t.Error("a key appeared in the logs")
	}
}

// The request's own retry settings reach the attempt loop: the
// x-litellm-num-retries header, and an Idempotency-Key that makes a
// timeout after sending worth retrying.
func TestRequestRetryHeaders(t *testing.T) {
	slow := providertest.NewUpstream(t, providertest.Reply{Delay: 2 * time.Second, Body: fmt.Appendf(nil, completionBody, "slow")})
	down1 := providertest.NewUpstream(t, failing(500, nil))
	down2 := providertest.NewUpstream(t, failing(500, nil))
	deps := strings.Replace(deployment("slow", "slow-1", slow.URL), "api_key:", "timeout: 0.2, api_key:", 1) +
		deployment("down", "down-1", down1.URL) + deployment("down", "down-2", down2.URL)
	g := start(t, routingConfig(deps, "  num_retries: 1\n"), nil)
	send := func(model string, headers map[string]string) *http.Response {
		req, _ := http.NewRequest("POST", g.url+"/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+masterKey)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := send("slow", nil); resp.StatusCode != 504 || len(slow.Requests()) != 1 {
		t.Errorf("a timeout after sending: %d, upstream got %d requests; want 504 and no retry", resp.StatusCode, len(slow.Requests()))
	}
	if resp := send("slow", map[string]string{"Idempotency-Key": "k-1"}); resp.StatusCode != 504 || len(slow.Requests()) != 3 {
		t.Errorf("with an Idempotency-Key: %d, upstream got %d requests in all; want 504 after one retry (1 + 2)", resp.StatusCode, len(slow.Requests()))
	}
	if resp := send("down", map[string]string{"x-litellm-num-retries": "0"}); resp.StatusCode != 500 || len(down1.Requests())+len(down2.Requests()) != 1 ||
		resp.Header.Get("x-litellm-max-retries") != "0" {
		t.Errorf("x-litellm-num-retries: 0: %d, %d attempts, max-retries %q", resp.StatusCode, len(down1.Requests())+len(down2.Requests()), resp.Header.Get("x-litellm-max-retries"))
	}
}
