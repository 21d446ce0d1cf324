package ollama

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// appendCommon appends what /api/chat and /api/generate share: format,
// options, stream, keep_alive, think and the remaining native members.
func appendCommon(c *provider.Call, p *prepared, b []byte, s *sorted, responseFormat, effort []byte) ([]byte, error) {
	format := s.natives.get("format")
	if format == nil && responseFormat != nil {
		var err error
		if format, err = formatOf(c, responseFormat); err != nil {
			return b, err
		}
	}
	if format != nil {
		b = append(b, `,"format":`...)
		b = append(b, format...)
	}
	b = appendOptions(b, p, &s.opts)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, c.Stream())
	if ka := s.natives.get("keep_alive"); ka != nil {
		b = append(b, `,"keep_alive":`...)
		b = append(b, ka...)
	} else if p.keepAlive != nil {
		b = append(b, `,"keep_alive":`...)
		b = append(b, p.keepAlive...)
	}
	if think := s.natives.get("think"); think != nil {
		b = append(b, `,"think":`...)
		b = append(b, think...)
	} else if isString(effort) {
		b = append(b, `,"think":`...)
		b = append(b, thinkValue(c.Deployment.Model, effort[1:len(effort)-1])...)
	}
	for i, name := range s.natives.names {
		switch name {
		case "format", "keep_alive", "think":
			continue
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = append(b, s.natives.vals[i]...)
	}
	return b, nil
}

var jsonFormat = []byte(`"json"`)

// formatOf maps response_format onto Ollama's format: "json" for
// json_object, the schema itself for json_schema.
func formatOf(c *provider.Call, rf []byte) ([]byte, error) {
	var typ, schema []byte
	m := openObject(rf)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "type":
			typ = v
		case "json_schema":
			js := openObject(v)
			for {
				k, v, ok := js.next()
				if !ok {
					break
				}
				if string(k) == "schema" && !isNull(v) {
					schema = v
				}
			}
		}
	}
	if m.err != nil || !isString(typ) {
		return nil, provider.BadRequest("response_format", `response_format must be an object with a "type"`)
	}
	switch string(typ) {
	case `"json_object"`:
		return jsonFormat, nil
	case `"json_schema"`:
		if schema != nil {
			return schema, nil
		}
		return jsonFormat, nil
	case `"text"`:
		return nil, nil
	}
	if c.DropParams() {
		return nil, nil
	}
	return nil, provider.UnsupportedParam(c, "response_format", "type "+string(typ)+" has no Ollama equivalent")
}

// thinkValue maps reasoning_effort onto Ollama's think. Only gpt-oss
// (Ollama's "harmony" models) takes a level; any other model refuses a
// string and takes true or false, as LiteLLM sends it.
func thinkValue(model string, effort []byte) string {
	switch string(effort) {
	case "low", "medium", "high":
		if len(model) >= 7 && model[:7] == "gpt-oss" {
			return `"` + string(effort) + `"`
		}
		return "true"
	}
	return "false"
}

func appendOptions(b []byte, p *prepared, o *options) []byte {
	for _, d := range p.options {
		o.set(d.name, d.val, rankDeployment)
	}
	if len(o.list) == 0 {
		return b
	}
	b = append(b, `,"options":{`...)
	for i, opt := range o.list {
		if i > 0 {
			b = append(b, ',')
		}
		b = openai.AppendString(b, opt.name)
		b = append(b, ':')
		b = append(b, opt.val...)
	}
	return append(b, '}')
}

// checkN refuses n > 1: Ollama answers one choice per request.
func checkN(c *provider.Call, n []byte) error {
	if v, _ := parseCount(n); v > 1 && !c.DropParams() {
		return provider.UnsupportedParam(c, "n", "Ollama returns one choice per request")
	}
	return nil
}

// checkLogprobs refuses a request for log probabilities, which this
// translation does not carry back (false and 0 ask for nothing and pass).
// logprobs is a bool in chat requests and a count in legacy completions.
func checkLogprobs(c *provider.Call, logprobs, top []byte) error {
	if n, _ := parseCount(logprobs); (string(logprobs) == "true" || n > 0) && !c.DropParams() {
		return provider.UnsupportedParam(c, "logprobs", "log probabilities are not translated from Ollama")
	}
	if n, _ := parseCount(top); n > 0 && !c.DropParams() {
		return provider.UnsupportedParam(c, "top_logprobs", "log probabilities are not translated from Ollama")
	}
	return nil
}
