package messages

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"
)

func TestToChatRefuses(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not json", `{"model":`, "invalid request body"},
		{"no model", `{"max_tokens":5,` + msgs + `}`, "model: Field required"},
		{"no max_tokens", `{"model":"m",` + msgs + `}`, "max_tokens: Field required"},
		{"zero max_tokens", `{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens: must be"},
		{"no messages", `{"model":"m","max_tokens":5}`, "messages: Field required"},
		{"openai member", `{"model":"m","max_tokens":5,"n":2,` + msgs + `}`, "n: Extra inputs are not permitted"},
		{"case variant", `{"model":"m","max_tokens":5,"Model":"x",` + msgs + `}`, "Model: Extra inputs"},
		{"duplicate", `{"model":"m","max_tokens":5,"model":"x",` + msgs + `}`, "model: duplicate member"},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]}`, "messages.0.role"},
		{"empty user turn", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]}]}`, "at least one content block"},
		{"no content", `{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`, "messages.0.content: Field required"},
		{"tool_use from user", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}`, `"tool_use" blocks are not supported`},
		{"tool_use without id", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"b","input":{}}]}]}`, "need an id and a name"},
		{"tool_use input not object", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":[1]}]}]}`, "must be an object"},
		{"tool_result without id", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "tool_use_id: Field required"},
		{"server tool", `{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "Anthropic-specific"},
		{"nameless tool", `{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"input_schema":{}}]}`, "tools.0.name"},
		{"bad tool_choice", `{"model":"m","max_tokens":5,` + msgs + `,"tool_choice":{"type":"sometimes"}}`, "tool_choice.type"},
		{"tool choice without name", `{"model":"m","max_tokens":5,` + msgs + `,"tool_choice":{"type":"tool"}}`, "tool_choice.name"},
		{"image without source", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "source: Field required"},
		{"document url", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/y.pdf"}}]}]}`, "document sources"},
		{"system image", `{"model":"m","max_tokens":5,"system":[{"type":"image"}],` + msgs + `}`, "system.0.type"},
		{"bad thinking", `{"model":"m","max_tokens":5,"thinking":{"type":"maybe"},` + msgs + `}`, "thinking.type"},
		{"bad effort", `{"model":"m","max_tokens":5,"output_config":{"effort":"extreme"},` + msgs + `}`, "output_config.effort"},
		{"bad format", `{"model":"m","max_tokens":5,"output_config":{"format":{"type":"xml"}},` + msgs + `}`, "output_config.format"},
		{"wrong type", `{"model":"m","max_tokens":"five",` + msgs + `}`, "max_tokens: wrong type"},
	} {
		_, _, err := ToChat([]byte(tc.body), Options{})
		var re *RequestError
		if !errors.As(err, &re) || !strings.Contains(re.Message, tc.want) {
			t.Errorf("%s: err = %v, want a RequestError containing %q", tc.name, err, tc.want)
		}
	}
}

func TestThinkingToReasoningEffort(t *testing.T) {
	for thinking, want := range map[string]string{
		`{"type":"enabled","budget_tokens":1024}`:  "low",
		`{"type":"enabled","budget_tokens":5000}`:  "medium",
		`{"type":"enabled","budget_tokens":10000}`: "high",
		`{"type":"adaptive"}`:                      "medium",
		`{"type":"disabled"}`:                      "",
	} {
		out, _, err := ToChat([]byte(`{"model":"m","max_tokens":20000,"thinking":`+thinking+`,"messages":[{"role":"user","content":"hi"}]}`), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			ReasoningEffort string          `json:"reasoning_effort"`
			Thinking        json.RawMessage `json:"thinking"`
		}
		if err := json.Unmarshal(out, &got); err != nil || got.ReasoningEffort != want || got.Thinking != nil {
			t.Errorf("%s: got %s, want reasoning_effort %q and no thinking", thinking, out, want)
		}
	}
	// A Claude model gets the budget itself, not a bucket.
	out, _, _ := ToChat([]byte(`{"model":"m","max_tokens":20000,"thinking":{"type":"enabled","budget_tokens":1234},"messages":[{"role":"user","content":"hi"}]}`), Options{Claude: true})
	if !bytes.Contains(out, []byte(`"thinking":{"type":"enabled","budget_tokens":1234}`)) || bytes.Contains(out, []byte("reasoning_effort")) {
		t.Errorf("native thinking: %s", out)
	}
}

func TestThinkingOnlyTurnIsLeftOutForOtherModels(t *testing.T) {
	body := []byte(`{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"redacted_thinking","data":"xx"}]},{"role":"user","content":"b"}]}`)
	out, _, err := ToChat(body, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("assistant")) || bytes.Contains(out, []byte("xx")) {
		t.Errorf("thinking reached a non-Claude model: %s", out)
	}
	out, _, _ = ToChat(body, Options{Claude: true})
	if !bytes.Contains(out, []byte(`"thinking_blocks":[{"type":"redacted_thinking","data":"xx"}]`)) {
		t.Errorf("redacted thinking lost for a Claude model: %s", out)
	}
}

func TestLongUserIDOnlyForClaude(t *testing.T) {
	long := "user_" + strings.Repeat("ab12", 16) + "_account__session_5fe0aa83-6b9f-4e5b-a8c2-0d1c2b3a4f5e"
	body := []byte(`{"model":"m","max_tokens":5,"metadata":{"user_id":"` + long + `"},"messages":[{"role":"user","content":"hi"}]}`)
	for _, claude := range []bool{false, true} {
		out, _, err := ToChat(body, Options{Claude: claude})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(out, []byte(`"user":"`+long+`"`)); got != claude {
			t.Errorf("claude=%v: user forwarded %v: %s", claude, got, out)
		}
	}
	short, _, _ := ToChat([]byte(`{"model":"m","max_tokens":5,"metadata":{"user_id":"u-1"},"messages":[{"role":"user","content":"hi"}]}`), Options{})
	if !bytes.Contains(short, []byte(`"user":"u-1"`)) {
		t.Errorf("short user id lost: %s", short)
	}
}

func TestModel(t *testing.T) {
	for body, want := range map[string]string{
		`{"max_tokens":1,"model":"claude-x"}`: "claude-x",
		`{"model":5}`:                         "",
		`{}`:                                  "",
		`not json`:                            "",
	} {
		if got := Model([]byte(body)); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}

func TestStopReason(t *testing.T) {
	for _, tc := range []struct {
		finish string
		tools  bool
		vllm   string
		reason string
		seq    string
	}{
		{"stop", false, "", "end_turn", ""},
		{"stop", true, "", "tool_use", ""},
		{"", false, "", "end_turn", ""},
		{"length", true, "", "max_tokens", ""},
		{"tool_calls", false, "", "tool_use", ""},
		{"function_call", false, "", "tool_use", ""},
		{"content_filter", false, "", "refusal", ""},
		{"stop", false, `"###"`, "stop_sequence", "###"},
		{"stop", false, `151643`, "end_turn", ""},
		{"eos", false, "", "end_turn", ""},
	} {
		r, s := stopReason(tc.finish, tc.tools, json.RawMessage(tc.vllm))
		if r != tc.reason || s != tc.seq {
			t.Errorf("%+v: got %q %q", tc, r, s)
		}
	}
}

func TestFromChatFailures(t *testing.T) {
	for body, want := range map[string]string{
		`[]`:             "not a chat completion",
		`{"choices":[]}`: "no choices",
		`{"error":{"message":"quota","type":"x"}}`:         "quota",
		`{"error":"model overloaded","choices":[]}`:        "model overloaded",
		`{"id":"x","choices":[{"message":{"content":1}}]}`: "not a chat completion",
	} {
		_, err := FromChat([]byte(body), "m", "r")
		var ue *UpstreamError
		if !errors.As(err, &ue) || !strings.Contains(ue.Message, want) {
			t.Errorf("%s: err = %v, want %q", body, err, want)
		}
	}
	// Without ids the message and its tool calls still get stable,
	// distinct ones.
	out, err := FromChat([]byte(`{"choices":[{"message":{"tool_calls":[{"function":{"name":"a","arguments":"{}"}},{"function":{"name":"b","arguments":""}}]},"finish_reason":"tool_calls"}]}`), "m", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"msg_req-1"`, `"id":"toolu_req-1_0"`, `"id":"toolu_req-1_1"`, `"input":{}`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
}

func TestErrorShapes(t *testing.T) {
	for status, want := range map[int]string{400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
		403: "permission_error", 404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error", 418: "invalid_request_error"} {
		if got := ErrorType(status); got != want {
			t.Errorf("%d: %s, want %s", status, got, want)
		}
	}
	got := string(ErrorFromOpenAI(429, []byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)))
	if got != `{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached"}}` {
		t.Errorf("converted error %s", got)
	}
	if got := string(ErrorFromOpenAI(502, []byte(`<html>bad gateway</html>`))); got != `{"type":"error","error":{"type":"api_error","message":"upstream error"}}` {
		t.Errorf("non-JSON error %s", got)
	}
}

func TestCountInput(t *testing.T) {
	var png100x200 bytes.Buffer
	if err := png.Encode(&png100x200, image.NewGray(image.Rect(0, 0, 100, 200))); err != nil {
		t.Fatal(err)
	}
	var big bytes.Buffer
	if err := png.Encode(&big, image.NewGray(image.Rect(0, 0, 4000, 3000))); err != nil {
		t.Fatal(err)
	}
	body := `{"model":"smart","system":[{"type":"text","text":"Be brief."}],
	  "tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object"}}],
	  "messages":[
	    {"role":"user","content":[{"type":"text","text":"Look:"},
	      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + base64.StdEncoding.EncodeToString(png100x200.Bytes()) + `"}},
	      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + base64.StdEncoding.EncodeToString(big.Bytes()) + `"}},
	      {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]},
	    {"role":"assistant","content":[{"type":"thinking","thinking":"secret","signature":"s"},{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Paris"}}]},
	    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"18C"}]}]}]}`
	in, err := CountInput([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	wantText := "Be brief.\nLook:\nget_weather\n{\"city\":\"Paris\"}\n18C\nget_weather\nWeather now\n{\"type\":\"object\"}"
	if in.Model != "smart" || in.Text != wantText || in.Messages != 4 {
		t.Errorf("got %+v\nwant text %q", in, wantText)
	}
	// 100×200/750 = 26.7; 4000×3000 scales to 1568×1176 then to ~1.15 MP,
	// 1534; the URL image counts as the largest.
	if want := 27 + 1534 + 1600; in.ImageTokens != want {
		t.Errorf("image tokens %d, want %d", in.ImageTokens, want)
	}
	if got := in.Tokens(100); got != 100+3*4+3+in.ImageTokens {
		t.Errorf("Tokens = %d", got)
	}
	if _, err := CountInput([]byte(`{"messages":[]}`)); err == nil {
		t.Error("a request without a model was counted")
	}
}
