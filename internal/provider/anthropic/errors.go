package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// apiError is Anthropic's error body:
// {"type":"error","error":{"type":…,"message":…},"request_id":"req_…"}.
type apiError struct {
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Details *struct {
			ErrorCode string `json:"error_code"`
		} `json:"details"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// statusOfType is the HTTP status Anthropic documents for each error type;
// errors inside a stream carry only the type.
func statusOfType(t string) int {
	switch t {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "billing_error":
		return http.StatusPaymentRequired
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return statusOverloaded
	}
	return http.StatusInternalServerError
}

// statusOverloaded is Anthropic's own status for "overloaded_error".
const statusOverloaded = 529

// DecodeError implements provider.Codec.
func (Codec) DecodeError(c *provider.Call, status int, resp *upstream.Response, body []byte) *provider.Error {
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	errType, msg, code := "", "", ""
	if ae.Error != nil {
		errType, msg = ae.Error.Type, ae.Error.Message
		if ae.Error.Details != nil {
			code = ae.Error.Details.ErrorCode
		}
	}
	e := classify(c, status, errType, msg)
	requestID := ae.RequestID
	if resp != nil {
		if v := resp.Header("request-id"); len(v) > 0 {
			requestID = string(v)
		}
		// Anthropic says itself whether a retry can help.
		switch string(resp.Header("x-should-retry")) {
		case "true":
			e.Retryable = true
		case "false":
			e.Retryable = false
		}
	}
	if code == "enforced_spend_limit_reached" {
		e.Retryable = false // the workspace is out of budget until someone raises it
	}
	e.MayHaveBeenSent = true
	e.Cause = fmt.Errorf("anthropic answered HTTP %d (%s), request-id %q", status, errType, requestID)
	return e
}

// classify maps an Anthropic error (status and type) to the client's
// OpenAI error: the status and type LiteLLM would give, and the codes the
// router and clients act on.
func classify(c *provider.Call, status int, errType, msg string) *provider.Error {
	out := status
	switch {
	case status == statusOverloaded || errType == "overloaded_error":
		out = http.StatusServiceUnavailable
	case status < 400:
		out = http.StatusBadGateway // redirects are not followed
	}
	e := &provider.Error{Status: out, Type: provider.TypeForStatus(out), Retryable: provider.RetryableStatus(status)}
	low := strings.ToLower(msg)
	switch {
	case out == http.StatusServiceUnavailable:
		e.Code, e.Retryable = "overloaded", true
	case isContextWindow(low):
		e.Code = "context_length_exceeded"
	case strings.Contains(low, "content filtering policy") || strings.Contains(low, "content policy"):
		e.Code = "content_policy_violation"
	case out == http.StatusUnauthorized:
		e.Code = "invalid_api_key"
	case out == http.StatusPaymentRequired:
		e.Type, e.Code = "insufficient_quota", "insufficient_quota"
	case out == http.StatusNotFound && strings.Contains(low, "model"):
		e.Code = "model_not_found"
	case out == http.StatusRequestEntityTooLarge:
		e.Code = "request_too_large"
	case out == http.StatusTooManyRequests:
		e.Code = "rate_limit_exceeded"
	case out == http.StatusGatewayTimeout:
		e.Code = "timeout"
	}
	if msg == "" {
		msg = fmt.Sprintf("upstream answered HTTP %d %s", status, http.StatusText(status))
		if errType != "" {
			msg += " (" + errType + ")"
		}
	}
	e.Message = "anthropic: " + provider.Redact(msg, c.Deployment.APIKey)
	return e
}

// isContextWindow recognises Anthropic's context overflow messages:
// "prompt is too long: 208310 tokens > 200000 maximum" and "input length
// and `max_tokens` exceed context limit: …".
func isContextWindow(low string) bool {
	return strings.Contains(low, "prompt is too long") || strings.Contains(low, "exceed context limit") ||
		strings.Contains(low, "context window") || strings.Contains(low, "context length")
}

// eventError is an error that arrived inside a 200: an SSE "error" event
// or an error body. obj is its "error" member.
func eventError(c *provider.Call, obj []byte) *provider.Error {
	var errType, msg string
	var v struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(obj, &v) == nil {
		errType, msg = v.Type, v.Message
	}
	e := classify(c, statusOfType(errType), errType, msg)
	e.MayHaveBeenSent = true
	return e
}
