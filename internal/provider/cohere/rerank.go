package cohere

import (
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// The gateway's /rerank surface is LiteLLM's, which is Cohere's v1 shape:
// documents may be objects, rank_fields picks what to rank on, and
// return_documents (default true in LiteLLM) echoes them. Cohere v2 takes
// strings only and never echoes: objects are rendered as text here, and
// the documents are put back into the answer from the request.

type rerankRequest struct {
	Query           json.RawMessage   `json:"query"`
	Documents       []json.RawMessage `json:"documents"`
	TopN            json.RawMessage   `json:"top_n"`
	RankFields      []string          `json:"rank_fields"`
	MaxTokensPerDoc json.RawMessage   `json:"max_tokens_per_doc"`
}

func rerankParam(name string) provider.ParamKind {
	switch name {
	case "query", "documents", "top_n", "rank_fields", "return_documents", "max_tokens_per_doc", "user":
		return provider.ParamTranslated
	case "priority":
		return provider.ParamPassthrough
	}
	// max_chunks_per_doc among others: Cohere v1 only.
	return provider.ParamUnsupported
}

func appendRerankRequest(out []byte, c *provider.Call) ([]byte, error) {
	if err := provider.SortParams(c, rerankParam, nil); err != nil {
		return out, err
	}
	var r rerankRequest
	if err := json.Unmarshal(c.Body, &r); err != nil {
		return out, provider.BadRequest("", "invalid rerank request: "+err.Error())
	}
	if rawjson.IsNull(r.Query) {
		return out, provider.BadRequest("query", "query is required")
	}
	if len(r.Documents) == 0 {
		return out, provider.BadRequest("documents", "documents must be a non-empty array")
	}
	out = append(out, `{"model":`...)
	out = rawjson.AppendQuote(out, c.Deployment.Model)
	out = append(out, `,"query":`...)
	out = append(out, r.Query...)
	out = append(out, `,"documents":[`...)
	for i, doc := range r.Documents {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = appendDocument(out, i, doc, r.RankFields); err != nil {
			return out, err
		}
	}
	out = append(out, ']')
	out = appendMember(out, "top_n", r.TopN)
	out = appendMember(out, "max_tokens_per_doc", r.MaxTokensPerDoc)
	out = appendPassthrough(out, c.Body, rerankParam)
	return append(out, '}'), nil
}

// appendDocument writes one document as the string Cohere v2 ranks. An
// object is ranked on its rank_fields (Cohere v1's default: "text"); with
// several fields, or one other than text, they become "field: value"
// lines, the YAML-like form Cohere recommends for structured data.
func appendDocument(out []byte, i int, doc json.RawMessage, fields []string) ([]byte, error) {
	switch doc[0] {
	case '"':
		return append(out, doc...), nil
	case '{':
	default:
		return out, provider.BadRequest("documents["+strconv.Itoa(i)+"]", "a document must be a string or an object")
	}
	if len(fields) == 0 {
		text := rawjson.Member(doc, "text")
		if text == nil {
			return out, provider.BadRequest("documents["+strconv.Itoa(i)+"]", `an object document needs a "text" member, or rank_fields naming the members to rank on`)
		}
		return appendValueText(out, text), nil
	}
	var b []byte
	for _, f := range fields {
		v := rawjson.Member(doc, f)
		if v == nil {
			continue
		}
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = append(b, f...)
		b = append(b, ": "...)
		if rawjson.IsString(v) {
			b = rawjson.AppendUnquote(b, v)
		} else {
			b = append(b, v...)
		}
	}
	return rawjson.AppendQuoteBytes(out, b), nil
}

// appendValueText writes a member's value as a JSON string: a string as it
// is, anything else as its JSON text.
func appendValueText(out, v []byte) []byte {
	if rawjson.IsString(v) {
		return append(out, v...)
	}
	return rawjson.AppendQuoteBytes(out, v)
}

type rerankResponse struct {
	ID      string `json:"id"`
	Results []struct {
		Index          int             `json:"index"`
		RelevanceScore json.RawMessage `json:"relevance_score"`
	} `json:"results"`
	Meta json.RawMessage `json:"meta"`
}

func appendRerankResponse(out []byte, c *provider.Call, body []byte) ([]byte, openai.Usage, error) {
	var r rerankResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, openai.Usage{}, invalidResponse(c, err)
	}
	// Rerank is billed per search unit, which OpenAI's usage cannot carry;
	// the tokens Cohere may report are what there is.
	var u openai.Usage
	if rawjson.Member(r.Meta, "tokens") != nil {
		u = readUsage(r.Meta)
	}

	var docs []json.RawMessage
	if ret := rawjson.Member(c.Body, "return_documents"); string(ret) != "false" {
		var req struct {
			Documents []json.RawMessage `json:"documents"`
		}
		// The request was read when it was sent; it cannot fail now.
		_ = json.Unmarshal(c.Body, &req)
		docs = req.Documents
	}

	if r.ID == "" {
		r.ID = openai.NewCompletionID()
	}
	out = append(out, `{"id":`...)
	out = rawjson.AppendQuote(out, r.ID)
	out = append(out, `,"results":[`...)
	for i, res := range r.Results {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"index":`...)
		out = strconv.AppendInt(out, int64(res.Index), 10)
		out = append(out, `,"relevance_score":`...)
		if rawjson.IsNull(res.RelevanceScore) {
			out = append(out, '0')
		} else {
			out = append(out, res.RelevanceScore...)
		}
		if res.Index >= 0 && res.Index < len(docs) {
			out = append(out, `,"document":`...)
			if d := docs[res.Index]; d[0] == '"' {
				out = append(out, `{"text":`...)
				out = append(out, d...)
				out = append(out, '}')
			} else {
				out = rawjson.AppendCompact(out, d)
			}
		}
		out = append(out, '}')
	}
	out = append(out, ']')
	if !rawjson.IsNull(r.Meta) {
		out = append(out, `,"meta":`...)
		out = rawjson.AppendCompact(out, r.Meta)
	}
	return append(out, '}'), u, nil
}
