package ollama

import (
	"encoding/json"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// rule is what a request member becomes in Ollama's request.
type rule uint8

const (
	unsupported   rule = iota
	translated         // read from the typed request by the translator
	consumed           // the gateway's own (user): nothing to send
	asOption           // its value goes into "options" (under rules.option)
	native             // a native top-level member, copied as it is
	nativeOptions      // the native "options" object, merged member by member
)

type paramRule struct {
	rule   rule
	option string // the options key, for asOption
}

// nativeOptionNames are Ollama's model options (api.Options and
// api.Runner, plus ones older servers and LiteLLM's OllamaConfig know,
// such as mirostat). Sent at the top level of a request (extra_body), they
// are moved into "options", where Ollama reads them.
var nativeOptionNames = []string{
	"num_keep", "num_predict", "top_k", "min_p", "typical_p", "repeat_last_n", "repeat_penalty",
	"num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread",
	"mirostat", "mirostat_eta", "mirostat_tau", "tfs_z", "penalize_newline", "num_gqa",
	"numa", "low_vram", "f16_kv", "vocab_only", "use_mlock", "logits_all", "embedding_only",
	"rope_frequency_base", "rope_frequency_scale",
}

// sampling are the OpenAI parameters every generating endpoint maps into
// options.
var sampling = map[string]paramRule{
	"temperature":           {asOption, "temperature"},
	"top_p":                 {asOption, "top_p"},
	"seed":                  {asOption, "seed"},
	"stop":                  {asOption, "stop"},
	"max_tokens":            {asOption, "num_predict"},
	"max_completion_tokens": {asOption, "num_predict"},
	"frequency_penalty":     {asOption, "frequency_penalty"},
	"presence_penalty":      {asOption, "presence_penalty"},
}

func table(parts ...map[string]paramRule) map[string]paramRule {
	t := map[string]paramRule{"user": {rule: consumed}, "options": {rule: nativeOptions}, "keep_alive": {rule: native}}
	for _, p := range parts {
		for k, v := range p {
			t[k] = v
		}
	}
	return t
}

func withNativeOptions() map[string]paramRule {
	t := map[string]paramRule{}
	for _, name := range nativeOptionNames {
		t[name] = paramRule{asOption, name}
	}
	return t
}

// The request members each endpoint understands. Anything else is refused
// with a 400 naming it, or dropped with drop_params.
var (
	chatRules = table(sampling, withNativeOptions(), map[string]paramRule{
		"tools": {rule: translated}, "tool_choice": {rule: translated}, "parallel_tool_calls": {rule: translated},
		"response_format": {rule: translated}, "reasoning_effort": {rule: translated}, "n": {rule: translated},
		"logprobs": {rule: translated}, "top_logprobs": {rule: translated},
		"think": {rule: native}, "format": {rule: native}, "truncate": {rule: native}, "shift": {rule: native},
	})
	// generateChatRules: a chat through /api/generate (the ollama/ prefix)
	// takes /api/generate's own members; it has no tools, which the
	// translation refuses with a pointer to ollama_chat/.
	generateChatRules = table(sampling, withNativeOptions(), map[string]paramRule{
		"tools": {rule: translated}, "tool_choice": {rule: translated}, "parallel_tool_calls": {rule: translated},
		"response_format": {rule: translated}, "reasoning_effort": {rule: translated}, "n": {rule: translated},
		"logprobs": {rule: translated}, "top_logprobs": {rule: translated},
		"think": {rule: native}, "format": {rule: native}, "truncate": {rule: native}, "shift": {rule: native},
		"system": {rule: native}, "template": {rule: native}, "raw": {rule: native}, "context": {rule: native},
	})
	completionRules = table(sampling, withNativeOptions(), map[string]paramRule{
		"prompt": {rule: translated}, "n": {rule: translated}, "echo": {rule: translated}, "best_of": {rule: translated},
		"logprobs": {rule: translated}, "suffix": {rule: native}, "images": {rule: native},
		"think": {rule: native}, "format": {rule: native}, "truncate": {rule: native}, "shift": {rule: native},
		"system": {rule: native}, "template": {rule: native}, "raw": {rule: native}, "context": {rule: native},
	})
	embedRules = table(withNativeOptions(), map[string]paramRule{
		"input": {rule: translated}, "encoding_format": {rule: translated},
		"dimensions": {rule: native}, "truncate": {rule: native},
	})
)

// option is one member of Ollama's "options" object.
type option struct {
	name string
	val  []byte // raw JSON
	rank uint8
}

// Where an option came from; a later source overrides an earlier one, so a
// client's explicit native option wins over its OpenAI spelling, and both
// win over the deployment's default.
const (
	rankDeployment uint8 = iota
	rankOpenAI
	rankTopLevel
	rankOptions
)

// options collects the members of "options" without duplicates.
type options struct {
	list []option
	// maxCompletion: max_completion_tokens was seen; it wins over max_tokens
	// whatever their order.
	maxCompletion bool
}

func (o *options) set(name string, val []byte, rank uint8) {
	for i := range o.list {
		if o.list[i].name == name {
			if rank >= o.list[i].rank {
				o.list[i].val, o.list[i].rank = val, rank
			}
			return
		}
	}
	o.list = append(o.list, option{name, val, rank})
}

// natives are the top-level native members a request carried.
type natives struct {
	names []string
	vals  [][]byte
}

func (n *natives) get(name string) []byte {
	for i, k := range n.names {
		if k == name {
			return n.vals[i]
		}
	}
	return nil
}

// sorted is a request's members sorted by where they go.
type sorted struct {
	opts    options
	natives natives
}

// sortParams sorts the members of c's body with rules: unsupported ones are
// refused (or dropped), options and native members are collected in s.
func sortParams(c *provider.Call, rules map[string]paramRule, s *sorted) error {
	var bad *provider.Error
	err := provider.SortParams(c, func(name string) provider.ParamKind {
		switch rules[name].rule {
		case unsupported:
			return provider.ParamUnsupported
		case asOption, native, nativeOptions:
			return provider.ParamPassthrough
		}
		return provider.ParamTranslated
	}, func(name string, value json.RawMessage) {
		if isNull(value) || bad != nil {
			return
		}
		r := rules[name]
		switch r.rule {
		case asOption:
			rank := rankOpenAI
			if r.option == name {
				rank = rankTopLevel
			}
			switch name {
			case "max_completion_tokens":
				s.opts.maxCompletion = true
			case "max_tokens":
				if s.opts.maxCompletion {
					return
				}
			case "stop":
				if isString(value) {
					value = wrapArray(value)
				}
			}
			s.opts.set(r.option, value, rank)
		case native:
			s.natives.names = append(s.natives.names, name)
			s.natives.vals = append(s.natives.vals, value)
		case nativeOptions:
			m := openObject(value)
			for {
				k, v, ok := m.next()
				if !ok {
					break
				}
				s.opts.set(string(k), v, rankOptions)
			}
			if m.err != nil {
				bad = provider.BadRequest("options", "options must be a JSON object of Ollama model options")
			}
		}
	})
	if err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	return nil
}

// wrapArray makes a one-element array of the raw value v: OpenAI's stop
// may be one string, Ollama's is always a list.
func wrapArray(v []byte) []byte {
	out := make([]byte, 0, len(v)+2)
	out = append(out, '[')
	out = append(out, v...)
	return append(out, ']')
}
