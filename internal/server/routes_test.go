package server

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

func TestMatchInference(t *testing.T) {
	for path, want := range map[string]struct {
		op    provider.Op
		model string
		ok    bool
	}{
		"/v1/chat/completions":     {provider.OpChat, "", true},
		"/chat/completions":        {provider.OpChat, "", true},
		"/v1/completions":          {provider.OpCompletion, "", true},
		"/embeddings":              {provider.OpEmbedding, "", true},
		"/v1/images/generations":   {provider.OpImageGeneration, "", true},
		"/v1/audio/speech":         {provider.OpSpeech, "", true},
		"/v1/audio/transcriptions": {provider.OpTranscription, "", true},
		"/v1/audio/translations":   {provider.OpTranslation, "", true},
		"/v1/moderations":          {provider.OpModeration, "", true},
		"/v1/rerank":               {provider.OpRerank, "", true},
		"/v2/rerank":               {provider.OpRerank, "", true},
		"/openai/deployments/gpt-4o/chat/completions":  {provider.OpChat, "gpt-4o", true},
		"/v1/openai/deployments/my%2Fmodel/embeddings": {provider.OpEmbedding, "my/model", true},
		"/engines/text-davinci/completions":            {provider.OpCompletion, "text-davinci", true},
		"/openai/deployments//chat/completions":        {0, "", false},
		"/v1/chat/completions/extra":                   {0, "", false},
		"/v1/models":                                   {0, "", false},
		"/v1/v1/chat/completions":                      {0, "", false},
	} {
		op, model, ok := matchInference([]byte(path))
		if ok != want.ok || (ok && (op != want.op || model != want.model)) {
			t.Errorf("%s: got %v %q %v, want %v %q %v", path, op, model, ok, want.op, want.model, want.ok)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	s := newIDSource()
	a, b := string(s.next(nil)), string(s.next(nil))
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Errorf("ids %q %q", a, b)
	}
}
