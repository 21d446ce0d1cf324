package messages

import (
	"encoding/json"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// ErrorType is Anthropic's error type for an HTTP status. Anthropic's SDKs
// pick their error class from the status; the type is for people and for
// clients that switch on it, so it follows Anthropic's own table.
func ErrorType(status int) string {
	switch {
	case status == 400 || status == 422:
		return "invalid_request_error"
	case status == 401:
		return "authentication_error"
	case status == 402:
		return "billing_error"
	case status == 403:
		return "permission_error"
	case status == 404:
		return "not_found_error"
	case status == 408 || status == 504:
		return "timeout_error"
	case status == 413:
		return "request_too_large"
	case status == 429:
		return "rate_limit_error"
	case status == 503 || status == 529:
		return "overloaded_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// typeFromOpenAI maps the type (and code) of an OpenAI error that arrived
// without a status — a mid-stream error event — to Anthropic's type.
func typeFromOpenAI(typ, code string) string {
	t := strings.ToLower(typ + " " + code)
	switch {
	case strings.Contains(t, "rate_limit") || strings.Contains(t, "insufficient_quota"):
		return "rate_limit_error"
	case strings.Contains(t, "overloaded") || strings.Contains(t, "service_unavailable"):
		return "overloaded_error"
	case strings.Contains(t, "timeout"):
		return "timeout_error"
	case strings.Contains(t, "auth"):
		return "authentication_error"
	case strings.Contains(t, "permission"):
		return "permission_error"
	case strings.Contains(t, "not_found"):
		return "not_found_error"
	case strings.Contains(t, "invalid_request"):
		return "invalid_request_error"
	}
	return "api_error"
}

// AppendError appends Anthropic's error body:
// {"type":"error","error":{"type":…,"message":…}}.
func AppendError(dst []byte, typ, message string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = openai.AppendString(dst, typ)
	dst = append(dst, `,"message":`...)
	dst = openai.AppendString(dst, message)
	return append(dst, "}}"...)
}

// openAIError reads an OpenAI error envelope's message, type and code. It
// also takes the bare {"error":"text"} some servers send; ok is false when
// raw holds no error at all.
func openAIError(raw json.RawMessage) (message, typ, code string, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", "", "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, "", "", true
	}
	var e struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return string(raw), "", "", true
	}
	code = string(e.Code)
	if len(code) >= 2 && code[0] == '"' {
		_ = json.Unmarshal(e.Code, &code)
	} else if code == "null" {
		code = ""
	}
	return e.Message, e.Type, code, true
}

// ErrorFromOpenAI converts an OpenAI error body answered with status into
// Anthropic's error body.
func ErrorFromOpenAI(status int, body []byte) []byte {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &env) == nil {
		msg, _, _, _ = openAIError(env.Error)
	}
	if msg == "" {
		msg = "upstream error"
	}
	return AppendError(nil, ErrorType(status), msg)
}
