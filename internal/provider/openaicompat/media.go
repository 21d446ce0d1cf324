package openaicompat

import (
	"encoding/json"
	"math"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// mediaUsage reads the units an image or audio answer is priced by, which
// OpenAI reports in shapes of their own: images are the entries of "data"
// (gpt-image models add token usage as input_tokens/output_tokens);
// transcriptions report {"usage":{"type":"duration","seconds":N}} (whisper),
// {"usage":{"type":"tokens",…}} (gpt-4o-transcribe) or, in verbose_json,
// a top-level "duration". Text formats (text, srt, vtt) carry no units:
// such a transcription is priced only if its model has token prices.
func mediaUsage(op provider.Op, body []byte) (u openai.Usage) {
	var r struct {
		Data     []json.RawMessage `json:"data"`
		Duration *float64          `json:"duration"`
		Usage    *struct {
			Type         string   `json:"type"`
			Seconds      *float64 `json:"seconds"`
			InputTokens  int64    `json:"input_tokens"`
			OutputTokens int64    `json:"output_tokens"`
			TotalTokens  int64    `json:"total_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(body, &r) != nil {
		return u
	}
	if r.Usage != nil {
		u.PromptTokens, u.CompletionTokens, u.TotalTokens = r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.TotalTokens
	}
	switch op {
	case provider.OpImageGeneration:
		u.Images = int64(len(r.Data))
	case provider.OpTranscription, provider.OpTranslation:
		seconds := r.Duration
		if r.Usage != nil && r.Usage.Seconds != nil {
			seconds = r.Usage.Seconds
		}
		if seconds != nil && *seconds > 0 && *seconds < math.MaxInt64/1000 {
			u.AudioMillis = int64(math.Round(*seconds * 1000))
		}
	}
	return u
}

// pricedByUnit reports whether op's answers are priced by mediaUsage.
func pricedByUnit(op provider.Op) bool {
	return op == provider.OpImageGeneration || op == provider.OpTranscription || op == provider.OpTranslation
}
