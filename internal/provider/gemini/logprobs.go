package gemini

import (
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// logprobsResult is a candidate's logprobsResult; chosenCandidates[i] is
// the sampled token at step i and topCandidates[i] its alternatives. Only
// requests with logprobs get one, so encoding/json is fine here.
type logprobsResult struct {
	TopCandidates []struct {
		Candidates []tokenLogprob `json:"candidates"`
	} `json:"topCandidates"`
	ChosenCandidates []tokenLogprob `json:"chosenCandidates"`
}

type tokenLogprob struct {
	Token          string  `json:"token"`
	LogProbability float64 `json:"logProbability"`
}

// renderLogprobs turns raw logprobsResult into OpenAI's choice logprobs
// object, or nil when there is nothing to render.
func renderLogprobs(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	var lr logprobsResult
	if json.Unmarshal(raw, &lr) != nil || len(lr.ChosenCandidates) == 0 {
		return nil
	}
	b := []byte(`{"content":[`)
	for i, t := range lr.ChosenCandidates {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTokenLogprob(b, t)
		b = b[:len(b)-1]
		b = append(b, `,"top_logprobs":[`...)
		if i < len(lr.TopCandidates) {
			for j, alt := range lr.TopCandidates[i].Candidates {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendTokenLogprob(b, alt)
			}
		}
		b = append(b, "]}"...)
	}
	return append(b, `],"refusal":null}`...)
}

func appendTokenLogprob(b []byte, t tokenLogprob) []byte {
	b = append(b, `{"token":`...)
	b = openai.AppendString(b, t.Token)
	b = append(b, `,"logprob":`...)
	b = strconv.AppendFloat(b, t.LogProbability, 'g', -1, 64)
	b = append(b, `,"bytes":[`...)
	for i := 0; i < len(t.Token); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(t.Token[i]), 10)
	}
	return append(b, "]}"...)
}
