package ollama

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// buildEmbed appends the /api/embed body for an embeddings request.
func buildEmbed(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	var s sorted
	if err := sortParams(c, embedRules, &s); err != nil {
		return dst, err
	}
	var input, format []byte
	m := openObject(c.Body)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "input":
			input = v
		case "encoding_format":
			format = v
		}
	}
	if m.err != nil {
		return dst, badBody("not a JSON object")
	}
	switch string(format) {
	case "", "null", `"float"`, `"base64"`:
	default:
		return dst, provider.BadRequest("encoding_format", `encoding_format must be "float" or "base64"`)
	}
	input, err := textInput(c, input)
	if err != nil {
		return dst, err
	}
	b := append(dst, `{"model":`...)
	b = openai.AppendString(b, c.Deployment.Model)
	b = append(b, `,"input":`...)
	b = append(b, input...)
	b = appendOptions(b, p, &s.opts)
	if s.natives.get("keep_alive") == nil && p.keepAlive != nil {
		b = append(b, `,"keep_alive":`...)
		b = append(b, p.keepAlive...)
	}
	for i, name := range s.natives.names {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = append(b, s.natives.vals[i]...)
	}
	return append(b, '}'), nil
}

// textInput checks that input is a string or an array of strings, which
// /api/embed takes as they are; token ids have no Ollama equivalent.
func textInput(c *provider.Call, raw []byte) ([]byte, error) {
	if isString(raw) {
		return raw, nil
	}
	e := openArray(raw)
	n := 0
	for {
		v, ok := e.next()
		if !ok {
			break
		}
		if !isString(v) {
			return nil, provider.BadRequest("input", c.Deployment.Provider+" embeds text: input must be a string or an array of strings, not token ids")
		}
		n++
	}
	if e.err != nil || n == 0 {
		return nil, provider.BadRequest("input", "input must be a non-empty string or array of strings")
	}
	return raw, nil
}

// decodeEmbed turns Ollama's {"embeddings":[[…]…],"prompt_eval_count":n}
// into OpenAI's embedding list. Vectors are copied as Ollama wrote them,
// or, for encoding_format "base64", packed as little-endian float32 and
// base64-encoded as the OpenAI SDKs decode them.
func decodeEmbed(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	b64 := wantsBase64(c.Body)
	var vectors []byte
	var u openai.Usage
	m := openObject(body)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "embeddings":
			vectors = v
		case "prompt_eval_count":
			u.PromptTokens, _ = parseCount(v)
			u.TotalTokens = u.PromptTokens
		case "error":
			if !isNull(v) {
				return nil, u, errorInBody(c, errorText(v))
			}
		}
	}
	if m.err != nil || vectors == nil {
		return nil, u, invalidResponse(c)
	}
	out := append(dst, `{"object":"list","data":[`...)
	e := openArray(vectors)
	var raw []byte
	for i := 0; ; i++ {
		vec, ok := e.next()
		if !ok {
			break
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"object":"embedding","index":`...)
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `,"embedding":`...)
		if !b64 {
			if !numberArray(vec) {
				return nil, u, invalidResponse(c)
			}
			out = append(out, vec...)
		} else {
			var ok bool
			if raw, ok = packFloat32(raw[:0], vec); !ok {
				return nil, u, invalidResponse(c)
			}
			out = append(out, '"')
			out = base64.StdEncoding.AppendEncode(out, raw)
			out = append(out, '"')
		}
		out = append(out, '}')
	}
	if e.err != nil {
		return nil, u, invalidResponse(c)
	}
	out = append(out, `],"model":`...)
	out = openai.AppendString(out, c.ClientModel)
	out = append(out, `,"usage":{"prompt_tokens":`...)
	out = strconv.AppendInt(out, u.PromptTokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, u.TotalTokens, 10)
	out = append(out, "}}"...)
	return out, u, nil
}

// wantsBase64 reports the client's encoding_format: base64.
func wantsBase64(body []byte) bool {
	b64 := false
	openai.EachMember(body, func(name, value []byte) bool {
		if string(name) == "encoding_format" {
			b64 = string(value) == `"base64"`
			return false
		}
		return true
	})
	return b64
}

// numberArray reports whether v is an array of numbers.
func numberArray(v []byte) bool {
	e := openArray(v)
	for {
		x, ok := e.next()
		if !ok {
			return e.err == nil
		}
		if x[0] != '-' && (x[0] < '0' || x[0] > '9') {
			return false
		}
	}
}

// packFloat32 appends the numbers of the array v as little-endian float32.
func packFloat32(dst, v []byte) ([]byte, bool) {
	e := openArray(v)
	for {
		x, ok := e.next()
		if !ok {
			return dst, e.err == nil
		}
		f, err := strconv.ParseFloat(string(x), 32)
		if err != nil {
			return dst, false
		}
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f)))
	}
}
