package openai

import "github.com/switchboard-gw/switchboard/internal/rawjson"

// Usage is token usage as OpenAI reports it, with the cache and reasoning
// details the spend calculation needs. As in OpenAI's own semantics,
// PromptTokens includes CachedTokens and CompletionTokens includes
// ReasoningTokens.
type Usage struct {
	PromptTokens, CompletionTokens, TotalTokens int64
	// CachedTokens: prompt_tokens_details.cached_tokens, else DeepSeek's
	// prompt_cache_hit_tokens, else cache_read_input_tokens.
	CachedTokens int64
	// CacheWriteTokens: prompt_tokens_details.cache_write_tokens, else
	// cache_creation_input_tokens.
	CacheWriteTokens int64
	// ReasoningTokens: completion_tokens_details.reasoning_tokens.
	ReasoningTokens int64
	// AudioPromptTokens and AudioCompletionTokens: the audio_tokens of
	// prompt_tokens_details and completion_tokens_details.
	AudioPromptTokens, AudioCompletionTokens int64

	// Units of the operations not priced by tokens: images generated,
	// milliseconds of audio transcribed or translated, characters of
	// speech synthesised.
	Images, AudioMillis, Characters int64
}

// ChunkInfo is what the gateway needs to know about one response object
// or stream chunk (chat.completion.chunk or text_completion).
type ChunkInfo struct {
	// HasUsage: a non-null top-level "usage" object, or else Groq's
	// "x_groq"."usage"; Usage holds it.
	HasUsage bool
	// EmptyChoices: "choices" is present and an empty array (the usage
	// chunk that include_usage adds).
	EmptyChoices bool
	// HasFinishReason: some choice has a non-null "finish_reason".
	HasFinishReason bool
	// IsError: a non-null top-level "error" (a mid-stream error event).
	IsError bool
	Usage   Usage
	// Text is the generated text the chunk carries, still JSON-escaped
	// (the inside of the first choice's delta.content, or of its "text" in
	// a completions stream), kept only to count tokens when the upstream
	// never reports usage. It points into the scanned bytes.
	Text []byte
}

// ScanUsage reads the top-level "usage" member of a JSON object (a whole
// response or one stream chunk), falling back to Groq's "x_groq"."usage".
// ok is false when there is none or it is null. It never allocates and
// tolerates malformed input: upstream bytes are relayed whatever they
// are, and this only taps them.
func ScanUsage(obj []byte) (u Usage, ok bool) {
	// The same walk as ScanChunk, so that the two agree even on malformed
	// input; looking at finish_reason on the way costs next to nothing.
	ci := scanObject(obj)
	return ci.Usage, ci.HasUsage
}

// ScanChunk reports, in one pass and without allocating, what the
// gateway needs from one chunk; see ChunkInfo. Like ScanUsage, it
// tolerates malformed input.
func ScanChunk(obj []byte) ChunkInfo {
	return scanObject(obj)
}

func scanObject(b []byte) (ci ChunkInfo) {
	var (
		groq   Usage
		groqOK bool
	)
	// Each walk into a nested value hands its end back (Resume), so the
	// chunk is read in one pass: this runs on every chunk of every stream.
	it := rawjson.Members(b)
	for it.Next() {
		switch string(it.Name()) {
		case "usage":
			if u, ok := readUsage(it); ok {
				ci.Usage, ci.HasUsage = u, true
			}
		case "choices":
			scanChoices(it, &ci)
		case "error":
			if !rawjson.IsNull(it.Value()) {
				ci.IsError = true
			}
		case "x_groq":
			if u, ok := readGroq(it); ok {
				groq, groqOK = u, true
			}
		}
	}
	if !ci.HasUsage && groqOK {
		ci.Usage, ci.HasUsage = groq, true
	}
	return ci
}

// scanChoices walks the "choices" array, looking at each choice's own
// "finish_reason" and at the text it carries.
func scanChoices(parent *rawjson.Iter, ci *ChunkInfo) {
	if parent.Kind() != '[' {
		return
	}
	choices := parent.Elements()
	n := 0
	for choices.Next() {
		n++
		if choices.Kind() != '{' {
			continue
		}
		choice := choices.Members()
		for choice.Next() {
			switch string(choice.Name()) {
			case "finish_reason":
				ci.HasFinishReason = ci.HasFinishReason || !rawjson.IsNull(choice.Value())
			case "text":
				if ci.Text == nil {
					ci.Text, _ = rawjson.Inner(choice.Value())
				}
			case "delta":
				if ci.Text == nil && choice.Kind() == '{' {
					delta := choice.Members()
					for delta.Next() {
						if string(delta.Name()) == "content" {
							ci.Text, _ = rawjson.Inner(delta.Value())
							break
						}
					}
					choice.Resume(delta)
				}
			}
		}
		choices.Resume(choice)
	}
	parent.Resume(choices)
	if n == 0 {
		v := parent.Value()
		ci.EmptyChoices = len(v) >= 2 && v[len(v)-1] == ']' && len(rawjson.TrimSpace(v[1:len(v)-1])) == 0
	}
}

// AppendUnescaped appends the decoded text of raw, the inside of a JSON
// string as ChunkInfo.Text holds it; see rawjson.AppendUnescape.
func AppendUnescaped(dst, raw []byte) []byte { return rawjson.AppendUnescape(dst, raw) }

func readGroq(parent *rawjson.Iter) (u Usage, ok bool) {
	if parent.Kind() != '{' {
		return u, false
	}
	it := parent.Members()
	for it.Next() {
		if string(it.Name()) == "usage" {
			if gu, gok := readUsage(it); gok {
				u, ok = gu, true
			}
		}
	}
	parent.Resume(it)
	return u, ok
}

// usageFallbacks collects the alternative spellings some vendors use, to
// apply only when the OpenAI field is absent.
type usageFallbacks struct {
	hasCached, hasCacheWrite   bool
	hasHit, hasRead, hasCreate bool
	hit, read, create          int64
}

func readUsage(parent *rawjson.Iter) (u Usage, ok bool) {
	if parent.Kind() != '{' {
		return u, false
	}
	var fb usageFallbacks
	it := parent.Members()
	for it.Next() {
		switch string(it.Name()) {
		case "prompt_tokens":
			u.PromptTokens = rawjson.Count(it.Value())
		case "completion_tokens":
			u.CompletionTokens = rawjson.Count(it.Value())
		case "total_tokens":
			u.TotalTokens = rawjson.Count(it.Value())
		case "prompt_tokens_details":
			readDetails(it, &u, &fb, true)
		case "completion_tokens_details":
			readDetails(it, &u, &fb, false)
		case "prompt_cache_hit_tokens":
			fb.hit, fb.hasHit = rawjson.Count(it.Value()), true
		case "cache_read_input_tokens":
			fb.read, fb.hasRead = rawjson.Count(it.Value()), true
		case "cache_creation_input_tokens":
			fb.create, fb.hasCreate = rawjson.Count(it.Value()), true
		}
	}
	parent.Resume(it)
	if !fb.hasCached {
		if fb.hasHit {
			u.CachedTokens = fb.hit
		} else if fb.hasRead {
			u.CachedTokens = fb.read
		}
	}
	if !fb.hasCacheWrite && fb.hasCreate {
		u.CacheWriteTokens = fb.create
	}
	return u, true
}

func readDetails(parent *rawjson.Iter, u *Usage, fb *usageFallbacks, prompt bool) {
	if parent.Kind() != '{' {
		return
	}
	it := parent.Members()
	for it.Next() {
		switch name := string(it.Name()); {
		case name == "audio_tokens" && prompt:
			u.AudioPromptTokens = rawjson.Count(it.Value())
		case name == "audio_tokens":
			u.AudioCompletionTokens = rawjson.Count(it.Value())
		case name == "cached_tokens" && prompt:
			u.CachedTokens, fb.hasCached = rawjson.Count(it.Value()), true
		case name == "cache_write_tokens" && prompt:
			u.CacheWriteTokens, fb.hasCacheWrite = rawjson.Count(it.Value()), true
		case name == "cache_creation_input_tokens" && prompt:
			fb.create, fb.hasCreate = rawjson.Count(it.Value()), true
		case name == "reasoning_tokens" && !prompt:
			u.ReasoningTokens = rawjson.Count(it.Value())
		}
	}
	parent.Resume(it)
}
