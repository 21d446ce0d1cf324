package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// rpcStatus is google.rpc.Status, the body of every Google API error:
// {"error":{"code":429,"message":…,"status":"RESOURCE_EXHAUSTED","details":[…]}}.
// Vertex sometimes wraps it in a one-element array.
type rpcStatus struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Status  string      `json:"status"`
	Details []rpcDetail `json:"details"`
}

// rpcDetail holds the members of the detail types that matter here:
// google.rpc.ErrorInfo (reason) and google.rpc.RetryInfo (retryDelay).
type rpcDetail struct {
	Type       string `json:"@type"`
	Reason     string `json:"reason"`
	RetryDelay string `json:"retryDelay"`
}

// DecodeError implements provider.Codec.
func (Codec) DecodeError(c *provider.Call, status int, _ *upstream.Response, body []byte) *provider.Error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) == nil && len(list) > 0 {
			b = list[0]
		}
	}
	_ = json.Unmarshal(b, &env)
	return statusError(c, status, env.Error, false)
}

// statusError classifies a google.rpc.Status (raw; nil when the body had
// none). status is the HTTP status, 0 for an error found in a 200 body or
// stream, which then takes its status from the error itself.
func statusError(c *provider.Call, status int, raw []byte, in200 bool) *provider.Error {
	var st rpcStatus
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &st)
	}
	if status == 0 {
		status = st.Code
		if status < 400 || status > 599 {
			status = httpStatus(st.Status)
		}
	}
	if status < 400 {
		// Redirects are not followed: they could carry credentials elsewhere.
		status = http.StatusBadGateway
	}
	e := &provider.Error{Status: status, MayHaveBeenSent: true}
	for _, d := range st.Details {
		switch {
		case d.Reason == "API_KEY_INVALID" || d.Reason == "API_KEY_EXPIRED":
			// Google answers a bad key with 400 INVALID_ARGUMENT.
			e.Status = http.StatusUnauthorized
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				e.RetryAfter = dur
			}
		}
	}
	if st.Status == "UNAUTHENTICATED" {
		e.Status = http.StatusUnauthorized
	}
	e.Type = provider.TypeForStatus(e.Status)
	e.Retryable = provider.RetryableStatus(e.Status)
	msg := strings.TrimSpace(st.Message)
	if msg == "" {
		msg = fmt.Sprintf("upstream answered HTTP %d", status)
	}
	switch {
	case e.Status == http.StatusBadRequest && isContextWindowError(msg):
		e.Code = "context_length_exceeded"
	case e.Status == http.StatusUnauthorized:
		e.Code = "invalid_api_key"
	case e.Status == http.StatusNotFound:
		e.Code = "model_not_found"
	case e.Status == http.StatusTooManyRequests:
		e.Code = "rate_limit_exceeded"
	case e.Status == http.StatusGatewayTimeout:
		e.Code = "timeout"
	}
	if in200 && e.Type == "invalid_request_error" {
		// An error inside a successful answer is the upstream's failure.
		e.Type = "api_error"
	}
	e.Message = c.Deployment.Provider + ": " + provider.Redact(msg, c.Deployment.APIKey)
	return e
}

// httpStatus maps a google.rpc.Code name to its HTTP status.
func httpStatus(code string) int {
	switch code {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return http.StatusBadRequest
	case "UNAUTHENTICATED":
		return http.StatusUnauthorized
	case "PERMISSION_DENIED":
		return http.StatusForbidden
	case "NOT_FOUND":
		return http.StatusNotFound
	case "ABORTED", "ALREADY_EXISTS":
		return http.StatusConflict
	case "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "UNIMPLEMENTED":
		return http.StatusNotImplemented
	case "UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "DEADLINE_EXCEEDED":
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// isContextWindowError recognises Gemini's "The input token count (N)
// exceeds the maximum number of tokens allowed (M)."
func isContextWindowError(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "exceeds the maximum number of tokens") ||
		strings.Contains(m, "input token count") && strings.Contains(m, "exceeds") ||
		strings.Contains(m, "context window")
}
