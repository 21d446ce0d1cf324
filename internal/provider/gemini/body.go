package gemini

import (
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

var responses = sync.Pool{New: func() any { return new(response) }}

// decodeChat turns a generateContent answer into a chat.completion.
func (cd Codec) decodeChat(c *provider.Call, body, dst []byte) ([]byte, openai.Usage, error) {
	r := responses.Get().(*response)
	defer func() {
		// Drop the references into this body before the next use.
		clear(r.parts)
		clear(r.cands)
		*r = response{cands: r.cands[:0], parts: r.parts[:0]}
		responses.Put(r)
	}()
	if !r.parse(body) {
		return nil, openai.Usage{}, invalidResponse(c, "a response that is not a JSON object")
	}
	if r.errObj != nil {
		return nil, openai.Usage{}, statusError(c, 0, r.errObj, true)
	}
	if len(r.cands) == 0 && r.blockReason == nil {
		return nil, openai.Usage{}, invalidResponse(c, "a response without candidates")
	}
	usage := r.usage.openAI()
	base := cd.base(r.responseID)
	if dst == nil {
		// The answer is about the size of Gemini's (which is indented).
		dst = make([]byte, 0, len(body))
	}

	dst = append(dst, `{"id":"chatcmpl-`...)
	dst = append(dst, base...)
	dst = append(dst, `","object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, cd.now(), 10)
	dst = append(dst, `,"model":`...)
	dst = openai.AppendString(dst, c.ClientModel)
	dst = append(dst, `,"choices":[`...)
	if len(r.cands) == 0 {
		dst = append(dst, `{"index":0,"message":{"role":"assistant","content":null,"refusal":`...)
		dst = appendBlockRefusal(dst, r)
		dst = append(dst, `},"logprobs":null,"finish_reason":"content_filter"}`...)
	}
	calls := 0
	for i := range r.cands {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendChoice(dst, r, &r.cands[i], base, &calls)
	}
	dst = append(dst, `],"usage":`...)
	dst = usage.AppendJSON(dst)
	return append(dst, '}'), usage, nil
}

// appendChoice renders one candidate as a choice; calls numbers the
// function calls across the answer so their ids are unique.
func appendChoice(dst []byte, r *response, cand *candidate, base string, calls *int) []byte {
	parts := r.parts[cand.first:cand.end]
	var hasText, hasThought, hasCall bool
	for i := range parts {
		switch p := &parts[i]; {
		case p.call:
			hasCall = true
		case p.hasText && p.thought:
			hasThought = true
		case p.hasText:
			hasText = true
		}
	}
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, int64(cand.index), 10)
	dst = append(dst, `,"message":{"role":"assistant","content":`...)
	if hasText {
		dst = appendTexts(dst, parts, false)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"refusal":null`...)
	if hasCall {
		dst = append(dst, `,"tool_calls":[`...)
		first := true
		for i := range parts {
			if !parts[i].call {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendToolCall(dst, &parts[i], base, *calls, -1)
			*calls++
		}
		dst = append(dst, ']')
	}
	if hasThought {
		dst = append(dst, `,"reasoning_content":`...)
		dst = appendTexts(dst, parts, true)
	}
	dst = append(dst, `},"logprobs":`...)
	if lp := renderLogprobs(cand.logprobs); lp != nil {
		dst = append(dst, lp...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"finish_reason":"`...)
	dst = append(dst, finishReason(cand.finish, hasCall)...)
	return append(dst, `"}`...)
}

// appendTexts joins the text (or thought) parts into one JSON string.
func appendTexts(dst []byte, parts []part, thought bool) []byte {
	dst = append(dst, '"')
	for i := range parts {
		if p := &parts[i]; p.hasText && !p.call && p.thought == thought {
			dst = append(dst, p.text...)
		}
	}
	return append(dst, '"')
}

// appendBlockRefusal explains a refused prompt, as a JSON string.
func appendBlockRefusal(dst []byte, r *response) []byte {
	dst = append(dst, `"The prompt was blocked by Gemini (`...)
	dst = append(dst, r.blockReason...)
	dst = append(dst, ')')
	if len(r.blockMessage) > 0 {
		dst = append(dst, ": "...)
		dst = append(dst, r.blockMessage...)
	}
	return append(dst, '"')
}
