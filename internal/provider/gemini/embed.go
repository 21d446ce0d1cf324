package gemini

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// Embeddings: the Gemini API embeds a batch with :batchEmbedContents (one
// request per input); Vertex AI with :predict (one instance per input),
// which also counts tokens. OpenAI's encoding_format "base64" (what the
// official Node SDK asks for by default) is produced here from Gemini's
// floats: little-endian float32 bytes, standard base64.

func embedParamKind(name string) provider.ParamKind {
	switch name {
	case "input", "dimensions", "encoding_format", "user":
		return provider.ParamTranslated
	case "task_type", "taskType", "title", "auto_truncate", "autoTruncate":
		return provider.ParamPassthrough
	}
	return provider.ParamUnsupported
}

type embedNative struct {
	taskType, title, autoTruncate []byte
}

func (n *embedNative) keep(name string, value json.RawMessage) {
	if string(value) == "null" {
		return
	}
	switch name {
	case "task_type", "taskType":
		n.taskType = value
	case "title":
		n.title = value
	default:
		n.autoTruncate = value
	}
}

func buildEmbedding(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	var nat embedNative
	if err := provider.SortParams(c, embedParamKind, nat.keep); err != nil {
		return nil, err
	}
	var req struct {
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(c.Body, &req); err != nil {
		return nil, provider.BadRequest("", "invalid embeddings request: "+err.Error())
	}
	if f := req.EncodingFormat; f != "" && f != "float" && f != "base64" {
		return nil, provider.BadRequest("encoding_format", `encoding_format must be "float" or "base64"`)
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil {
		return nil, provider.BadRequest("input", c.Deployment.Provider+" embeds text: input must be a string or an array of strings (token arrays are not supported)")
	}
	if len(inputs) == 0 {
		return nil, provider.BadRequest("input", "input must not be empty")
	}
	if nat.autoTruncate != nil && !p.vertex {
		if !c.DropParams() {
			return nil, provider.UnsupportedParam(c, "auto_truncate", "only Vertex AI takes it")
		}
		nat.autoTruncate = nil
	}
	if p.vertex {
		return vertexEmbedBody(dst, inputs, req.Dimensions, &nat), nil
	}
	dst = append(dst, `{"requests":[`...)
	for i, in := range inputs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"model":`...)
		dst = openai.AppendString(dst, p.embedModel)
		dst = append(dst, `,"content":{"parts":[{"text":`...)
		dst = openai.AppendString(dst, in)
		dst = append(dst, "}]}"...)
		if nat.taskType != nil {
			dst = append(append(dst, `,"taskType":`...), nat.taskType...)
		}
		if nat.title != nil {
			dst = append(append(dst, `,"title":`...), nat.title...)
		}
		if req.Dimensions != nil {
			dst = append(dst, `,"outputDimensionality":`...)
			dst = strconv.AppendInt(dst, int64(*req.Dimensions), 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

func vertexEmbedBody(dst []byte, inputs []string, dims *int, nat *embedNative) []byte {
	dst = append(dst, `{"instances":[`...)
	for i, in := range inputs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"content":`...)
		dst = openai.AppendString(dst, in)
		if nat.taskType != nil {
			dst = append(append(dst, `,"task_type":`...), nat.taskType...)
		}
		if nat.title != nil {
			dst = append(append(dst, `,"title":`...), nat.title...)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if dims != nil || nat.autoTruncate != nil {
		dst = append(dst, `,"parameters":{`...)
		if dims != nil {
			dst = append(dst, `"outputDimensionality":`...)
			dst = strconv.AppendInt(dst, int64(*dims), 10)
		}
		if nat.autoTruncate != nil {
			if dims != nil {
				dst = append(dst, ',')
			}
			dst = append(append(dst, `"autoTruncate":`...), nat.autoTruncate...)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// decodeEmbedding renders either scheme's answer as an OpenAI list.
func decodeEmbedding(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	b64 := false
	openai.EachMember(c.Body, func(name, value []byte) bool {
		if string(name) == "encoding_format" {
			b64 = string(value) == `"base64"`
			return false
		}
		return true
	})
	e := embedWriter{dst: append(dst, `{"object":"list","data":[`...), b64: b64}
	var s scanner
	s.reset(body)
	var tokens int64
	if !s.enter('{') {
		return nil, openai.Usage{}, invalidResponse(c, "an embeddings response that is not a JSON object")
	}
	for n := 0; s.more('}', &n); {
		switch string(s.key()) {
		case "embeddings": // Gemini API: [{"values":[…]}]
			if !s.enter('[') {
				break
			}
			for m := 0; s.more(']', &m); {
				e.values(&s, nil)
			}
		case "predictions": // Vertex AI: [{"embeddings":{"values":[…],"statistics":{"token_count":N}}}]
			if !s.enter('[') {
				break
			}
			for m := 0; s.more(']', &m); {
				if !s.enter('{') {
					break
				}
				for k := 0; s.more('}', &k); {
					if string(s.key()) == "embeddings" {
						e.values(&s, &tokens)
					} else {
						s.skip()
					}
				}
			}
		case "usageMetadata":
			var u usageMeta
			u.read(&s)
			tokens = max(tokens, u.prompt, u.total)
		default:
			s.skip()
		}
	}
	if !s.end() || e.n == 0 {
		return nil, openai.Usage{}, invalidResponse(c, "an embeddings response without embeddings")
	}
	usage := openai.Usage{PromptTokens: tokens, TotalTokens: tokens}
	dst = append(e.dst, `],"model":`...)
	dst = openai.AppendString(dst, c.ClientModel)
	dst = append(dst, `,"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, tokens, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, tokens, 10)
	return append(dst, "}}"...), usage, nil
}

type embedWriter struct {
	dst     []byte
	n       int
	b64     bool
	scratch []byte
}

// values reads one ContentEmbedding object ({"values":[…]} and, on
// Vertex, "statistics") and writes it as the next list item.
func (e *embedWriter) values(s *scanner, tokens *int64) {
	if !s.enter('{') {
		return
	}
	for n := 0; s.more('}', &n); {
		switch string(s.key()) {
		case "values":
			e.item(s)
		case "statistics":
			if tokens == nil || !s.enter('{') {
				s.skip()
				continue
			}
			for m := 0; s.more('}', &m); {
				if string(s.key()) == "token_count" {
					*tokens += s.int()
				} else {
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}

func (e *embedWriter) item(s *scanner) {
	if e.n > 0 {
		e.dst = append(e.dst, ',')
	}
	e.dst = append(e.dst, `{"object":"embedding","index":`...)
	e.dst = strconv.AppendInt(e.dst, int64(e.n), 10)
	e.dst = append(e.dst, `,"embedding":`...)
	e.n++
	if !e.b64 {
		// The floats go through exactly as Gemini wrote them, without the
		// indentation of its answers.
		e.dst = append(e.dst, '[')
		if !s.enter('[') {
			return
		}
		for n := 0; s.more(']', &n); {
			if n > 1 {
				e.dst = append(e.dst, ',')
			}
			e.dst = append(e.dst, s.num()...)
		}
		e.dst = append(e.dst, "]}"...)
		return
	}
	e.scratch = e.scratch[:0]
	if !s.enter('[') {
		return
	}
	for n := 0; s.more(']', &n); {
		// Out of float32 range, ParseFloat gives ±Inf, which is kept.
		f, _ := strconv.ParseFloat(string(s.num()), 32)
		e.scratch = binary.LittleEndian.AppendUint32(e.scratch, math.Float32bits(float32(f)))
	}
	e.dst = append(e.dst, '"')
	e.dst = base64.StdEncoding.AppendEncode(e.dst, e.scratch)
	e.dst = append(e.dst, `"}`...)
}
