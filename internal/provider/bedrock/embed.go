package bedrock

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// Embeddings go through InvokeModel with each model family's own body:
// Titan Text Embeddings ({"inputText"}: one text per call) and Cohere
// Embed ({"texts"}).

type embedKind uint8

const (
	embedNone     embedKind = iota
	embedTitanV1            // amazon.titan-embed-text-v1, -g1-text-02: no dimensions
	embedTitanV2            // amazon.titan-embed-text-v2:0: dimensions, normalize
	embedCohere             // cohere.embed-english-v3, -multilingual-v3
	embedCohereV4           // cohere.embed-v4:0: output_dimension
)

func embeddingKind(model string) embedKind {
	if i := strings.Index(model, "amazon.titan-embed"); i >= 0 {
		if strings.Contains(model[i:], "text-v2") {
			return embedTitanV2
		}
		if strings.Contains(model[i:], "text") {
			return embedTitanV1
		}
		return embedNone
	}
	if i := strings.Index(model, "cohere.embed"); i >= 0 {
		if strings.HasPrefix(model[i:], "cohere.embed-v4") {
			return embedCohereV4
		}
		return embedCohere
	}
	return embedNone
}

func (k embedKind) titan() bool { return k == embedTitanV1 || k == embedTitanV2 }

// paramKind sorts an embedding request's members; the native ones
// each family understands pass through.
func (k embedKind) paramKind(name string) provider.ParamKind {
	switch name {
	case "input", "encoding_format", "dimensions":
		return provider.ParamTranslated
	case "normalize":
		if k == embedTitanV2 {
			return provider.ParamPassthrough
		}
	case "input_type", "truncate":
		if !k.titan() {
			return provider.ParamPassthrough
		}
	}
	return provider.ParamUnsupported
}

type embedParams struct {
	input, dimensions, encodingFormat []byte
	inputType, truncate, normalize    []byte
}

func readEmbedParams(body []byte) embedParams {
	var p embedParams
	it := rawjson.Members(body)
	for it.Next() {
		if rawjson.IsNull(it.Value()) {
			continue
		}
		switch string(it.Name()) {
		case "input":
			p.input = it.Value()
		case "dimensions":
			p.dimensions = it.Value()
		case "encoding_format":
			p.encodingFormat = it.Value()
		case "input_type":
			p.inputType = it.Value()
		case "truncate":
			p.truncate = it.Value()
		case "normalize":
			p.normalize = it.Value()
		}
	}
	return p
}

// texts lists the raw string tokens of input, which must be a string or
// an array of strings: Bedrock's models take text, not token arrays.
func texts(input []byte) ([][]byte, *provider.Error) {
	if rawjson.IsString(input) {
		return [][]byte{input}, nil
	}
	var out [][]byte
	it := rawjson.Elements(input)
	for it.Next() {
		if !rawjson.IsString(it.Value()) {
			return nil, provider.BadRequest("input", "bedrock embeddings take text: input must be a string or an array of strings")
		}
		out = append(out, it.Value())
	}
	if !rawjson.IsArray(input) || len(out) == 0 {
		return nil, provider.BadRequest("input", "input must be a non-empty string or array of strings")
	}
	return out, nil
}

func buildEmbedding(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	if p.embedding == embedNone {
		return nil, provider.BadRequest("model", "bedrock embeddings support amazon.titan-embed-text-* and cohere.embed-* models, not "+p.model)
	}
	if err := provider.SortParams(c, p.embedding.paramKind, nil); err != nil {
		return nil, err
	}
	ep := readEmbedParams(c.Body)
	list, perr := texts(ep.input)
	if perr != nil {
		return nil, perr
	}
	if ep.dimensions != nil {
		if n, ok := rawjson.Int(ep.dimensions); !ok || n <= 0 {
			return nil, provider.BadRequest("dimensions", "dimensions must be a positive integer")
		}
		if p.embedding == embedTitanV1 || p.embedding == embedCohere {
			if !c.DropParams() {
				return nil, provider.UnsupportedParam(c, "dimensions", p.model+" has a fixed number of dimensions")
			}
			ep.dimensions = nil
		}
	}
	if f := ep.encodingFormat; f != nil && !rawjson.Is(f, "float") && !rawjson.Is(f, "base64") {
		return nil, provider.BadRequest("encoding_format", "encoding_format must be float or base64")
	}
	out := dst
	if p.embedding.titan() {
		if len(list) != 1 {
			// The provider sends one request per text; see bedrockProvider.
			return nil, provider.BadRequest("input", "Titan embeds one text per request")
		}
		out = append(out, `{"inputText":`...)
		out = append(out, list[0]...)
		if ep.dimensions != nil {
			out = append(out, `,"dimensions":`...)
			out = append(out, ep.dimensions...)
		}
		if p.embedding == embedTitanV2 {
			out = append(out, `,"normalize":`...)
			if ep.normalize != nil {
				out = append(out, ep.normalize...)
			} else {
				out = append(out, "true"...)
			}
		}
		return append(out, '}'), nil
	}
	out = append(out, `{"texts":[`...)
	for i, t := range list {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, t...)
	}
	out = append(out, `],"input_type":`...)
	if ep.inputType != nil {
		out = append(out, ep.inputType...)
	} else {
		// Cohere requires it; LiteLLM's default.
		out = append(out, `"search_document"`...)
	}
	if ep.truncate != nil {
		out = append(out, `,"truncate":`...)
		out = append(out, ep.truncate...)
	}
	if p.embedding == embedCohereV4 {
		out = append(out, `,"embedding_types":["float"]`...)
		if ep.dimensions != nil {
			out = append(out, `,"output_dimension":`...)
			out = append(out, ep.dimensions...)
		}
	}
	return append(out, '}'), nil
}

// decodeEmbedding writes OpenAI's embedding list for a Titan or Cohere
// answer, in the encoding the client asked for.
func decodeEmbedding(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	if !openai.Valid(body) {
		return nil, openai.Usage{}, invalidResponse(c, "InvokeModel returned no embeddings")
	}
	var vectors [][]byte // raw JSON arrays of numbers
	var tokens int64
	for it := rawjson.Members(body); it.Next(); {
		switch string(it.Name()) {
		case "embedding":
			vectors = append(vectors, it.Value())
		case "inputTextTokenCount":
			tokens = count(it.Value())
		case "embeddings":
			v := it.Value()
			if rawjson.IsObject(v) {
				// {"float": [[...]]} when embedding types were asked for.
				v = nil
				em := rawjson.Members(it.Value())
				for em.Next() {
					if string(em.Name()) == "float" {
						v = em.Value()
					}
				}
			}
			el := rawjson.Elements(v)
			for el.Next() {
				vectors = append(vectors, el.Value())
			}
		}
	}
	if len(vectors) == 0 {
		return nil, openai.Usage{}, invalidResponse(c, "InvokeModel returned no embeddings")
	}
	ep := readEmbedParams(c.Body)
	if tokens == 0 {
		// Cohere's answer has no token count (InvokeModel reports it in a
		// header the codec does not see): estimate it, as LiteLLM counts
		// it itself, at four bytes a token.
		list, _ := texts(ep.input)
		for _, t := range list {
			tokens += int64(len(t)-2+3) / 4
		}
	}
	b64 := rawjson.Is(ep.encodingFormat, "base64")
	out := slices.Grow(dst, len(body)+128)
	out = append(out, `{"object":"list","data":[`...)
	for i, v := range vectors {
		if !rawjson.IsArray(v) {
			return nil, openai.Usage{}, invalidResponse(c, "an embedding is not an array of numbers")
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"object":"embedding","index":`...)
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `,"embedding":`...)
		var ok bool
		if out, ok = appendVector(out, v, b64); !ok {
			return nil, openai.Usage{}, invalidResponse(c, "an embedding is not an array of numbers")
		}
		out = append(out, '}')
	}
	out = append(out, `],"model":`...)
	out = rawjson.AppendQuote(out, c.ClientModel)
	u := openai.Usage{PromptTokens: tokens, TotalTokens: tokens}
	out = append(out, `,"usage":{"prompt_tokens":`...)
	out = strconv.AppendInt(out, tokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, tokens, 10)
	return append(out, "}}"...), u, nil
}

// appendVector writes a vector as a JSON array of its numbers, or as
// base64 of their little-endian float32 bytes (what the OpenAI SDKs decode).
func appendVector(out, v []byte, b64 bool) ([]byte, bool) {
	if !b64 {
		out = append(out, '[')
		el := rawjson.Elements(v)
		for n := 0; el.Next(); n++ {
			if !rawjson.IsNumber(el.Value()) {
				return out, false
			}
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, el.Value()...)
		}
		return append(out, ']'), true
	}
	var raw []byte
	el := rawjson.Elements(v)
	for el.Next() {
		f, err := strconv.ParseFloat(string(el.Value()), 32)
		if err != nil {
			return out, false
		}
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(f)))
	}
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, raw)
	return append(out, '"'), true
}
