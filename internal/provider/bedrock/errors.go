package bedrock

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Bedrock names its errors: the x-amzn-ErrorType header
// ("ThrottlingException:http://internal.amazon.com/coral/..."), or the
// body's "__type" ("com.amazon.coral.service#UnrecognizedClientException"),
// with the text in "message" (or "Message"). In a stream, exception frames
// carry the name in :exception-type, in lower camel case.

// exceptionClass is how one exception is presented to the client.
type exceptionClass struct {
	status    int
	code      string
	retryable bool
}

var exceptions = map[string]exceptionClass{
	"validationexception":                 {400, "", false},
	"accessdeniedexception":               {403, "", false},
	"resourcenotfoundexception":           {404, "model_not_found", false},
	"modeltimeoutexception":               {504, "timeout", true},
	"conflictexception":                   {409, "", true},
	"modelerrorexception":                 {502, "", true},
	"modelstreamerrorexception":           {502, "", true},
	"throttlingexception":                 {429, "rate_limit_exceeded", true},
	"modelnotreadyexception":              {429, "rate_limit_exceeded", true},
	"servicequotaexceededexception":       {429, "rate_limit_exceeded", true},
	"toomanyrequestsexception":            {429, "rate_limit_exceeded", true},
	"internalserverexception":             {500, "", true},
	"internalfailure":                     {500, "", true},
	"serviceunavailableexception":         {503, "", true},
	"serviceunavailable":                  {503, "", true},
	"unrecognizedclientexception":         {401, "invalid_api_key", false},
	"invalidsignatureexception":           {401, "invalid_api_key", false},
	"incompletesignatureexception":        {401, "invalid_api_key", false},
	"missingauthenticationtoken":          {401, "invalid_api_key", false},
	"missingauthenticationtokenexception": {401, "invalid_api_key", false},
	"invalidclienttokenid":                {401, "invalid_api_key", false},
	"signaturedoesnotmatch":               {401, "invalid_api_key", false},
	"expiredtokenexception":               {401, "invalid_api_key", true},
	"expiredtoken":                        {401, "invalid_api_key", true},
}

// DecodeError implements provider.Codec.
func (Codec) DecodeError(c *provider.Call, status int, resp *upstream.Response, body []byte) *provider.Error {
	name := errorName(resp.Header("X-Amzn-ErrorType"))
	msg, bodyName := errorBody(body)
	if name == "" {
		name = bodyName
	}
	e := classify(c, status, name, msg)
	e.MayHaveBeenSent = true
	return e
}

// streamError is an exception frame received mid-stream.
func streamError(c *provider.Call, ev sse.Event) *provider.Error {
	msg, _ := errorBody(ev.Data)
	if string(ev.ID) == kindError {
		// Protocol errors carry their text in a header, not JSON.
		msg = string(ev.Data)
	}
	e := classify(c, 0, string(ev.Name), msg)
	e.MayHaveBeenSent = true
	return e
}

// errorName cuts the exception name out of x-amzn-ErrorType or __type.
func errorName(v []byte) string {
	if i := bytes.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	if i := bytes.LastIndexByte(v, '#'); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(string(v))
}

func errorBody(body []byte) (msg, name string) {
	var original string
	it := rawjson.Members(body)
	for it.Next() {
		switch string(it.Name()) {
		case "message", "Message":
			if v := it.Value(); rawjson.IsString(v) && msg == "" {
				msg = string(rawjson.AppendUnquote(nil, v))
			}
		case "__type":
			if v := it.Value(); rawjson.IsString(v) {
				name = errorName(rawjson.AppendUnquote(nil, v))
			}
		case "originalMessage":
			// modelStreamErrorException: what the model itself said.
			if v := it.Value(); rawjson.IsString(v) {
				original = string(rawjson.AppendUnquote(nil, v))
			}
		}
	}
	if original != "" {
		msg += " (model: " + original + ")"
	}
	return msg, name
}

// classify maps an exception (and the HTTP status, 0 in a stream) to the
// client's error. Unknown names fall back to the status.
func classify(c *provider.Call, status int, name, msg string) *provider.Error {
	cls, known := exceptions[strings.ToLower(name)]
	if !known {
		cls = exceptionClass{status: status, retryable: provider.RetryableStatus(status)}
		switch {
		case status == 0:
			cls = exceptionClass{502, "", false}
		case status == 401 || status == 403 && isSignatureProblem(msg):
			cls = exceptionClass{401, "invalid_api_key", false}
		case status < 400:
			// Redirects are not followed (they could lead credentials elsewhere).
			cls = exceptionClass{502, "", true}
		case status == 408:
			cls = exceptionClass{504, "timeout", true}
		case status == 424:
			cls = exceptionClass{502, "", true}
		}
	}
	e := &provider.Error{Status: cls.status, Type: provider.TypeForStatus(cls.status), Code: cls.code, Retryable: cls.retryable}
	if cls.status == 401 {
		e.Type = "authentication_error"
		if strings.Contains(strings.ToLower(name), "expired") {
			// Cached temporary credentials outlived their welcome: fetch
			// new ones for the next attempt.
			if s, ok := c.Deployment.Signer.(*signer); ok {
				s.invalidate()
			}
		}
	}
	switch {
	case cls.status == 400 && isContextWindow(msg):
		e.Code = "context_length_exceeded"
	case cls.status == 400 && isContentPolicy(msg):
		e.Code = "content_policy_violation"
	}
	if msg == "" {
		msg = name
		if msg == "" {
			msg = fmt.Sprintf("upstream answered HTTP %d", status)
		}
	} else if name != "" && cls.status >= 500 {
		msg = name + ": " + msg
	}
	e.Message = c.Deployment.Provider + ": " + provider.Redact(msg, c.Deployment.APIKey)
	return e
}

func isContextWindow(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"input is too long", "too many input tokens", "prompt is too long", "context window", "maximum context length", "too many tokens", "input length and `max_tokens` exceed context limit"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func isContentPolicy(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"content filter", "blocked by our content", "content policy", "harmful content"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func isSignatureProblem(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "signature") || strings.Contains(m, "security token") || strings.Contains(m, "credential")
}
