package bedrock

import (
	"unsafe"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// nativeMembers are top-level Converse request members a client may send
// through extra_body; they are copied into the native request as they are
// (additionalModelRequestFields is merged with what translation puts there).
var nativeMembers = [...]string{
	"additionalModelRequestFields", "additionalModelResponseFieldPaths", "guardrailConfig",
	"performanceConfig", "promptVariables", "requestMetadata", "serviceTier", "outputConfig",
}

const additionalFieldsIndex = 0

// chatParamKind sorts the OpenAI request members for provider.SortParams.
func chatParamKind(name string) provider.ParamKind {
	switch name {
	case "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop", "tools", "tool_choice",
		"response_format", "n", "parallel_tool_calls", "reasoning_effort", "thinking", "logprobs", "top_logprobs":
		return provider.ParamTranslated
	}
	for _, n := range nativeMembers {
		if n == name {
			return provider.ParamPassthrough
		}
	}
	return provider.ParamUnsupported
}

// chatParams holds the raw values of the members translation reads.
type chatParams struct {
	messages, tools, toolChoice, responseFormat, stop            []byte
	maxTokens, maxCompletionTokens, temperature, topP, topK      []byte
	n, parallelToolCalls, logprobs, topLogprobs, reasoningEffort []byte
	thinking                                                     []byte
	native                                                       [len(nativeMembers)][]byte
}

func readChatParams(body []byte) chatParams {
	var p chatParams
	m := rawjson.Members(body)
	for m.Next() {
		v := m.Value()
		if rawjson.IsNull(v) {
			continue
		}
		switch string(m.Name()) {
		case "messages":
			p.messages = v
		case "tools":
			p.tools = v
		case "tool_choice":
			p.toolChoice = v
		case "response_format":
			p.responseFormat = v
		case "stop":
			p.stop = v
		case "max_tokens":
			p.maxTokens = v
		case "max_completion_tokens":
			p.maxCompletionTokens = v
		case "temperature":
			p.temperature = v
		case "top_p":
			p.topP = v
		case "top_k":
			p.topK = v
		case "n":
			p.n = v
		case "parallel_tool_calls":
			p.parallelToolCalls = v
		case "logprobs":
			p.logprobs = v
		case "top_logprobs":
			p.topLogprobs = v
		case "reasoning_effort":
			p.reasoningEffort = v
		case "thinking":
			p.thinking = v
		default:
			for i, n := range nativeMembers {
				if string(m.Name()) == n {
					p.native[i] = v
				}
			}
		}
	}
	return p
}

// checkValues refuses values of translated parameters Bedrock cannot
// honour (or forgets them with drop_params), and checks the types of the
// ones copied into the native request as they are.
func (p *chatParams) checkValues(c *provider.Call, fam family) *provider.Error {
	unsupported := func(param string, v *[]byte, why string) *provider.Error {
		if c.DropParams() {
			*v = nil
			return nil
		}
		return provider.UnsupportedParam(c, param, why)
	}
	if p.n != nil && string(p.n) != "1" {
		if err := unsupported("n", &p.n, "Bedrock returns one choice"); err != nil {
			return err
		}
	}
	if string(p.parallelToolCalls) == "false" {
		if err := unsupported("parallel_tool_calls", &p.parallelToolCalls, "Converse cannot turn off parallel tool calls"); err != nil {
			return err
		}
	}
	if p.logprobs != nil && string(p.logprobs) != "false" {
		if err := unsupported("logprobs", &p.logprobs, "Converse returns no log probabilities"); err != nil {
			return err
		}
	}
	if p.topLogprobs != nil && string(p.topLogprobs) != "0" {
		if err := unsupported("top_logprobs", &p.topLogprobs, "Converse returns no log probabilities"); err != nil {
			return err
		}
	}
	if p.reasoningEffort != nil && fam != familyAnthropic && fam != familyNova2 {
		if err := unsupported("reasoning_effort", &p.reasoningEffort, "only Claude and Nova 2 models on Bedrock reason on request"); err != nil {
			return err
		}
	}
	if p.thinking != nil && fam != familyAnthropic && fam != familyUnknown {
		if err := unsupported("thinking", &p.thinking, "thinking is Claude's parameter"); err != nil {
			return err
		}
	}
	for _, num := range []struct {
		name string
		v    []byte
		int  bool
	}{{"max_tokens", p.maxTokens, true}, {"max_completion_tokens", p.maxCompletionTokens, true}, {"temperature", p.temperature, false}, {"top_p", p.topP, false}, {"top_k", p.topK, true}} {
		if num.v == nil {
			continue
		}
		if _, ok := rawjson.Int(num.v); num.int && !ok || !rawjson.IsNumber(num.v) {
			want := "a number"
			if num.int {
				want = "an integer"
			}
			return provider.BadRequest(num.name, num.name+" must be "+want)
		}
	}
	if p.thinking != nil && !rawjson.IsObject(p.thinking) {
		return provider.BadRequest("thinking", `thinking must be an object such as {"type":"enabled","budget_tokens":2048}`)
	}
	if v := p.native[additionalFieldsIndex]; v != nil && !rawjson.IsObject(v) {
		return provider.BadRequest(nativeMembers[additionalFieldsIndex], nativeMembers[additionalFieldsIndex]+" must be an object")
	}
	return nil
}

// unsafeString views b as a string without copying, for the chunk writer,
// which only reads what it is given, during the call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
