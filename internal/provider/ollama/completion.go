package ollama

import (
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// buildCompletion appends the /api/generate body for a legacy completion.
func buildCompletion(c *provider.Call, p *prepared, dst []byte) ([]byte, error) {
	var s sorted
	if err := sortParams(c, completionRules, &s); err != nil {
		return dst, err
	}
	var prompt, n, echo, bestOf, logprobs []byte
	m := openObject(c.Body)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "prompt":
			prompt = v
		case "n":
			n = v
		case "echo":
			echo = v
		case "best_of":
			bestOf = v
		case "logprobs":
			logprobs = v
		}
	}
	if m.err != nil {
		return dst, badBody("not a JSON object")
	}
	if err := checkN(c, n); err != nil {
		return dst, err
	}
	if err := checkLogprobs(c, logprobs, nil); err != nil {
		return dst, err
	}
	if string(echo) == "true" && !c.DropParams() {
		return dst, provider.UnsupportedParam(c, "echo", "Ollama does not echo the prompt")
	}
	if v, _ := parseCount(bestOf); v > 1 && !c.DropParams() {
		return dst, provider.UnsupportedParam(c, "best_of", "Ollama generates one completion per request")
	}
	prompt, err := onePrompt(c, prompt)
	if err != nil {
		return dst, err
	}
	b := append(dst, `{"model":`...)
	b = openai.AppendString(b, c.Deployment.Model)
	b = append(b, `,"prompt":`...)
	b = append(b, prompt...)
	if b, err = appendCommon(c, p, b, &s, nil, nil); err != nil {
		return dst, err
	}
	return append(b, '}'), nil
}

// onePrompt returns the prompt of a completions request as a raw JSON
// string: a string, or an array holding one. Several prompts would be
// several completions, and token ids have no Ollama equivalent.
func onePrompt(c *provider.Call, raw []byte) ([]byte, error) {
	switch {
	case raw == nil || isNull(raw):
		return []byte(`""`), nil
	case isString(raw):
		return raw, nil
	}
	e := openArray(raw)
	var first []byte
	n := 0
	for {
		v, ok := e.next()
		if !ok {
			break
		}
		if n++; n == 1 {
			first = v
		}
	}
	switch {
	case e.err != nil:
		return nil, provider.BadRequest("prompt", "prompt must be a string or an array of strings")
	case n == 0:
		return []byte(`""`), nil
	case n > 1:
		return nil, provider.BadRequest("prompt", c.Deployment.Provider+" completes one prompt per request, not an array of "+strconv.Itoa(n))
	case !isString(first):
		return nil, provider.BadRequest("prompt", c.Deployment.Provider+" takes a text prompt, not token ids")
	}
	return first, nil
}
