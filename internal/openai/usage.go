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
	i := rawjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ci
	}
	i++
	var (
		groq   Usage
		groqOK bool
	)
	for {
		key, v, ok := rawjson.NextMember(b, i)
		if !ok {
			break
		}
		switch string(key) {
		case "usage":
			var u Usage
			if u, ok, i = readUsage(b, v); ok {
				ci.Usage, ci.HasUsage = u, true
			}
		case "choices":
			i = scanChoices(b, v, &ci)
		case "error":
			i = rawjson.Skip(b, v)
			if !rawjson.IsNull(b[v:i]) {
				ci.IsError = true
			}
		case "x_groq":
			var u Usage
			if u, ok, i = readGroq(b, v); ok {
				groq, groqOK = u, true
			}
		default:
			i = rawjson.Skip(b, v)
		}
	}
	if !ci.HasUsage && groqOK {
		ci.Usage, ci.HasUsage = groq, true
	}
	return ci
}

// scanChoices walks the "choices" array at b[i], looking at each choice's
// own "finish_reason" and at the text it carries.
func scanChoices(b []byte, i int, ci *ChunkInfo) int {
	if i >= len(b) || b[i] != '[' {
		return rawjson.Skip(b, i)
	}
	j := rawjson.SkipSpace(b, i+1)
	if j < len(b) && b[j] == ']' {
		ci.EmptyChoices = true
		return j + 1
	}
	for {
		j = rawjson.SkipSpace(b, j)
		if j >= len(b) {
			return j
		}
		switch b[j] {
		case ']':
			return j + 1
		case ',':
			j++
			continue
		case '{':
			k := j + 1
			for {
				key, v, ok := rawjson.NextMember(b, k)
				if !ok {
					k = v
					break
				}
				k = rawjson.Skip(b, v)
				switch string(key) {
				case "finish_reason":
					ci.HasFinishReason = ci.HasFinishReason || !rawjson.IsNull(b[v:k])
				case "text":
					if ci.Text == nil {
						ci.Text, _ = rawjson.Inner(b[v:k])
					}
				case "delta":
					if ci.Text == nil {
						ci.Text, _ = rawjson.Inner(rawjson.Member(b[v:k], "content"))
					}
				}
			}
			j = k
			continue
		}
		// Not a choice object: skip it (Skip goes past even a stray '}').
		j = rawjson.Skip(b, j)
	}
}

// AppendUnescaped appends the decoded text of raw, the inside of a JSON
// string as ChunkInfo.Text holds it; see rawjson.AppendUnescape.
func AppendUnescaped(dst, raw []byte) []byte { return rawjson.AppendUnescape(dst, raw) }

func readGroq(b []byte, i int) (u Usage, ok bool, end int) {
	if i >= len(b) || b[i] != '{' {
		return u, false, rawjson.Skip(b, i)
	}
	j := i + 1
	for {
		key, v, more := rawjson.NextMember(b, j)
		if !more {
			return u, ok, v
		}
		if string(key) == "usage" {
			var gu Usage
			var gok bool
			if gu, gok, j = readUsage(b, v); gok {
				u, ok = gu, true
			}
			continue
		}
		j = rawjson.Skip(b, v)
	}
}

// usageFallbacks collects the alternative spellings some vendors use, to
// apply only when the OpenAI field is absent.
type usageFallbacks struct {
	hasCached, hasCacheWrite   bool
	hasHit, hasRead, hasCreate bool
	hit, read, create          int64
}

func readUsage(b []byte, i int) (u Usage, ok bool, end int) {
	if i >= len(b) || b[i] != '{' {
		return u, false, rawjson.Skip(b, i)
	}
	var fb usageFallbacks
	j := i + 1
	for {
		key, v, more := rawjson.NextMember(b, j)
		if !more {
			end = v
			break
		}
		switch string(key) {
		case "prompt_tokens":
			u.PromptTokens, j = readInt(b, v)
		case "completion_tokens":
			u.CompletionTokens, j = readInt(b, v)
		case "total_tokens":
			u.TotalTokens, j = readInt(b, v)
		case "prompt_tokens_details":
			j = readDetails(b, v, &u, &fb, true)
		case "completion_tokens_details":
			j = readDetails(b, v, &u, &fb, false)
		case "prompt_cache_hit_tokens":
			fb.hit, j = readInt(b, v)
			fb.hasHit = true
		case "cache_read_input_tokens":
			fb.read, j = readInt(b, v)
			fb.hasRead = true
		case "cache_creation_input_tokens":
			fb.create, j = readInt(b, v)
			fb.hasCreate = true
		default:
			j = rawjson.Skip(b, v)
		}
	}
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
	return u, true, end
}

func readDetails(b []byte, i int, u *Usage, fb *usageFallbacks, prompt bool) int {
	if i >= len(b) || b[i] != '{' {
		return rawjson.Skip(b, i)
	}
	j := i + 1
	for {
		key, v, more := rawjson.NextMember(b, j)
		if !more {
			return v
		}
		switch {
		case string(key) == "audio_tokens" && prompt:
			u.AudioPromptTokens, j = readInt(b, v)
		case string(key) == "audio_tokens":
			u.AudioCompletionTokens, j = readInt(b, v)
		case string(key) == "cached_tokens" && prompt:
			u.CachedTokens, j = readInt(b, v)
			fb.hasCached = true
		case string(key) == "cache_write_tokens" && prompt:
			u.CacheWriteTokens, j = readInt(b, v)
			fb.hasCacheWrite = true
		case string(key) == "cache_creation_input_tokens" && prompt:
			fb.create, j = readInt(b, v)
			fb.hasCreate = true
		case string(key) == "reasoning_tokens" && !prompt:
			u.ReasoningTokens, j = readInt(b, v)
		default:
			j = rawjson.Skip(b, v)
		}
	}
}

// readInt reads the token count at b[i] (see rawjson.Count) and returns
// the index after it.
func readInt(b []byte, i int) (int64, int) {
	end := rawjson.Skip(b, i)
	return rawjson.Count(b[i:end]), end
}
