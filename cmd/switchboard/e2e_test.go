package main

// End-to-end tests: the real binary, started as a user would start it,
// against fake upstreams on loopback, driven by the official OpenAI Go SDK.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchboard")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const masterKey = "sk-e2e-7d3f9a1c5e2b4f608a1d"

// gateway is a running switchboard process.
type gateway struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var servingAddr = regexp.MustCompile(`switchboard is serving.*addr=(\S+)`)

// start runs the binary on config (YAML text) with extra args and env, and
// waits until it serves.
func start(t *testing.T, config string, args []string, env ...string) *gateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return launch(t, append([]string{"--config", path, "--host", "127.0.0.1"}, args...), env...)
}

// launch runs the binary with args on a free port and waits until it serves.
func launch(t *testing.T, args []string, env ...string) *gateway {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--port", "0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "DATABASE_URL="+filepath.Join(t.TempDir(), "switchboard.db")), env...)
	g := &gateway{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(g.logs, pw)
	cmd.Stdout = g.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.done <- cmd.Wait(); pw.Close() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		g.url = "http://" + a
	case err := <-g.done:
		t.Fatalf("gateway exited before serving: %v\n%s", err, g.logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("gateway did not start:\n%s", g.logs)
	}
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			_ = g.cmd.Process.Kill()
			<-g.done
		}
		if t.Failed() {
			t.Logf("gateway logs:\n%s", g.logs)
		}
	})
	return g
}

func (g *gateway) client(key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(g.url+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func upstreamConfig(upURL string) string {
	return fmt.Sprintf(`model_list:
  - model_name: gpt-test
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: %s/v1
      api_key: sk-upstream-e2e-secret-000
  - model_name: demo
    litellm_params:
      model: mock/demo
      mock_response: "Hello from the mock."
general_settings:
  master_key: %s
`, upURL, masterKey)
}

func chunk(content, finish string) string {
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	delta := `{}`
	if content != "" {
		delta = fmt.Sprintf(`{"content":%q}`, content)
	}
	return fmt.Sprintf("data: {\"id\":\"chatcmpl-e2e\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}],\"usage\":null}\n\n", delta, f)
}

const usageChunk = "data: {\"id\":\"chatcmpl-e2e\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n"

func streamEvents() [][]byte {
	var evs [][]byte
	for _, s := range []string{chunk("Hel", ""), chunk("lo", ""), chunk("!", ""), chunk("", "stop"), usageChunk, "data: [DONE]\n\n"} {
		evs = append(evs, []byte(s))
	}
	return evs
}

func TestChatThroughSDK(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)})
	g := start(t, upstreamConfig(up.URL), nil)
	c := g.client(masterKey)
	ctx := context.Background()

	res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-test", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "Hi there" || res.Usage.TotalTokens != 7 {
		t.Errorf("unexpected answer %+v", res)
	}
	got := up.Requests()[0]
	if got.Header.Get("Authorization") != "Bearer sk-upstream-e2e-secret-000" {
		t.Errorf("upstream auth header = %q", got.Header.Get("Authorization"))
	}
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil || body["model"] != "gpt-4o-mini" {
		t.Errorf("upstream body = %s", got.Body)
	}

	// The mock answers without any upstream.
	res, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "demo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || res.Choices[0].Message.Content != "Hello from the mock." {
		t.Fatalf("mock: %v %+v", err, res)
	}

	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 2 || models.Data[0].ID != "gpt-test" {
		t.Errorf("models: %v %+v", err, models)
	}
}

func TestStreamThroughSDK(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Events: streamEvents()})
	g := start(t, upstreamConfig(up.URL), nil)
	c := g.client(masterKey)
	for _, includeUsage := range []bool{false, true} {
		params := openai.ChatCompletionNewParams{Model: "gpt-test", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
		if includeUsage {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		s := c.Chat.Completions.NewStreaming(context.Background(), params)
		acc := openai.ChatCompletionAccumulator{}
		chunks := 0
		for s.Next() {
			acc.AddChunk(s.Current())
			chunks++
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != "Hello!" || acc.Choices[0].FinishReason != "stop" {
			t.Errorf("accumulated %+v", acc.ChatCompletion)
		}
		wantChunks, wantTokens := 4, int64(0)
		if includeUsage {
			wantChunks, wantTokens = 5, 8
		}
		if chunks != wantChunks || acc.Usage.TotalTokens != wantTokens {
			t.Errorf("include_usage=%v: %d chunks, usage %d; want %d, %d", includeUsage, chunks, acc.Usage.TotalTokens, wantChunks, wantTokens)
		}
	}
	// The gateway always asked the upstream for usage.
	for _, r := range up.Requests() {
		if !bytes.Contains(r.Body, []byte(`"include_usage":true`)) {
			t.Errorf("upstream request without include_usage: %s", r.Body)
		}
	}
}

func TestStreamCutBecomesErrorEvent(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Events: streamEvents(), CutAfter: 2})
	g := start(t, upstreamConfig(up.URL), nil)
	c := g.client(masterKey)
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-test", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for s.Next() {
		acc.AddChunk(s.Current())
		n++
	}
	if s.Err() == nil {
		t.Fatalf("a cut stream must end with an error, got %d chunks and no error", n)
	}
	if n != 2 || acc.Choices[0].FinishReason != "" {
		t.Errorf("client saw %d chunks, finish_reason %q; want the 2 sent chunks and no finish_reason", n, acc.Choices[0].FinishReason)
	}
}

func TestErrors(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3"},
		Body: []byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)})
	g := start(t, upstreamConfig(up.URL), nil)
	ctx := context.Background()
	msg := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	for _, tc := range []struct {
		name   string
		key    string
		model  string
		status int
	}{
		{"wrong key", "sk-wrong-key-0000000000000", "demo", 401},
		{"unknown model", masterKey, "nope", 404},
		{"upstream 429", masterKey, "gpt-test", 429},
	} {
		c := g.client(tc.key)
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: tc.model, Messages: msg})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
			t.Errorf("%s: err = %v, want status %d", tc.name, err, tc.status)
			continue
		}
		if tc.status == 429 && apiErr.Response.Header.Get("Retry-After") != "3" {
			t.Errorf("Retry-After not passed through: %q", apiErr.Response.Header.Get("Retry-After"))
		}
	}
	// Bad bodies never reach the upstream.
	before := len(up.Requests())
	for _, body := range []string{`{"model":"gpt-test","messages":[}`, "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", `{"model":"gpt-test","x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`} {
		resp := post(t, g.url+"/v1/chat/completions", masterKey, body)
		if resp.StatusCode != 400 {
			t.Errorf("body %.40q: status %d, want 400", body, resp.StatusCode)
		}
		checkEnvelope(t, resp)
	}
	if len(up.Requests()) != before {
		t.Errorf("malformed requests reached the upstream")
	}
	if strings.Contains(g.logs.String(), "sk-upstream-e2e-secret-000") {
		t.Errorf("the provider key appeared in the logs")
	}
}

func post(t *testing.T, url, key, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// newKey makes a virtual key with the master key and returns it.
func (g *gateway) newKey(t *testing.T, body string) string {
	t.Helper()
	resp := post(t, g.url+"/key/generate", masterKey, body)
	defer resp.Body.Close()
	var out struct{ Key string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Key == "" {
		t.Fatalf("key/generate %s: %d %v", body, resp.StatusCode, err)
	}
	return out.Key
}

// getJSON GETs path with key and decodes the answer into v.
func (g *gateway) getJSON(t *testing.T, path, key string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
}

func checkEnvelope(t *testing.T, resp *http.Response) {
	t.Helper()
	defer resp.Body.Close()
	var env struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &env); err != nil || env.Error == nil || env.Error.Message == "" || env.Error.Type == "" {
		t.Errorf("not an OpenAI error envelope: %s", b)
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Delay: 30 * time.Second})
	g := start(t, upstreamConfig(up.URL), nil)
	for _, stream := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		body := `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"stream":` + fmt.Sprint(stream) + `}`
		req, _ := http.NewRequestWithContext(ctx, "POST", g.url+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+masterKey)
		go func() {
			time.Sleep(300 * time.Millisecond)
			cancel()
		}()
		_, _ = http.DefaultClient.Do(req)
		select {
		case <-up.Gone():
		case <-time.After(5 * time.Second):
			t.Fatalf("stream=%v: the upstream request was not cancelled after the client left", stream)
		}
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Delay: 700 * time.Millisecond, Body: []byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"done"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)})
	g := start(t, upstreamConfig(up.URL), nil)
	result := make(chan error, 1)
	c := g.client(masterKey)
	go func() {
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-test", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		result <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != nil {
		t.Errorf("in-flight request failed during drain: %v", err)
	}
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit after SIGTERM")
	}
}

func TestStartupChecks(t *testing.T) {
	for name, tc := range map[string]struct {
		config string
		want   string
	}{
		"weak master key": {"model_list: [{model_name: d, litellm_params: {model: mock/d}}]\ngeneral_settings: {master_key: sk-1234}\n", "well-known"},
		"typo":            {"model_list: [{model_name: d, litellm_params: {model: mock/d, api_bsae: x}}]\n", "api_base"},
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		_ = os.WriteFile(path, []byte(tc.config), 0o600)
		out, err := exec.Command(binary, "--config", path, "--port", "0").CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: err=%v, output:\n%s", name, err, out)
		}
	}
	out, err := exec.Command(binary, "validate", "--config", "../../examples/quickstart.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Errorf("validate quickstart: %v\n%s", err, out)
	}
}

func TestQuickstartWithoutMasterKeyBindsLoopback(t *testing.T) {
	g := start(t, "model_list: [{model_name: demo, litellm_params: {model: mock/demo}}]\n", []string{"--host", "0.0.0.0"})
	if !strings.HasPrefix(g.url, "http://127.0.0.1:") {
		t.Errorf("open gateway listens on %s, want loopback", g.url)
	}
	if !strings.Contains(g.logs.String(), "loopback only") {
		t.Errorf("the open mode was not announced")
	}
	c := g.client("anything")
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "demo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || res.Choices[0].Message.Content == "" {
		t.Errorf("open gateway: %v", err)
	}
}

func TestLimitsAndTimeouts(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Delay: 3 * time.Second, Events: streamEvents()})
	cfg := fmt.Sprintf(`model_list:
  - model_name: slow
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: %s/v1
      api_key: sk-upstream-e2e-secret-000
      stream_timeout: 0.3
general_settings:
  master_key: %s
  max_request_size_mb: 1
`, up.URL, masterKey)
	g := start(t, cfg, nil)
	big := `{"model":"slow","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<20) + `"}]}`
	resp := post(t, g.url+"/v1/chat/completions", masterKey, big)
	if resp.StatusCode != 413 {
		t.Errorf("2 MiB body: status %d, want 413", resp.StatusCode)
	}
	checkEnvelope(t, resp)

	start := time.Now()
	resp = post(t, g.url+"/v1/chat/completions", masterKey, `{"model":"slow","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 504 || time.Since(start) > 2*time.Second {
		t.Errorf("stream_timeout: status %d after %v, want a 504 after ~0.3s", resp.StatusCode, time.Since(start))
	}
	checkEnvelope(t, resp)
}

func TestAzureStylePathsAndMultipart(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{"text":"hello world"}`)})
	g := start(t, upstreamConfig(up.URL), nil)
	// Azure SDKs name the deployment in the path and send api-key.
	req, _ := http.NewRequest("POST", g.url+"/openai/deployments/gpt-test/chat/completions?api-version=2024-10-21", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("api-key", masterKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("azure path: %v %v", err, resp)
	}
	resp.Body.Close()
	if got := up.Requests()[0].Body; !bytes.Contains(got, []byte(`"model":"gpt-4o-mini"`)) {
		t.Errorf("model from the path not sent upstream: %s", got)
	}

	var body bytes.Buffer
	body.WriteString("--XYZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngpt-test\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF....\r\n--XYZ--\r\n")
	req, _ = http.NewRequest("POST", g.url+"/v1/audio/transcriptions", &body)
	req.Header.Set("Authorization", "Bearer "+masterKey)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XYZ")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("transcription: %v %v", err, resp)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	last := up.Requests()[1]
	if string(out) != `{"text":"hello world"}` || last.Path != "/v1/audio/transcriptions" || !bytes.Contains(last.Body, []byte("gpt-4o-mini")) || !bytes.Contains(last.Body, []byte("RIFF....")) {
		t.Errorf("transcription relay: %s → upstream %s %q", out, last.Path, last.Body)
	}
}

// TestHangupOnKeepAliveConnection: the hang-up watch is armed per request
// on a connection registered once; a client leaving during its second
// request must still cancel the upstream call.
func TestHangupOnKeepAliveConnection(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Delay: 30 * time.Second})
	g := start(t, upstreamConfig(up.URL), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(model string) {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
		fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", masterKey, len(body), body)
	}
	br := bufio.NewReader(conn)
	send("demo") // answered by the mock at once
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", err, resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	send("gpt-test") // held by the slow upstream
	time.Sleep(300 * time.Millisecond)
	conn.Close()
	select {
	case <-up.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream call was not cancelled when the client left during its second request")
	}
}

// TestQuickModelMode: `switchboard --model openai/gpt-4o` serves that one
// model, with the key and base URL from LiteLLM's environment variables.
func TestQuickModelMode(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.Reply{Body: []byte(`{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"quick"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)})
	g := launch(t, []string{"--model", "openai/gpt-4o"}, "OPENAI_BASE_URL="+up.URL+"/v1", "OPENAI_API_KEY=sk-quick-upstream-key-000")
	url := g.url
	c := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "openai/gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || res.Choices[0].Message.Content != "quick" {
		t.Fatalf("quick mode: %v", err)
	}
	if got := up.Requests()[0].Header.Get("Authorization"); got != "Bearer sk-quick-upstream-key-000" {
		t.Errorf("upstream auth = %q", got)
	}
}

// TestDatabaseMigrateAndReadiness: `switchboard migrate` applies the store's
// migrations once, and a serving gateway reports its database as connected.
func TestDatabaseMigrateAndReadiness(t *testing.T) {
	dbURL := "DATABASE_URL=" + filepath.Join(t.TempDir(), "sb.db")
	for i, want := range []string{"applied now: [1]", "applied now: []"} {
		cmd := exec.Command(binary, "migrate", "--config", "../../examples/quickstart.yaml")
		cmd.Env = append(os.Environ(), dbURL)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
		}
	}
	g := launch(t, []string{"--config", "../../examples/quickstart.yaml", "--host", "127.0.0.1"}, dbURL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(g.url + "/health/readiness")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status, DB string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == 200 && body.DB == "connected" && body.Status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness: %d %+v", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDatabaseDownAtStart: a PostgreSQL that cannot be reached delays
// readiness (503, "connecting") while migrations retry; the gateway still
// starts and serves, and the password in the URL never reaches the logs.
func TestDatabaseDownAtStart(t *testing.T) {
	g := launch(t, []string{"--config", "../../examples/quickstart.yaml", "--host", "127.0.0.1"},
		"DATABASE_URL=postgres://postgres:hunter2-secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=1", "SWITCHBOARD_SPILL_DIR="+t.TempDir())
	resp, err := http.Get(g.url + "/health/readiness")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Status, DB string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || body.DB != "connecting" {
		t.Errorf("readiness with the database down: %d %+v", resp.StatusCode, body)
	}
	c := g.client("sk-quickstart-3c9f1e7a5b2d4086")
	if _, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "demo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Errorf("serving with the database down: %v", err)
	}
	time.Sleep(700 * time.Millisecond) // at least one failed attempt is logged
	if !strings.Contains(g.logs.String(), "database not ready") || strings.Contains(g.logs.String(), "hunter2-secret") {
		t.Errorf("logs (want a retry message, no password):\n%s", g.logs)
	}
}

// TestVirtualKeys: keys made with the LiteLLM management API authenticate,
// are held to their model list, can read only their own info, and a block
// takes effect on the next request.
func TestVirtualKeys(t *testing.T) {
	g := start(t, `model_list:
  - model_name: demo
    litellm_params: {model: mock/demo}
  - model_name: other
    litellm_params: {model: mock/other}
general_settings:
  master_key: `+masterKey+"\n", nil)
	call := func(path, key, body string) (int, map[string]any) {
		t.Helper()
		method := "POST"
		if body == "" {
			method = "GET"
		}
		req, _ := http.NewRequest(method, g.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, gen := call("/key/generate", masterKey, `{"models":["demo"],"key_alias":"e2e","max_budget":10}`)
	key, _ := gen["key"].(string)
	if status != 200 || !strings.HasPrefix(key, "sk-") {
		t.Fatalf("generate: %d %v", status, gen)
	}
	chat := `{"model":"%s","messages":[{"role":"user","content":"hi"}]}`
	if status, body := call("/v1/chat/completions", key, fmt.Sprintf(chat, "demo")); status != 200 {
		t.Errorf("allowed model: %d %v", status, body)
	}
	if status, body := call("/v1/chat/completions", key, fmt.Sprintf(chat, "other")); status != 403 {
		t.Errorf("model outside the key's list: %d %v", status, body)
	}
	if status, body := call("/key/info", key, ""); status != 200 || body["info"] == nil {
		t.Errorf("own info: %d %v", status, body)
	}
	if status, _ := call("/key/generate", key, `{}`); status != 403 {
		t.Errorf("a virtual key generated a key: %d", status)
	}
	if status, body := call("/key/block", masterKey, `{"key":"`+key+`"}`); status != 200 {
		t.Fatalf("block: %d %v", status, body)
	}
	if status, _ := call("/v1/chat/completions", key, fmt.Sprintf(chat, "demo")); status != 401 {
		t.Errorf("blocked key: %d, want 401 at once", status)
	}
	if status, _ := call("/key/unblock", masterKey, `{"key":"`+key+`"}`); status != 200 {
		t.Fatalf("unblock: %d", status)
	}
	if status, _ := call("/v1/chat/completions", key, fmt.Sprintf(chat, "demo")); status != 200 {
		t.Errorf("unblocked key: %d", status)
	}
	if status, _ := call("/v1/chat/completions", "sk-not-a-real-key-000000000", fmt.Sprintf(chat, "demo")); status != 401 {
		t.Errorf("unknown key: %d", status)
	}
}

// TestKeyRateLimits: a key's rpm_limit and max_parallel_requests hold, a
// refusal says when to retry, and a request the client abandons gives its
// parallel slot back.
func TestKeyRateLimits(t *testing.T) {
	g := start(t, `model_list:
  - model_name: demo
    litellm_params: {model: mock/demo}
  - model_name: slow
    litellm_params: {model: mock/slow, mock_latency_ms: 2000}
general_settings:
  master_key: `+masterKey+"\n", nil)
	newKey := func(body string) string { return g.newKey(t, body) }
	chat := func(key, model string) *http.Response {
		return post(t, g.url+"/v1/chat/completions", key, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
	}

	rpmKey := newKey(`{"rpm_limit":2}`)
	for i := 0; i < 2; i++ {
		if resp := chat(rpmKey, "demo"); resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-remaining-requests") != fmt.Sprint(1-i) {
			t.Errorf("request %d: %d, remaining %q", i+1, resp.StatusCode, resp.Header.Get("x-ratelimit-remaining-requests"))
		}
	}
	resp := chat(rpmKey, "demo")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third request in the minute: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	checkEnvelope(t, resp)

	parKey := newKey(`{"max_parallel_requests":1}`)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", g.url+"/v1/chat/completions", strings.NewReader(`{"model":"slow","messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+parKey)
	done := make(chan struct{})
	go func() { _, _ = http.DefaultClient.Do(req); close(done) }()
	time.Sleep(300 * time.Millisecond) // the slow request (2 s) now holds the slot
	if resp := chat(parKey, "demo"); resp.StatusCode != 429 {
		t.Errorf("second parallel request: %d, want 429", resp.StatusCode)
	}
	cancel() // the client abandons the slow request: its slot must come back
	<-done
	// Well before the slow request would have ended on its own (2 s), so a
	// 200 here proves the abandoned request released its slot.
	status := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && status != 200; time.Sleep(20 * time.Millisecond) {
		resp := chat(parKey, "demo")
		resp.Body.Close()
		status = resp.StatusCode
	}
	if status != 200 {
		t.Errorf("after the abandoned request: %d, want 200", status)
	}
}

// TestRateLimitsAreGlobalAcrossReplicas: two gateways sharing a database and
// Redis enforce one key's rpm_limit and budget together, not once each, and
// a key blocked on one is refused by the other at once.
func TestRateLimitsAreGlobalAcrossReplicas(t *testing.T) {
	redisURL := os.Getenv("SWITCHBOARD_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("set SWITCHBOARD_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the two-replica test")
	}
	cfg := `model_list:
  - model_name: demo
    litellm_params: {model: mock/demo}
  - model_name: priced
    litellm_params: {model: mock/priced, mock_completion_tokens: 5, input_cost_per_token: 0, output_cost_per_token: 0.004}
router_settings:
  redis_url: ` + redisURL + `
general_settings:
  master_key: ` + masterKey + "\n"
	db := "DATABASE_URL=" + filepath.Join(t.TempDir(), "shared.db")
	a := start(t, cfg, nil, db, "SWITCHBOARD_SPILL_DIR="+t.TempDir())
	b := start(t, cfg, nil, db, "SWITCHBOARD_SPILL_DIR="+t.TempDir())
	key := a.newKey(t, `{"rpm_limit":4}`)
	ok := 0
	for i := 0; i < 10; i++ {
		g := a
		if i%2 == 1 {
			g = b
		}
		resp := post(t, g.url+"/v1/chat/completions", key, `{"model":"demo","messages":[{"role":"user","content":"hi"}]}`)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
		default:
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if ok != 4 {
		t.Errorf("%d requests admitted across two replicas, want exactly 4", ok)
	}

	// A budget covering exactly 4 requests (each reserves exactly its cost)
	// under 40 concurrent requests, half to each replica.
	budgeted := b.newKey(t, `{"max_budget":0.08}`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 40 {
		g := []*gateway{a, b}[i%2]
		wg.Go(func() {
			resp := post(t, g.url+"/v1/chat/completions", budgeted, `{"model":"priced","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[200] != 4 || statuses[400] != 36 {
		t.Errorf("budget of 4 requests across two replicas: statuses %v, want 4 × 200 and 36 × 400", statuses)
	}

	// Blocked on a, refused by b on its next request (b has the key cached).
	resp := post(t, a.url+"/key/block", masterKey, `{"key":"`+budgeted+`"}`)
	resp.Body.Close()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp := post(t, b.url+"/v1/chat/completions", budgeted, `{"model":"demo","messages":[{"role":"user","content":"hi"}]}`)
		resp.Body.Close()
		if resp.StatusCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after a block on the other replica: %d, want 401", resp.StatusCode)
		}
	}
}

// TestMetricsEndpoint: public by default, as LiteLLM's, with the series the
// gateway promises.
func TestMetricsEndpoint(t *testing.T) {
	g := start(t, upstreamConfig("http://127.0.0.1:1"), nil)
	c := g.client(masterKey)
	_, _ = c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "demo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	resp, err := http.Get(g.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics without a key: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`switchboard_requests_total{model="demo",op="chat",status="200"} 1`, "switchboard_request_duration_seconds_bucket", "switchboard_tokens_total", "switchboard_upstream_attempts_total",
		"switchboard_spend_queue_rows", "switchboard_spend_rows_written_total", "switchboard_counters_degraded 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestSpendLedger: every request lands in the ledger with its exact cost,
// streamed or not, and shows in /key/info and /spend/logs; SIGTERM flushes
// what is pending so a restart finds it.
func TestSpendLedger(t *testing.T) {
	cfg := `model_list:
  - model_name: priced
    litellm_params:
      model: mock/priced
      mock_prompt_tokens: 10
      mock_completion_tokens: 5
      input_cost_per_token: 0.001
      output_cost_per_token: 0.002
general_settings:
  master_key: ` + masterKey + "\n"
	dir := t.TempDir()
	env := []string{"DATABASE_URL=" + filepath.Join(dir, "ledger.db"), "SWITCHBOARD_SPILL_DIR=" + filepath.Join(dir, "spill")}
	g := start(t, cfg, nil, env...)
	key := g.newKey(t, `{"key_alias":"ledger"}`)
	for _, stream := range []string{"false", "true"} {
		resp := post(t, g.url+"/v1/chat/completions", key, `{"model":"priced","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream=%s: %d", stream, resp.StatusCode)
		}
	}
	// The writer flushes at least every second.
	var info struct {
		Info struct {
			Spend float64 `json:"spend"`
		} `json:"info"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for info.Info.Spend < 0.04 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		g.getJSON(t, "/key/info", key, &info)
	}
	if info.Info.Spend != 0.04 {
		t.Fatalf("key spend = %v, want exactly 0.04 (2 requests × (10×0.001 + 5×0.002))", info.Info.Spend)
	}

	// A request answered just before SIGTERM is flushed on the way out.
	resp := post(t, g.url+"/v1/chat/completions", key, `{"model":"priced","messages":[{"role":"user","content":"last"}]}`)
	resp.Body.Close()
	lastID := resp.Header.Get("x-request-id")
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	<-g.done
	g2 := start(t, cfg, nil, env...)
	var rows []struct {
		RequestID string  `json:"request_id"`
		Spend     float64 `json:"spend"`
	}
	g2.getJSON(t, "/spend/logs?api_key="+key, masterKey, &rows)
	found := false
	for _, r := range rows {
		found = found || r.RequestID == lastID
	}
	if len(rows) != 3 || !found {
		t.Fatalf("after SIGTERM and restart: %d rows, last request present %v", len(rows), found)
	}
}

// TestBudgetEnforced (reliability row B1): 200 concurrent requests on a key
// whose budget covers exactly 10 of them. Each reserves its worst case (here
// exactly its cost: output-only pricing, max_tokens = the mock's output), so
// exactly 10 are answered, the rest get LiteLLM's 400 budget_exceeded, and
// the ledger ends at the budget, not a cent over. Team limits and blocked
// end users are enforced on the same path.
func TestBudgetEnforced(t *testing.T) {
	cfg := `model_list:
  - model_name: priced
    litellm_params: {model: mock/priced, mock_prompt_tokens: 10, mock_completion_tokens: 5, input_cost_per_token: 0, output_cost_per_token: 0.004}
general_settings:
  master_key: ` + masterKey + "\n"
	g := start(t, cfg, nil)
	generate := func(body string) string { return g.newKey(t, body) }
	key := generate(`{"max_budget":0.2}`)
	const body = `{"model":"priced","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var budgetErrors int
	for range 200 {
		wg.Go(func() {
			resp := post(t, g.url+"/v1/chat/completions", key, body)
			defer resp.Body.Close()
			var e struct {
				Error struct{ Type, Message string }
			}
			_ = json.NewDecoder(resp.Body).Decode(&e)
			mu.Lock()
			defer mu.Unlock()
			statuses[resp.StatusCode]++
			if e.Error.Type == "budget_exceeded" && strings.Contains(e.Error.Message, "Budget has been exceeded!") {
				budgetErrors++
			}
		})
	}
	wg.Wait()
	if statuses[200] != 10 || statuses[400] != 190 || budgetErrors != 190 {
		t.Fatalf("statuses %v (%d budget_exceeded), want 10 × 200 and 190 × 400 budget_exceeded", statuses, budgetErrors)
	}
	var spend float64
	for deadline := time.Now().Add(5 * time.Second); spend != 0.2 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var info struct{ Info struct{ Spend float64 } }
		g.getJSON(t, "/key/info", key, &info)
		spend = info.Info.Spend
	}
	if spend != 0.2 {
		t.Fatalf("ledger spend %v, want exactly the budget 0.2", spend)
	}

	// A team's limit holds for all its keys; a blocked end user is refused.
	resp := post(t, g.url+"/team/new", masterKey, `{"team_id":"t1","rpm_limit":1}`)
	resp.Body.Close()
	member := generate(`{"team_id":"t1"}`)
	for i, want := range []int{200, 429} {
		resp := post(t, g.url+"/v1/chat/completions", member, body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || want == 429 && !strings.Contains(string(b), "team t1") {
			t.Fatalf("team request %d: %d %s, want %d", i+1, resp.StatusCode, b, want)
		}
	}
	resp = post(t, g.url+"/customer/block", masterKey, `{"user_ids":["mallory"]}`)
	resp.Body.Close()
	resp = post(t, g.url+"/v1/chat/completions", generate(`{}`), `{"model":"priced","user":"mallory","messages":[{"role":"user","content":"hi"}]}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "end_user_blocked") {
		t.Fatalf("blocked end user: %d %s", resp.StatusCode, b)
	}
}

// TestBudgetReset: a key whose budget_duration period has ended has its spend
// reset by the periodic job (PROXY_BUDGET_RESCHEDULER_MIN_TIME, seconds).
func TestBudgetReset(t *testing.T) {
	cfg := `model_list:
  - model_name: priced
    litellm_params: {model: mock/priced, mock_prompt_tokens: 10, mock_completion_tokens: 5, input_cost_per_token: 0.001, output_cost_per_token: 0.002}
general_settings:
  master_key: ` + masterKey + "\n"
	g := start(t, cfg, nil, "PROXY_BUDGET_RESCHEDULER_MIN_TIME=0.2")
	key := g.newKey(t, `{"max_budget":10,"budget_duration":"2s"}`)
	resp := post(t, g.url+"/v1/chat/completions", key, `{"model":"priced","messages":[{"role":"user","content":"hi"}]}`)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("request: %d", resp.StatusCode)
	}
	// The spend is in the key once its ledger row is (the same
	// transaction); from then on, spend 0 means a reset ran. Polling for
	// spend > 0 instead can miss it on a busy machine: the window between
	// the write and the next 2 s boundary may be a few milliseconds.
	rowSeen, reset := false, false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !reset; time.Sleep(50 * time.Millisecond) {
		if !rowSeen {
			var rows []json.RawMessage
			g.getJSON(t, "/spend/logs?api_key="+key, masterKey, &rows)
			rowSeen = len(rows) == 1
			continue
		}
		var info struct{ Info struct{ Spend float64 } }
		g.getJSON(t, "/key/info", key, &info)
		reset = info.Info.Spend == 0
	}
	if !rowSeen || !reset {
		t.Fatalf("ledger row written %v, then spend reset %v (want both within the 2 s period + the job interval)", rowSeen, reset)
	}
}
