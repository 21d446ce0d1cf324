package ollama

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// DecodeError implements provider.Codec. Ollama's errors are
// {"error":"…"} with the HTTP status telling the class: 400 for a request
// it cannot serve (including a prompt longer than the context with
// truncate off), 404 for a model that is not pulled, 500 for a runner
// failure, 503 when its queue is full ("server busy"); hosted Ollama adds
// 401, 403 and 429.
func (Codec) DecodeError(c *provider.Call, status int, _ *upstream.Response, body []byte) *provider.Error {
	msg := errorMessage(body)
	if msg == "" {
		msg = "upstream answered HTTP " + strconv.Itoa(status)
	}
	e := classify(c, status, msg)
	e.Retryable = provider.RetryableStatus(status)
	e.MayHaveBeenSent = true
	return e
}

func classify(c *provider.Call, status int, msg string) *provider.Error {
	e := &provider.Error{Status: status, Type: provider.TypeForStatus(status)}
	if status < 400 {
		// Redirects are not followed (they could carry credentials elsewhere).
		e.Status, e.Type = http.StatusBadGateway, "api_error"
	}
	lower := strings.ToLower(msg)
	switch {
	case isContextWindow(lower):
		e.Code = "context_length_exceeded"
		if status >= 500 {
			e.Status, e.Type = http.StatusBadRequest, "invalid_request_error"
		}
	case status == http.StatusNotFound && strings.Contains(lower, "not found"):
		e.Code = "model_not_found"
	}
	e.Message = c.Deployment.Provider + ": " + provider.Redact(msg, c.Deployment.APIKey)
	return e
}

// isContextWindow recognises Ollama's context overflow messages ("the
// input length exceeds the context length", "input exceeds maximum
// context length", the runner's "exceeds context").
func isContextWindow(lower string) bool {
	return strings.Contains(lower, "context length") || strings.Contains(lower, "exceeds context") ||
		strings.Contains(lower, "context window")
}

// errorMessage is the "error" of Ollama's error body, or the body itself
// when it is short text (a proxy's page is not worth showing).
func errorMessage(body []byte) string {
	m := openObject(body)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if string(k) == "error" && !isNull(v) {
			return errorText(v)
		}
	}
	return ""
}

// errorText is the raw JSON value v as a message: a string's text, or
// the JSON of anything else.
func errorText(v []byte) string {
	if isString(v) {
		return string(appendUnquoted(nil, v))
	}
	return string(v)
}

// streamError is an {"error":…} line after the stream started: the
// pipeline ends the client's stream with it.
func streamError(c *provider.Call, msg []byte) *provider.Error {
	e := classify(c, http.StatusBadGateway, string(msg))
	if e.Code == "" {
		e.Type = "api_error"
	}
	e.MayHaveBeenSent = true
	return e
}

// errorInBody is an "error" member in a 200 answer.
func errorInBody(c *provider.Call, msg string) *provider.Error {
	e := classify(c, http.StatusBadGateway, msg)
	e.Retryable = e.Code == ""
	e.MayHaveBeenSent = true
	return e
}

func invalidResponse(c *provider.Call) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_invalid_response",
		Message: c.Deployment.Provider + " returned a response that could not be read", Retryable: true, MayHaveBeenSent: true}
}
