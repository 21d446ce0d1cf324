package cohere

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// errorBody is every error Cohere documents: {"message"} or {"id","message"}.
type errorBody struct {
	Message string `json:"message"`
}

// DecodeError implements provider.Codec.
func (Codec) DecodeError(c *provider.Call, status int, _ *upstream.Response, body []byte) *provider.Error {
	var eb errorBody
	msg := ""
	if json.Unmarshal(body, &eb) == nil {
		msg = eb.Message
	}
	if msg == "" {
		// An HTML page from a proxy, or nothing: the status says it all.
		msg = "upstream answered HTTP " + strconv.Itoa(status)
	}
	e := classify(status, msg)
	e.Message = "cohere: " + provider.Redact(msg, c.Deployment.APIKey)
	e.MayHaveBeenSent = true
	return e
}

// classify maps Cohere's statuses (see its errors reference and cohere-go's
// error types) onto the gateway's OpenAI envelope.
func classify(status int, msg string) *provider.Error {
	e := &provider.Error{Status: status, Type: provider.TypeForStatus(status), Retryable: provider.RetryableStatus(status)}
	lower := strings.ToLower(msg)
	switch {
	case status < 400:
		// Redirects are not followed: they could carry the key elsewhere.
		e.Status, e.Type, e.Retryable = 502, "api_error", true
	case status == 400 || status == 422:
		e.Status, e.Type = 400, "invalid_request_error"
		// LiteLLM's rule for Cohere: "too many tokens" is a context window
		// error (the prompt, or max_tokens beyond the model's output).
		if strings.Contains(lower, "too many tokens") {
			e.Code = "context_length_exceeded"
		}
	case status == 401 || status == 498:
		// 498 is Cohere's "invalid token".
		e.Status, e.Type, e.Code = 401, "authentication_error", "invalid_api_key"
	case status == 402:
		e.Type, e.Code = "insufficient_quota", "insufficient_quota"
	case status == 404:
		if strings.Contains(lower, "model") {
			e.Code = "model_not_found"
		}
	case status == 429:
		// Both the per-minute limits and a trial key's monthly allowance.
		e.Code = "rate_limit_exceeded"
	case status == 499:
		// Cohere saw the request cancelled, yet this side is still here to
		// read the answer: an upstream failure another attempt may survive.
		e.Status, e.Type, e.Code, e.Retryable = 502, "api_error", "upstream_cancelled", true
	case status == 503:
		e.Code = "overloaded"
	}
	return e
}
