package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is an attempt that failed, classified for the client and for the
// router's retry and fallback decisions.
type Error struct {
	Status  int    // the status the client should see
	Type    string // OpenAI error type, e.g. "rate_limit_error"
	Code    string // OpenAI error code, "" → null
	Param   string
	Message string // public: safe to show the client (credentials redacted)

	// Retryable: another attempt (here or on another deployment) may succeed.
	Retryable bool
	// RetryAfter is the upstream's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// MayHaveBeenSent: the upstream may have received and processed the request.
	MayHaveBeenSent bool
	// Cause is logged, never shown to the client.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Type, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// AsError returns err as an *Error, wrapping unknown errors as a 500.
func AsError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Status: http.StatusInternalServerError, Type: "internal_server_error", Message: "internal error", Cause: err}
}

// TypeForStatus is the OpenAI error type LiteLLM and OpenAI use for a status.
func TypeForStatus(status int) string {
	switch {
	case status == 400 || status == 413 || status == 422:
		return "invalid_request_error"
	case status == 401:
		return "authentication_error"
	case status == 403:
		return "permission_error"
	case status == 404:
		return "not_found_error"
	case status == 408 || status == 504:
		return "timeout"
	case status == 429:
		return "rate_limit_error"
	case status == 503:
		return "service_unavailable"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// RetryableStatus mirrors the official SDKs' retry rule: 408, 409, 429 and 5xx.
func RetryableStatus(status int) bool {
	return status == 408 || status == 409 || status == 429 || status >= 500
}

// Redact removes credentials from an upstream message before it is shown to
// the client: the deployment's own key, and anything shaped like an API key
// (providers echo masked or partial keys back, e.g. "Incorrect API key
// provided: sk-proj-****abcd").
func Redact(msg string, key Secret) string {
	if k := key.Reveal(); len(k) >= 8 {
		msg = strings.ReplaceAll(msg, k, "[REDACTED]")
	}
	if !strings.Contains(msg, "sk-") && !strings.Contains(msg, "key") {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		if isKeyStart(msg, i) {
			j := i
			for j < len(msg) && isKeyByte(msg[j]) {
				j++
			}
			b.WriteString("[REDACTED]")
			i = j
			continue
		}
		b.WriteByte(msg[i])
		i++
	}
	return b.String()
}

// isKeyStart reports a credential-looking token at i: sk-…, sk_…, or a long
// run of key characters such as AIza… Google keys.
func isKeyStart(s string, i int) bool {
	if i > 0 && isKeyByte(s[i-1]) {
		return false
	}
	if strings.HasPrefix(s[i:], "sk-") || strings.HasPrefix(s[i:], "sk_") || strings.HasPrefix(s[i:], "AIza") {
		return true
	}
	// A long unbroken run of letters and digits (Azure's 32-hex keys, bearer
	// tokens); hyphens break runs, so UUIDs such as request ids survive.
	n := 0
	for j := i; j < len(s) && isAlnum(s[j]); j++ {
		n++
	}
	return n >= 32
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '.'
}
