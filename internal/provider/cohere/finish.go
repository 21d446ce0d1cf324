package cohere

import "github.com/switchboard-gw/switchboard/internal/provider"

// finishReason maps Cohere's finish_reason to OpenAI's. An answer with tool
// calls finishes with "tool_calls" whatever Cohere says short of a limit,
// since clients look at the reason to decide whether to run tools.
func finishReason(reason string, toolCalls bool) string {
	r := "stop" // COMPLETE, STOP_SEQUENCE, USER_CANCEL and unknown values, as LiteLLM does
	switch reason {
	case "MAX_TOKENS", "ERROR_LIMIT":
		return "length"
	case "ERROR_TOXIC":
		return "content_filter"
	case "TOOL_CALL":
		r = "tool_calls"
	}
	if toolCalls {
		r = "tool_calls"
	}
	return r
}

// isErrorReason reports the finish reasons that mean the answer failed: an
// OpenAI finish_reason cannot say so, and a client must not take a broken
// answer for a complete one.
func isErrorReason(reason []byte) bool {
	return string(reason) == "ERROR" || string(reason) == "TIMEOUT"
}

// finishError is the error for an answer Cohere ended with ERROR or
// TIMEOUT (msg is message-end's delta.error, when it has one).
func finishError(c *provider.Call, reason, msg string) *provider.Error {
	e := &provider.Error{Status: 502, Type: "api_error", Code: "upstream_error", Retryable: true, MayHaveBeenSent: true}
	if reason == "TIMEOUT" {
		e.Status, e.Type, e.Code = 504, "timeout", "timeout"
	}
	if msg == "" {
		msg = "the model stopped with finish_reason " + reason
		if reason == "" {
			msg = "the model stopped with an error"
		}
	}
	e.Message = "cohere: " + provider.Redact(msg, c.Deployment.APIKey)
	return e
}
