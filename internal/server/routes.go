package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// opSuffixes are the inference operations by their path below the API root.
var opSuffixes = []struct {
	suffix string
	op     provider.Op
}{
	{"/chat/completions", provider.OpChat},
	{"/completions", provider.OpCompletion},
	{"/embeddings", provider.OpEmbedding},
	{"/images/generations", provider.OpImageGeneration},
	{"/audio/speech", provider.OpSpeech},
	{"/audio/transcriptions", provider.OpTranscription},
	{"/audio/translations", provider.OpTranslation},
	{"/moderations", provider.OpModeration},
	{"/rerank", provider.OpRerank},
}

// matchInference maps a POST path to its operation, with LiteLLM's aliases:
// with and without /v1, Cohere's /v2/rerank, and the Azure-style
// /openai/deployments/{model}/... and /engines/{model}/... forms whose path
// names the model.
func matchInference(path []byte) (provider.Op, string, bool) {
	p := path
	switch {
	case bytes.HasPrefix(p, []byte("/v1/")):
		p = p[3:]
	case bytes.Equal(p, []byte("/v2/rerank")):
		return provider.OpRerank, "", true
	}
	model := ""
	for _, prefix := range [][]byte{[]byte("/openai/deployments/"), []byte("/engines/")} {
		if bytes.HasPrefix(p, prefix) {
			rest := p[len(prefix):]
			i := bytes.IndexByte(rest, '/')
			if i <= 0 {
				return 0, "", false
			}
			m, err := url.PathUnescape(string(rest[:i]))
			if err != nil {
				return 0, "", false
			}
			model, p = m, rest[i:]
			break
		}
	}
	for _, s := range opSuffixes {
		if string(p) == s.suffix {
			return s.op, model, true
		}
	}
	return 0, "", false
}

// modelPayloads precomputes the /v1/models answers in OpenAI's shape with the
// values LiteLLM uses, so listing models costs a copy.
func modelPayloads(names []string) ([]byte, map[string][]byte) {
	one := func(name string) []byte {
		b := []byte(`{"id":`)
		b = openai.AppendString(b, name)
		return append(b, `,"object":"model","created":1677610602,"owned_by":"openai"}`...)
	}
	list := []byte(`{"object":"list","data":[`)
	byID := make(map[string][]byte, len(names))
	for i, n := range names {
		if i > 0 {
			list = append(list, ',')
		}
		m := one(n)
		list = append(list, m...)
		byID[n] = m
	}
	return append(list, "]}"...), byID
}

// serveModels answers GET /v1/models and /v1/models/{id} (ids may contain
// slashes, e.g. "openai/gpt-4o").
func (s *Server) serveModels(ctx *fasthttp.RequestCtx, path []byte) bool {
	p := bytes.TrimPrefix(path, []byte("/v1"))
	switch {
	case string(p) == "/models":
		ctx.SetContentType("application/json")
		ctx.SetBody(s.modelList)
		return true
	case bytes.HasPrefix(p, []byte("/models/")):
		id, err := url.PathUnescape(string(p[len("/models/"):]))
		if m, ok := s.modelByID[id]; ok && err == nil {
			ctx.SetContentType("application/json")
			ctx.SetBody(m)
			return true
		}
		s.writeError(ctx, &provider.Error{Status: 404, Type: "not_found_error", Code: "model_not_found", Param: "model",
			Message: "model " + strconv.Quote(id) + " is not served by this gateway"})
		return true
	}
	return false
}

// adaptHTTPHandler serves a net/http handler (Prometheus' exposition) on
// fasthttp; it is off the hot path.
func adaptHTTPHandler(h http.Handler) fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(h)
}
