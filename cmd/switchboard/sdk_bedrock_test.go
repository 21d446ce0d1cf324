package main

// The OpenAI Go SDK → the gateway binary (AWS credentials from its
// environment) → a fake Bedrock runtime that checks the SigV4 signature
// as AWS would and answers ConverseStream in real event stream framing.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/openai/openai-go/v3"
)

const (
	bedrockAccessKey    = "AKIAE2EBEDROCKEXAMPLE"
	bedrockSecretKey    = "e2e/bedrock+secret/KEY0123456789abcdefghij"
	bedrockSessionToken = "IQoJb3JpZ2luX2VjE2ESessionToken//////////wEaCXVzLXdlc3QtMiJH"
	bedrockModel        = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
)

// fakeBedrock is a Bedrock runtime endpoint that refuses any request whose
// signature does not verify, with AWS's error shape.
type fakeBedrock struct {
	*httptest.Server
	mu       sync.Mutex
	requests []bedrockRequest
}

type bedrockRequest struct {
	path string // as sent, escaped
	body []byte
	err  error // the signature check
}

func newFakeBedrock(t *testing.T, frames [][]byte, body []byte) *fakeBedrock {
	f := &fakeBedrock{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		err := bedrockVerify(r, b)
		f.mu.Lock()
		f.requests = append(f.requests, bedrockRequest{path: r.URL.EscapedPath(), body: b, err: err})
		f.mu.Unlock()
		if err != nil {
			w.Header().Set("x-amzn-ErrorType", "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"The request signature we calculated does not match the signature you provided."}`)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/converse-stream") {
			w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
			for _, fr := range frames {
				_, _ = w.Write(fr)
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBedrock) received() []bedrockRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bedrockRequest(nil), f.requests...)
}

// bedrockVerify re-signs the request's signed headers with the AWS SDK
// and compares, as AWS does (the secret is known to the fake).
func bedrockVerify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	var cred, signed string
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] != bedrockAccessKey || scope[2] != "us-west-2" || scope[3] != "bedrock" {
		return fmt.Errorf("unexpected credential scope in %q", auth)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("request time %v is too far from now", at)
	}
	check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.EscapedPath(), nil)
	check.Host = r.Host
	for _, name := range strings.Split(signed, ";") {
		if name != "host" && name != "x-amz-date" && name != "x-amz-security-token" {
			check.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: bedrockAccessKey, SecretAccessKey: bedrockSecretKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(sum[:]), "bedrock", "us-west-2", at); err != nil {
		return err
	}
	if want := check.Header.Get("Authorization"); want != auth {
		return fmt.Errorf("signature mismatch:\n got %s\nwant %s", auth, want)
	}
	if r.Header.Get("X-Amz-Security-Token") != bedrockSessionToken {
		return fmt.Errorf("session token %q", r.Header.Get("X-Amz-Security-Token"))
	}
	return nil
}

// bedrockFrames encodes Converse stream events with the AWS SDK's encoder.
func bedrockFrames(t *testing.T, events ...[2]string) [][]byte {
	enc := eventstream.NewEncoder()
	var out [][]byte
	for _, e := range events {
		var buf bytes.Buffer
		err := enc.Encode(&buf, eventstream.Message{Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(e[0])},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		}, Payload: []byte(e[1])})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

func bedrockConfig(apiBase string) string {
	return fmt.Sprintf(`model_list:
  - model_name: claude-bedrock
    litellm_params:
      model: bedrock/%s
      aws_region_name: us-west-2
      api_base: %s
general_settings:
  master_key: %s
`, bedrockModel, apiBase, masterKey)
}

var bedrockWeatherTool = openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Get the current weather in a given location"),
	Parameters: openai.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
		"required":   []string{"location"},
	},
})

func TestBedrockStreamToolCallThroughSDK(t *testing.T) {
	frames := bedrockFrames(t,
		[2]string{"messageStart", `{"p":"abcdefghijklmn","role":"assistant"}`},
		[2]string{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Let me check "},"p":"abcdefghijklmnopqrstu"}`},
		[2]string{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"the weather."},"p":"abcdefghijkl"}`},
		[2]string{"contentBlockStop", `{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvw"}`},
		[2]string{"contentBlockStart", `{"contentBlockIndex":1,"p":"abcdefghij","start":{"toolUse":{"name":"get_weather","toolUseId":"tooluse_Z2y9gCsGQJ6H1g0Nbq7W5A"}}}`},
		[2]string{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":""}},"p":"abcdefghijklmnop"}`},
		[2]string{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"location\": \"Paris, Fr"}},"p":"abcdefghijklmnopqrstuvwxyz"}`},
		[2]string{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"ance\"}"}},"p":"abcdefg"}`},
		[2]string{"contentBlockStop", `{"contentBlockIndex":1,"p":"abcdefghijklmnopqrstuvwxyzABCD"}`},
		[2]string{"messageStop", `{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ","stopReason":"tool_use"}`},
		[2]string{"metadata", `{"metrics":{"latencyMs":1544},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW","usage":{"cacheReadInputTokens":1000,"cacheWriteInputTokens":0,"inputTokens":412,"outputTokens":73,"totalTokens":1485}}`},
	)
	up := newFakeBedrock(t, frames, nil)
	g := start(t, bedrockConfig(up.URL), nil,
		"AWS_ACCESS_KEY_ID="+bedrockAccessKey, "AWS_SECRET_ACCESS_KEY="+bedrockSecretKey, "AWS_SESSION_TOKEN="+bedrockSessionToken,
		"AWS_BEARER_TOKEN_BEDROCK=", "AWS_PROFILE=", "AWS_REGION=eu-central-1")
	c := g.client(masterKey)

	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "claude-bedrock",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are terse."), openai.UserMessage("Weather in Paris?")},
		Tools:         []openai.ChatCompletionToolUnionParam{bedrockWeatherTool},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	var finished []openai.FinishedChatCompletionToolCall
	var ids []string
	for s.Next() {
		chunk := s.Current()
		ids = append(ids, chunk.ID)
		acc.AddChunk(chunk)
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}

	reqs := up.received()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	if reqs[0].err != nil {
		t.Fatalf("signature: %v", reqs[0].err)
	}
	if want := "/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse-stream"; reqs[0].path != want {
		t.Errorf("path %s, want %s", reqs[0].path, want)
	}
	var sent struct {
		System     []map[string]any `json:"system"`
		Messages   []map[string]any `json:"messages"`
		ToolConfig struct {
			Tools []struct {
				ToolSpec struct {
					Name        string `json:"name"`
					InputSchema struct {
						JSON map[string]any `json:"json"`
					} `json:"inputSchema"`
				} `json:"toolSpec"`
			} `json:"tools"`
		} `json:"toolConfig"`
	}
	if err := json.Unmarshal(reqs[0].body, &sent); err != nil || len(sent.System) != 1 || sent.System[0]["text"] != "You are terse." || len(sent.Messages) != 1 ||
		len(sent.ToolConfig.Tools) != 1 || sent.ToolConfig.Tools[0].ToolSpec.Name != "get_weather" || sent.ToolConfig.Tools[0].ToolSpec.InputSchema.JSON["type"] != "object" {
		t.Errorf("Converse request %s (%v)", reqs[0].body, err)
	}

	if len(acc.Choices) != 1 {
		t.Fatalf("accumulated %+v", acc.ChatCompletion)
	}
	ch := acc.Choices[0]
	if ch.Message.Content != "Let me check the weather." || ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("choice %+v", ch)
	}
	tc := ch.Message.ToolCalls[0]
	if tc.ID != "tooluse_Z2y9gCsGQJ6H1g0Nbq7W5A" || tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"location": "Paris, France"}` {
		t.Errorf("tool call %+v", tc)
	}
	if len(finished) != 1 || finished[0].Index != 0 || finished[0].Name != "get_weather" {
		t.Errorf("finished tool calls %+v", finished)
	}
	if acc.Model != "claude-bedrock" || !strings.HasPrefix(acc.ID, "chatcmpl-") {
		t.Errorf("model %q id %q", acc.Model, acc.ID)
	}
	for _, id := range ids {
		if id != acc.ID {
			t.Errorf("chunk ids vary: %q", ids)
			break
		}
	}
	// Bedrock's inputTokens leaves out cache reads; prompt_tokens has them.
	u := acc.Usage
	if u.PromptTokens != 1412 || u.PromptTokensDetails.CachedTokens != 1000 || u.CompletionTokens != 73 || u.TotalTokens != 1485 {
		t.Errorf("usage %+v", u)
	}
}

func TestBedrockChatAndSignatureFailureThroughSDK(t *testing.T) {
	up := newFakeBedrock(t, nil, []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"Bonjour !"}]}},"stopReason":"end_turn","usage":{"inputTokens":11,"outputTokens":4,"totalTokens":15},"metrics":{"latencyMs":310}}`))
	env := []string{"AWS_ACCESS_KEY_ID=" + bedrockAccessKey, "AWS_SESSION_TOKEN=" + bedrockSessionToken, "AWS_BEARER_TOKEN_BEDROCK=", "AWS_PROFILE="}
	g := start(t, bedrockConfig(up.URL), nil, append(env, "AWS_SECRET_ACCESS_KEY="+bedrockSecretKey)...)
	c := g.client(masterKey)
	params := openai.ChatCompletionNewParams{Model: "claude-bedrock", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in French")}}
	res, err := c.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "Bonjour !" || res.Choices[0].FinishReason != "stop" || res.Usage.TotalTokens != 15 || res.Model != "claude-bedrock" {
		t.Errorf("answer %+v", res)
	}
	if r := up.received(); len(r) != 1 || r[0].err != nil || r[0].path != "/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse" {
		t.Fatalf("upstream saw %+v", r)
	}

	// A gateway holding the wrong secret is refused by AWS: the client
	// gets an authentication error that names no secret.
	g2 := start(t, bedrockConfig(up.URL), nil, append(env, "AWS_SECRET_ACCESS_KEY=wrong/secret/value/0000000000000000000000")...)
	c2 := g2.client(masterKey)
	_, err = c2.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || !strings.Contains(apiErr.Message, "signature") || strings.Contains(apiErr.RawJSON(), "wrong/secret") {
		t.Fatalf("err = %v", err)
	}
	for _, logs := range []string{g.logs.String(), g2.logs.String()} {
		if strings.Contains(logs, bedrockSecretKey) || strings.Contains(logs, "wrong/secret") || strings.Contains(logs, bedrockSessionToken) {
			t.Errorf("a secret reached the logs:\n%s", logs)
		}
	}
}
