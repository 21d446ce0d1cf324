package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// The AWS SDK's own signer is the oracle: for the same request, time and
// credentials, both must produce the same Authorization header.
func TestSignerMatchesSDK(t *testing.T) {
	at := time.Date(2025, 3, 10, 12, 34, 56, 0, time.UTC)
	for _, tc := range []struct {
		name, url, host string
		token           string
		body            string
		extra           [][2]string
	}{
		{name: "model id with colon", url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", body: `{"messages":[]}`},
		{name: "inference profile ARN", url: "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Aapplication-inference-profile%2Fabc/converse-stream", body: `{}`},
		{name: "session token", url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke", token: "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH", body: `{"inputText":"hi"}`},
		{name: "port and query", url: "http://127.0.0.1:8443/prefix/model/m%3A1/converse?b=2&a=1&a=0&sp=a%20b", body: "x"},
		{name: "host override", url: "http://127.0.0.1:9/model/m/converse", host: "bedrock-runtime.us-west-2.amazonaws.com", body: ""},
		{name: "unsigned extra headers", url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", body: "{}", extra: [][2]string{{"X-Team", "search"}, {"Accept", "application/json"}}},
		{name: "x-amz header with spaces", url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", body: "{}", extra: [][2]string{{"X-Amz-Meta-Note", "  a   b  "}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: tc.token}
			s := newSigner("us-east-1", "bedrock", staticCredentials(creds))
			s.now = func() time.Time { return at }
			req := &upstream.Request{URL: tc.url, Host: tc.host, Body: []byte(tc.body), Header: [][2]string{{"Content-Type", "application/json"}}}
			req.Header = append(req.Header, tc.extra...)
			if err := s.Sign(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			got := header(req.Header, "Authorization")

			hr, err := http.NewRequest(http.MethodPost, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			hr.Host = tc.host
			for _, h := range req.Header {
				n := strings.ToLower(h[0])
				if n == "content-type" || strings.HasPrefix(n, "x-amz-") && n != "x-amz-date" && n != "x-amz-security-token" {
					hr.Header.Add(h[0], h[1])
				}
			}
			sum := sha256.Sum256([]byte(tc.body))
			err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
				hr, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", at)
			if err != nil {
				t.Fatal(err)
			}
			if want := hr.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
			if d := header(req.Header, "X-Amz-Date"); d != hr.Header.Get("X-Amz-Date") {
				t.Errorf("X-Amz-Date = %q, SDK %q", d, hr.Header.Get("X-Amz-Date"))
			}
			if tk := header(req.Header, "X-Amz-Security-Token"); tk != tc.token {
				t.Errorf("X-Amz-Security-Token = %q, want %q", tk, tc.token)
			}
		})
	}
}

// The worked example of AWS's "Create a signed AWS API request" guide
// (IAM ListUsers, 2015-08-30), independent of the SDK.
func TestSignerKnownVector(t *testing.T) {
	s := newSigner("us-east-1", "iam", staticCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	headers := [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"X-Amz-Date", "20150830T123600Z"}}
	got := s.authorization(Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, at,
		"GET", "iam.amazonaws.com", "/", "Action=ListUsers&Version=2010-05-08", headers, payloadHash(nil))
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Non-S3 services sign the path escaped twice: a model version's ':' is
// sent as %3A and signed as %253A.
func TestCanonicalURIDoubleEscaped(t *testing.T) {
	canon, _ := canonicalRequest("POST", "h", "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse", "", nil, "e3b0")
	if !strings.Contains(string(canon), "\n/model/us.anthropic.claude-3-7-sonnet-20250219-v1%253A0/converse\n") {
		t.Errorf("canonical request:\n%s", canon)
	}
}

// An Authorization header from extra_headers is left alone, as LiteLLM does.
func TestSignerKeepsExplicitAuthorization(t *testing.T) {
	s := newSigner("us-east-1", "bedrock", staticCredentials{AccessKeyID: "AKID", SecretAccessKey: "secret"})
	req := &upstream.Request{URL: "https://h/model/m/converse", Header: [][2]string{{"Authorization", "Bearer mine"}}}
	if err := s.Sign(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if len(req.Header) != 1 || req.Header[0][1] != "Bearer mine" {
		t.Errorf("headers = %v", req.Header)
	}
}

func header(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

// verifySigV4 checks a received request's signature the way AWS would:
// it re-signs the signed headers with the SDK and compares.
func verifySigV4(r *http.Request, body []byte, secret string) error {
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
	if len(scope) != 5 {
		return fmt.Errorf("bad Authorization %q", auth)
	}
	at, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	check, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.EscapedPath(), nil)
	if err != nil {
		return err
	}
	if r.URL.RawQuery != "" {
		check.URL.RawQuery = r.URL.RawQuery
	}
	check.Host = r.Host
	for _, name := range strings.Split(signed, ";") {
		if name != "host" && name != "x-amz-date" && name != "x-amz-security-token" {
			check.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return err
	}
	if got := check.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\n got %s\nwant %s", auth, got)
	}
	return nil
}

// A whole exchange: the request that reaches the upstream verifies, with
// the model id escaped in the path.
func TestSignedRequestVerifies(t *testing.T) {
	var mu sync.Mutex
	var verr error
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		verr, path = verifySigV4(r, body, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), r.URL.EscapedPath()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`))
	}))
	defer srv.Close()
	client := upstream.New(upstream.Options{})
	defer client.Close()
	d := &provider.Deployment{ModelName: "m", Provider: "bedrock", Model: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", APIBase: srv.URL,
		Extra: map[string]any{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_session_token": "tok/en+="}}
	if err := Prepare(d, testEnv(t, nil)); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	env := &openai.Envelope{}
	if err := openai.ParseEnvelope(body, env); err != nil {
		t.Fatal(err)
	}
	var res provider.Result
	if err := New(client).Send(context.Background(), &provider.Call{Op: provider.OpChat, Deployment: d, Body: body, Envelope: env, ClientModel: "m"}, &res); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if verr != nil {
		t.Error(verr)
	}
	if want := "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"; path != want {
		t.Errorf("path = %s, want %s", path, want)
	}
}
