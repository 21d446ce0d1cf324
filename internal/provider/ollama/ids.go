package ollama

import (
	"math/rand/v2"

	"github.com/switchboard-gw/switchboard/internal/openai"
)

// Ollama's answers carry no completion id and, before 0.12, no tool call
// ids; the gateway makes them. They need to be unique, not secret.
const (
	chatPrefix       = "chatcmpl-"
	completionPrefix = "cmpl-"
	callPrefix       = "call_"
)

// IDs makes the ids Ollama's answers lack, each starting with prefix
// ("chatcmpl-", "cmpl-", "call_"). Nil means random ones; tests set it to
// get reproducible output.
type IDs func(prefix string) string

func (f IDs) make(prefix string) string {
	if f != nil {
		return f(prefix)
	}
	if prefix == chatPrefix {
		return openai.NewCompletionID()
	}
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, len(prefix), len(prefix)+24)
	copy(b, prefix)
	for range 24 {
		b = append(b, digits[rand.IntN(len(digits))])
	}
	return string(b)
}
