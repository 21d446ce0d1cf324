package provider

import (
	"encoding/json"

	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// ParamKind is what a translating provider does with one top-level member
// of an OpenAI request.
type ParamKind uint8

const (
	// ParamUnsupported: the provider has no equivalent. The request fails
	// with a 400 naming it, unless drop_params applies, when it is dropped.
	ParamUnsupported ParamKind = iota
	// ParamTranslated: the translator maps it to the native request.
	ParamTranslated
	// ParamPassthrough: a native field of the provider (sent by clients
	// through extra_body), copied into the native request as it is.
	ParamPassthrough
)

// gatewayParams are request members the gateway itself consumes (LiteLLM
// accepts them in the body); no provider sees them.
var gatewayParams = map[string]bool{
	"model": true, "messages": true, "stream": true, "stream_options": true, "metadata": true,
	"drop_params": true, "additional_drop_params": true, "fallbacks": true, "context_window_fallbacks": true,
	"num_retries": true, "timeout": true, "tags": true, "caching": true, "cache": true, "mock_response": true,
	"api_base": true, "api_key": true, "api_version": true, "litellm_logging_obj": true,
}

// DropParams reports whether unsupported parameters are dropped for this
// call: drop_params set globally or on the deployment, or "drop_params":
// true in the request.
func (c *Call) DropParams() bool {
	if c.Deployment.DropParams {
		return true
	}
	return string(rawjson.Member(c.Body, "drop_params")) == "true"
}

// SortParams walks the top-level members of the call's JSON body and sorts
// them with kind: gateway members are skipped, passthrough members are
// handed to keep (name, raw value), and the first unsupported member is a
// 400 naming it — or, with drop_params, every unsupported member is
// dropped. Nothing unsupported is sent upstream to be rejected there, and
// nothing is lost without the client having asked for it.
func SortParams(c *Call, kind func(name string) ParamKind, keep func(name string, value json.RawMessage)) *Error {
	drop := -1 // unknown until needed: most requests have nothing unsupported
	for it := rawjson.Members(c.Body); it.Next(); {
		name := string(it.Name())
		if gatewayParams[name] {
			continue
		}
		switch kind(name) {
		case ParamTranslated:
		case ParamPassthrough:
			if keep != nil {
				keep(name, it.Value())
			}
		default:
			if string(it.Value()) == "null" {
				continue
			}
			if drop < 0 {
				drop = 0
				if c.DropParams() {
					drop = 1
				}
			}
			if drop == 0 {
				return UnsupportedParam(c, name, "")
			}
		}
	}
	return nil
}

// UnsupportedParam is the 400 for a parameter (or a value of one) the
// deployment's provider cannot honour; why may add the reason. Translators
// that find an unsupported value call it only when !c.DropParams().
func UnsupportedParam(c *Call, param, why string) *Error {
	msg := c.Deployment.Provider + " does not support parameter " + param
	if why != "" {
		msg += ": " + why
	}
	msg += ". To drop it, set drop_params: true (in litellm_settings, the deployment's litellm_params, or this request)."
	return &Error{Status: 400, Type: "invalid_request_error", Code: "unsupported_parameter", Param: param, Message: msg}
}

// BadRequest is a 400 for a request the translator cannot express natively.
func BadRequest(param, msg string) *Error {
	return &Error{Status: 400, Type: "invalid_request_error", Param: param, Message: msg}
}
