package openai

import (
	"bytes"
	"math"
)

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
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ci
	}
	i++
	var (
		groq   Usage
		groqOK bool
	)
	for {
		key, v, ok := nextMember(b, i)
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
			if !isNull(b, v) {
				ci.IsError = true
			}
			i = laxSkip(b, v)
		case "x_groq":
			var u Usage
			if u, ok, i = readGroq(b, v); ok {
				groq, groqOK = u, true
			}
		default:
			i = laxSkip(b, v)
		}
	}
	if !ci.HasUsage && groqOK {
		ci.Usage, ci.HasUsage = groq, true
	}
	return ci
}

// nextMember steps to the next member of an object: from i (just after
// the '{' or after the previous value) it skips a comma and returns the
// raw member name and the index of its value. ok is false at the end of
// the object or at anything unexpected; i is then where it stopped.
func nextMember(b []byte, i int) (key []byte, val int, ok bool) {
	i = skipWS(b, i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	end, closed := laxSkipString(b, i)
	if !closed {
		return nil, end, false
	}
	key = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, i, false
	}
	return key, skipWS(b, i+1), true
}

// objectEnd returns the index after the '}' at which nextMember stopped,
// or i itself if it stopped at something else.
func objectEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	return i
}

func isNull(b []byte, i int) bool {
	return len(b)-i >= 4 && string(b[i:i+4]) == "null"
}

// laxSkipString returns the index after the string starting at b[i]; an
// unterminated string runs to the end. A quote is escaped when an odd
// number of backslashes precede it.
func laxSkipString(b []byte, i int) (end int, closed bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), false
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n&1 == 0 {
			return j + 1, true
		}
		j++
	}
}

// laxSkip skips the value at b[i] without validating it and returns the
// index after it (i itself if b[i] cannot start a value).
func laxSkip(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := laxSkipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = laxSkipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	return laxSkipScalar(b, i)
}

func laxSkipScalar(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// scanChoices walks the "choices" array at b[i], looking at each choice's
// own "finish_reason" and at the text it carries.
func scanChoices(b []byte, i int, ci *ChunkInfo) int {
	if i >= len(b) || b[i] != '[' {
		return laxSkip(b, i)
	}
	j := skipWS(b, i+1)
	if j < len(b) && b[j] == ']' {
		ci.EmptyChoices = true
		return j + 1
	}
	for {
		j = skipWS(b, j)
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
				key, v, ok := nextMember(b, k)
				if !ok {
					k = objectEnd(b, v)
					break
				}
				switch string(key) {
				case "finish_reason":
					ci.HasFinishReason = ci.HasFinishReason || !isNull(b, v)
				case "text":
					if ci.Text == nil {
						ci.Text = rawString(b, v)
					}
				case "delta":
					if ci.Text == nil {
						ci.Text = deltaContent(b, v)
					}
				}
				k = laxSkip(b, v)
			}
			j = k
			continue
		}
		// Not a choice object: skip it, and make progress even if it is a
		// stray '}'.
		if k := laxSkip(b, j); k > j {
			j = k
		} else {
			j++
		}
	}
}

// deltaContent returns the raw inside of delta.content at b[i], or nil.
func deltaContent(b []byte, i int) []byte {
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	k := i + 1
	for {
		key, v, ok := nextMember(b, k)
		if !ok {
			return nil
		}
		if string(key) == "content" {
			return rawString(b, v)
		}
		k = laxSkip(b, v)
	}
}

// rawString returns the inside of the JSON string at b[i] (escapes kept),
// or nil when the value is not a complete string.
func rawString(b []byte, i int) []byte {
	if i >= len(b) || b[i] != '"' {
		return nil
	}
	end, closed := laxSkipString(b, i)
	if !closed {
		return nil
	}
	return b[i+1 : end-1]
}

// AppendUnescaped appends the decoded text of raw, the inside of a JSON
// string as ChunkInfo.Text holds it.
func AppendUnescaped(dst, raw []byte) []byte {
	// appendUnescaped trusts its input; tapped upstream bytes are not
	// validated, so text with a malformed escape is kept as it is instead.
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) || (raw[i+1] == 'u' && (i+5 >= len(raw) || !validHex4(raw[i+2:i+6]))) {
			return append(dst, raw...)
		}
		i++ // the escaped byte
	}
	return appendUnescaped(dst, raw)
}

func validHex4(h []byte) bool {
	_, ok := hex4(h, 0)
	return ok
}

func readGroq(b []byte, i int) (u Usage, ok bool, end int) {
	if i >= len(b) || b[i] != '{' {
		return u, false, laxSkip(b, i)
	}
	j := i + 1
	for {
		key, v, more := nextMember(b, j)
		if !more {
			return u, ok, objectEnd(b, v)
		}
		if string(key) == "usage" {
			var gu Usage
			var gok bool
			if gu, gok, j = readUsage(b, v); gok {
				u, ok = gu, true
			}
			continue
		}
		j = laxSkip(b, v)
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
		return u, false, laxSkip(b, i)
	}
	var fb usageFallbacks
	j := i + 1
	for {
		key, v, more := nextMember(b, j)
		if !more {
			end = objectEnd(b, v)
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
			j = laxSkip(b, v)
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
		return laxSkip(b, i)
	}
	j := i + 1
	for {
		key, v, more := nextMember(b, j)
		if !more {
			return objectEnd(b, v)
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
			j = laxSkip(b, v)
		}
	}
}

// readInt reads a token count. Anything that is not a number (null, a
// string) reads as 0, and so do negative numbers: a count below zero would
// only ever make spend go backwards. Fractions are truncated and exponents
// applied, saturating at MaxInt64.
func readInt(b []byte, i int) (int64, int) {
	end := laxSkip(b, i)
	if i >= len(b) || b[i] == '-' || !isDigit(b[i]) {
		return 0, end
	}
	var (
		m      int64
		digits int // significant digits held in m
		scale  int // value = m * 10^scale
	)
	add := func(d byte, frac bool) {
		switch {
		case digits < 18:
			m = m*10 + int64(d-'0')
			if m != 0 {
				digits++
			}
			if frac {
				scale--
			}
		case !frac:
			scale++
		}
	}
	for ; i < end && isDigit(b[i]); i++ {
		add(b[i], false)
	}
	if i < end && b[i] == '.' {
		for i++; i < end && isDigit(b[i]); i++ {
			add(b[i], true)
		}
	}
	if i < end && (b[i] == 'e' || b[i] == 'E') {
		i++
		neg := false
		if i < end && (b[i] == '+' || b[i] == '-') {
			neg = b[i] == '-'
			i++
		}
		exp := 0
		for ; i < end && isDigit(b[i]); i++ {
			if exp < 1000 {
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if neg {
			exp = -exp
		}
		scale += exp
	}
	for ; scale > 0 && m != 0; scale-- {
		if m > math.MaxInt64/10 {
			return math.MaxInt64, end
		}
		m *= 10
	}
	for ; scale < 0 && m != 0; scale++ {
		m /= 10
	}
	return m, end
}
