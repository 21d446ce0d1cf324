package bedrock

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

func testDeployment(t testing.TB, model string, extra map[string]any) *provider.Deployment {
	t.Helper()
	e := map[string]any{"aws_region_name": "us-east-1", "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "secret"}
	for k, v := range extra {
		e[k] = v
	}
	d := &provider.Deployment{ModelName: "m", Provider: "bedrock", Model: model, Extra: e}
	if err := Prepare(d, testEnv(t, nil)); err != nil {
		t.Fatal(err)
	}
	return d
}

func testCall(t testing.TB, d *provider.Deployment, op provider.Op, body string) *provider.Call {
	t.Helper()
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope([]byte(body), env); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return &provider.Call{Op: op, Deployment: d, Body: []byte(body), Envelope: env, ClientModel: "m"}
}

// Requests Bedrock could only refuse are refused here, before anything is
// sent, with a 400 naming what is wrong. (Golden cases cannot show these:
// the harness expects every case to reach the upstream.)
func TestBuildRequestRefuses(t *testing.T) {
	claude := testDeployment(t, "anthropic.claude-3-5-sonnet-20240620-v1:0", nil)
	llama := testDeployment(t, "meta.llama3-1-70b-instruct-v1:0", nil)
	titan := testDeployment(t, "amazon.titan-embed-text-v1", nil)
	user := `{"role":"user","content":"hi"}`
	for _, tc := range []struct {
		name      string
		d         *provider.Deployment
		op        provider.Op
		body      string
		param     string
		code      string
		inMessage string
	}{
		{"unsupported param", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"seed":7}`, "seed", "unsupported_parameter", "set drop_params: true"},
		{"n above one", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"n":2}`, "n", "unsupported_parameter", "one choice"},
		{"parallel tool calls off", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"parallel_tool_calls":false}`, "parallel_tool_calls", "unsupported_parameter", ""},
		{"logprobs", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"logprobs":true}`, "logprobs", "unsupported_parameter", ""},
		{"reasoning on llama", llama, provider.OpChat, `{"model":"m","messages":[` + user + `],"reasoning_effort":"high"}`, "reasoning_effort", "unsupported_parameter", ""},
		{"thinking on llama", llama, provider.OpChat, `{"model":"m","messages":[` + user + `],"thinking":{"type":"enabled","budget_tokens":1024}}`, "thinking", "unsupported_parameter", ""},
		{"bad reasoning effort", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"reasoning_effort":"max"}`, "reasoning_effort", "", ""},
		{"image URL", claude, provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`, "messages[0].content[1].image_url", "", "cannot fetch image URLs"},
		{"image type", claude, provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AAAA"}}]}]}`, "messages[0].content[0].image_url", "", "not image/tiff"},
		{"audio part", claude, provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "messages[0].content[0].type", "", "input_audio"},
		{"file id", claude, provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "messages[0].content[0].file.file_id", "", ""},
		{"non-function tool", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"tools":[{"type":"code_interpreter"}]}`, "tools[0].type", "", ""},
		{"tool arguments not JSON", claude, provider.OpChat, `{"model":"m","messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, "messages[1].tool_calls[0].function.arguments", "", ""},
		{"tool result without id", claude, provider.OpChat, `{"model":"m","messages":[` + user + `,{"role":"tool","content":"x"}]}`, "messages[1].tool_call_id", "", ""},
		{"function role", claude, provider.OpChat, `{"model":"m","messages":[` + user + `,{"role":"function","name":"f","content":"x"}]}`, "messages[1].role", "", ""},
		{"unknown role", claude, provider.OpChat, `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role", "", ""},
		{"only system", claude, provider.OpChat, `{"model":"m","messages":[{"role":"system","content":"be nice"}]}`, "messages", "", ""},
		{"image in system", claude, provider.OpChat, `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},` + user + `]}`, "messages[0].content[0]", "", ""},
		{"tool choice", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"tool_choice":"sometimes"}`, "tool_choice", "", ""},
		{"response format", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"response_format":{"type":"xml"}}`, "response_format.type", "", ""},
		{"temperature type", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"temperature":"warm"}`, "temperature", "", ""},
		{"native member type", claude, provider.OpChat, `{"model":"m","messages":[` + user + `],"additionalModelRequestFields":[1]}`, "additionalModelRequestFields", "", ""},
		{"embedding token input", titan, provider.OpEmbedding, `{"model":"m","input":[[1,2,3]]}`, "input", "", ""},
		{"embedding dimensions on v1", titan, provider.OpEmbedding, `{"model":"m","input":"x","dimensions":256}`, "dimensions", "unsupported_parameter", ""},
		{"embedding input_type on titan", titan, provider.OpEmbedding, `{"model":"m","input":"x","input_type":"search_query"}`, "input_type", "unsupported_parameter", ""},
		{"embedding user", titan, provider.OpEmbedding, `{"model":"m","input":"x","user":"u1"}`, "user", "unsupported_parameter", ""},
		{"embedding model", claude, provider.OpEmbedding, `{"model":"m","input":"x"}`, "model", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := upstream.AcquireRequest()
			defer upstream.ReleaseRequest(req)
			err := Codec{}.BuildRequest(testCall(t, tc.d, tc.op, tc.body), req)
			pe, ok := err.(*provider.Error)
			if !ok {
				t.Fatalf("err = %v, want a *provider.Error", err)
			}
			if pe.Status != 400 || pe.Type != "invalid_request_error" || pe.Param != tc.param || pe.Code != tc.code || !strings.Contains(pe.Message, tc.inMessage) {
				t.Errorf("got %d %s param=%q code=%q: %s", pe.Status, pe.Type, pe.Param, pe.Code, pe.Message)
			}
		})
	}
}

func TestBuildRequestURLs(t *testing.T) {
	for _, tc := range []struct {
		model, base, stream, want string
	}{
		{"us.anthropic.claude-3-7-sonnet-20250219-v1:0", "", "false", "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"},
		{"anthropic.claude-3-haiku-20240307-v1:0", "", "true", "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0", "", "false",
			"https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"},
		{"converse/meta.llama3-1-8b-instruct-v1:0", "https://vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com/", "false", "https://vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com/model/meta.llama3-1-8b-instruct-v1%3A0/converse"},
		{"mistral.mistral-large-2407-v1:0", "http://proxy.internal:8080/bedrock", "false", "http://proxy.internal:8080/bedrock/model/mistral.mistral-large-2407-v1%3A0/converse"},
	} {
		d := &provider.Deployment{Provider: "bedrock", Model: tc.model, APIBase: tc.base, Extra: map[string]any{"aws_region_name": "us-east-1", "aws_access_key_id": "A", "aws_secret_access_key": "S"}}
		if err := Prepare(d, testEnv(t, nil)); err != nil {
			t.Fatal(err)
		}
		req := upstream.AcquireRequest()
		if err := (Codec{}).BuildRequest(testCall(t, d, provider.OpChat, `{"model":"m","stream":`+tc.stream+`,"messages":[{"role":"user","content":"hi"}]}`), req); err != nil {
			t.Fatal(err)
		}
		if req.URL != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.model, req.URL, tc.want)
		}
		upstream.ReleaseRequest(req)
	}
}

func TestPrepareResolves(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	if err := os.WriteFile(config, []byte("[default]\nregion = ap-south-1\n[profile work]\nregion = eu-central-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = worksecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": creds}
	with := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range files {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		d       provider.Deployment
		env     map[string]string
		region  string
		url     string
		bearer  bool
		akid    string
		wantErr string
	}{
		{name: "config region and keys", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_region_name": "us-east-2", "aws_access_key_id": "AK", "aws_secret_access_key": "S"}},
			region: "us-east-2", url: "https://bedrock-runtime.us-east-2.amazonaws.com/model/a.b/converse", akid: "AK"},
		{name: "region from ARN over env", d: provider.Deployment{Model: "arn:aws:bedrock:ca-central-1:1:foundation-model/x"}, env: with(map[string]string{"AWS_REGION": "us-west-1", "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "S"}),
			region: "ca-central-1", akid: "ENVKEY"},
		{name: "AWS_REGION_NAME before AWS_REGION", d: provider.Deployment{Model: "a.b"}, env: with(map[string]string{"AWS_REGION_NAME": "sa-east-1", "AWS_REGION": "us-west-1", "AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"}), region: "sa-east-1", akid: "K"},
		{name: "profile region and keys", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_profile_name": "work"}}, env: with(nil), region: "eu-central-1", akid: "AKIAWORK"},
		{name: "AWS_PROFILE", d: provider.Deployment{Model: "a.b"}, env: with(map[string]string{"AWS_PROFILE": "work"}), region: "eu-central-1", akid: "AKIAWORK"},
		{name: "default profile region, env keys", d: provider.Deployment{Model: "a.b"}, env: with(map[string]string{"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"}), region: "ap-south-1", akid: "K"},
		{name: "fallback region", d: provider.Deployment{Model: "a.b"}, env: map[string]string{"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"}, region: "us-west-2", akid: "K"},
		{name: "runtime endpoint setting", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_bedrock_runtime_endpoint": "https://bedrock.example.com", "aws_access_key_id": "K", "aws_secret_access_key": "S"}},
			url: "https://bedrock.example.com/model/a.b/converse", region: "us-west-2", akid: "K"},
		{name: "runtime endpoint env", d: provider.Deployment{Model: "a.b"}, env: map[string]string{"AWS_BEDROCK_RUNTIME_ENDPOINT": "http://localhost:4566", "AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"},
			url: "http://localhost:4566/model/a.b/converse", region: "us-west-2", akid: "K"},
		{name: "api key", d: provider.Deployment{Model: "a.b", APIKey: "bedrock-api-key"}, region: "us-west-2", bearer: true},
		{name: "bearer env", d: provider.Deployment{Model: "a.b"}, env: map[string]string{"AWS_BEARER_TOKEN_BEDROCK": "tok"}, region: "us-west-2", bearer: true},
		{name: "half a key pair", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_access_key_id": "K"}}, wantErr: "must be given together"},
		{name: "missing profile", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_profile_name": "nope"}}, env: with(nil), wantErr: `profile "nope"`},
		{name: "bad region", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_region_name": "us east"}}, wantErr: "invalid AWS region"},
		{name: "no model", d: provider.Deployment{Model: "converse/"}, wantErr: "needs a model id"},
		{name: "non-string setting", d: provider.Deployment{Model: "a.b", Extra: map[string]any{"aws_region_name": 5}}, wantErr: "must be a string"},
		{name: "endpoint with credentials", d: provider.Deployment{Model: "a.b", APIBase: "https://user:pw@host"}, env: map[string]string{"AWS_BEARER_TOKEN_BEDROCK": "t"}, wantErr: "without credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			d.Provider = "bedrock"
			err := Prepare(&d, testEnv(t, tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := d.Private.(*prepared)
			if p.region != tc.region {
				t.Errorf("region = %q, want %q", p.region, tc.region)
			}
			if tc.url != "" && p.converse != tc.url {
				t.Errorf("url = %q, want %q", p.converse, tc.url)
			}
			if tc.bearer != (d.Signer == nil) {
				t.Errorf("bearer = %v, signer = %v", tc.bearer, d.Signer)
			}
			if tc.akid != "" {
				c, err := d.Signer.(*signer).creds.retrieve(t.Context())
				if err != nil || c.AccessKeyID != tc.akid {
					t.Errorf("credentials %v %v, want key %s", c, err, tc.akid)
				}
			}
		})
	}
}

// The native request is valid JSON for every golden request.
func TestConverseBodiesAreJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/chat_*/request.json")
	for _, f := range files {
		body, _ := os.ReadFile(f)
		d := testDeployment(t, "anthropic.claude-3-7-sonnet-20250219-v1:0", nil)
		d.DropParams = true
		req := upstream.AcquireRequest()
		if err := (Codec{}).BuildRequest(testCall(t, d, provider.OpChat, string(body)), req); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if !json.Valid(req.Body) {
			t.Errorf("%s: invalid JSON %s", f, req.Body)
		}
		upstream.ReleaseRequest(req)
	}
}
