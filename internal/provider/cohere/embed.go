package cohere

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// defaultInputType is LiteLLM's COHERE_DEFAULT_EMBEDDING_INPUT_TYPE: v3 and
// newer embed models refuse a request without an input_type, which OpenAI
// clients never send. A client picks another through extra_body.
const defaultInputType = "search_document"

type embedRequest struct {
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     json.RawMessage `json:"dimensions"`
}

func embedParam(name string) provider.ParamKind {
	switch name {
	case "input", "encoding_format", "dimensions", "user":
		return provider.ParamTranslated
	case "input_type", "truncate", "max_tokens", "priority":
		return provider.ParamPassthrough
	}
	// embedding_types among others: the answer must be OpenAI's float or
	// base64 embeddings, which encoding_format chooses.
	return provider.ParamUnsupported
}

func appendEmbedRequest(out []byte, c *provider.Call) ([]byte, error) {
	hasInputType := false
	if err := provider.SortParams(c, embedParam, func(name string, v json.RawMessage) {
		if name == "input_type" && !rawjson.IsNull(v) {
			hasInputType = true
		}
	}); err != nil {
		return out, err
	}
	var r embedRequest
	if err := json.Unmarshal(c.Body, &r); err != nil {
		return out, provider.BadRequest("", "invalid embeddings request: "+err.Error())
	}
	if _, err := encodingFormat(r.EncodingFormat); err != nil {
		return out, err
	}
	inputs, images, err := embedInputs(r.Input)
	if err != nil {
		return out, err
	}
	out = append(out, `{"model":`...)
	out = rawjson.AppendQuote(out, c.Deployment.Model)
	field, inputType := `,"texts":[`, defaultInputType
	if images {
		// Cohere embeds images given as data: URLs, with input_type image
		// (what LiteLLM sends for base64 image inputs).
		field, inputType = `,"images":[`, "image"
	}
	out = append(out, field...)
	for i, in := range inputs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, in...)
	}
	out = append(out, ']')
	if !hasInputType {
		out = append(out, `,"input_type":`...)
		out = rawjson.AppendQuote(out, inputType)
	}
	// Floats always: the base64 of OpenAI is little-endian float32, which
	// the gateway writes itself rather than rely on how Cohere packs its
	// own base64 type (and v2 models have none).
	out = append(out, `,"embedding_types":["float"]`...)
	if !rawjson.IsNull(r.Dimensions) {
		switch {
		case takesOutputDimension(c.Deployment.Model):
			out = appendMember(out, "output_dimension", r.Dimensions)
		case !c.DropParams():
			return out, provider.UnsupportedParam(c, "dimensions", "only embed-v4 and newer Cohere models take output_dimension")
		}
	}
	out = appendPassthrough(out, c.Body, embedParam)
	return append(out, '}'), nil
}

// takesOutputDimension: Cohere documents output_dimension for embed-v4 and
// newer; the v2 and v3 families (embed-english-v3.0, …-light-v3.0, …) have
// one fixed size.
func takesOutputDimension(model string) bool {
	return !strings.Contains(model, "-v2") && !strings.Contains(model, "-v3")
}

func encodingFormat(f *string) (base64 bool, err error) {
	if f == nil {
		return false, nil
	}
	switch *f {
	case "", "float":
		return false, nil
	case "base64":
		return true, nil
	}
	return false, provider.BadRequest("encoding_format", `encoding_format must be "float" or "base64"`)
}

// embedInputs returns the raw JSON strings of input and whether they are
// all data: image URLs.
func embedInputs(raw json.RawMessage) (inputs []json.RawMessage, images bool, err error) {
	if rawjson.IsNull(raw) {
		return nil, false, provider.BadRequest("input", "input is required")
	}
	if raw[0] == '"' {
		inputs = []json.RawMessage{raw}
	} else if json.Unmarshal(raw, &inputs) != nil || len(inputs) == 0 {
		return nil, false, provider.BadRequest("input", "input must be a string or a non-empty array of strings")
	}
	nImages := 0
	for _, in := range inputs {
		if len(in) == 0 || in[0] != '"' {
			return nil, false, provider.BadRequest("input", "cohere embeds text: input must be strings, not token arrays")
		}
		if strings.HasPrefix(string(in), `"data:image/`) {
			nImages++
		}
	}
	if nImages > 0 && nImages != len(inputs) {
		return nil, false, provider.BadRequest("input", "cohere cannot embed texts and data: image URLs in one request")
	}
	return inputs, nImages > 0, nil
}

type embedResponse struct {
	Embeddings struct {
		Float []json.RawMessage `json:"float"`
	} `json:"embeddings"`
	Meta struct {
		BilledUnits struct {
			InputTokens json.RawMessage `json:"input_tokens"`
			Images      json.RawMessage `json:"images"`
		} `json:"billed_units"`
	} `json:"meta"`
}

func appendEmbedResponse(out []byte, c *provider.Call, body []byte) ([]byte, openai.Usage, error) {
	var r embedResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, openai.Usage{}, invalidResponse(c, err)
	}
	if len(r.Embeddings.Float) == 0 {
		return nil, openai.Usage{}, invalidResponse(c, errors.New("no float embeddings in the answer"))
	}
	// Billed input tokens, plus billed images as LiteLLM counts them.
	var u openai.Usage
	u.PromptTokens = rawjson.Count(r.Meta.BilledUnits.InputTokens) + rawjson.Count(r.Meta.BilledUnits.Images)
	if u.PromptTokens < 0 {
		u.PromptTokens = math.MaxInt64
	}
	u.TotalTokens = u.PromptTokens
	f, _ := rawjson.Inner(rawjson.Member(c.Body, "encoding_format"))
	b64 := string(f) == "base64"

	out = append(out, `{"object":"list","data":[`...)
	var scratch []byte
	for i, vec := range r.Embeddings.Float {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"object":"embedding","index":`...)
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `,"embedding":`...)
		if b64 {
			var err error
			if out, scratch, err = appendBase64(out, scratch, vec); err != nil {
				return nil, u, invalidResponse(c, err)
			}
		} else {
			out = rawjson.AppendCompact(out, vec)
		}
		out = append(out, '}')
	}
	out = append(out, `],"model":`...)
	out = rawjson.AppendQuote(out, c.ClientModel)
	out = append(out, `,"usage":{"prompt_tokens":`...)
	out = strconv.AppendInt(out, u.PromptTokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, u.TotalTokens, 10)
	return append(out, "}}"...), u, nil
}

// appendBase64 writes a JSON vector of numbers as OpenAI's base64
// embedding: float32 values, little-endian, standard base64 in a string.
func appendBase64(out, scratch, vec []byte) ([]byte, []byte, error) {
	s := strings.TrimSpace(string(vec))
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return out, scratch, errors.New("an embedding is not an array")
	}
	scratch = scratch[:0]
	for rest := s[1 : len(s)-1]; strings.TrimSpace(rest) != ""; {
		num, tail, _ := strings.Cut(rest, ",")
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 32)
		if err != nil {
			return out, scratch, errors.New("an embedding holds something other than numbers")
		}
		scratch = binary.LittleEndian.AppendUint32(scratch, math.Float32bits(float32(f)))
		rest = tail
	}
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, scratch)
	return append(out, '"'), scratch, nil
}
