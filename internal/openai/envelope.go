// Package openai is the OpenAI wire surface the gateway touches on its hot
// path, written by hand instead of with encoding/json: the request
// envelope (validated in one pass, with byte offsets so the body can be
// forwarded with in-place patches), usage read from responses and stream
// chunks without decoding them, and the OpenAI error envelope.
package openai

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// Envelope holds what the gateway needs from a request body, plus the
// byte offsets AppendPatched uses. Parse into it with ParseEnvelope; an
// Envelope may be reused (and pooled), and reuse saves allocating the
// Model and User strings when they repeat.
type Envelope struct {
	Model            string // "model", decoded
	Stream           bool   // "stream"
	HasStreamOptions bool   // "stream_options" present and not null
	IncludeUsage     bool   // "stream_options"."include_usage"
	// MaxTokens is max_completion_tokens when given, else max_tokens;
	// 0 when neither is.
	MaxTokens int
	N         int      // "n", 0 when absent
	User      string   // "user"
	Tags      []string // "metadata"."tags"; nil when absent

	// HasModel tells an absent "model" from "model":"".
	HasModel bool

	// Offsets into the body, for AppendPatched. A value offset of 0 means
	// absent: no value can start at 0, where the '{' is.
	bodyLen  int
	open     int // the top-level '{'
	lastEnd  int // end of the last top-level member (open+1 when none)
	modelAt  int // the model value, quotes included: body[modelAt:modelEnd]
	modelEnd int
	soAt     int // the stream_options value: body[soAt:soEnd]
	soEnd    int
	soNull   bool // stream_options is null
	soEmpty  bool // stream_options is {}
	iuAt     int  // the include_usage value inside stream_options
	iuEnd    int
}

// Top-level keys the envelope reads. Each may appear once: with a
// duplicate, the gateway and the upstream could each act on a different
// copy (budget checked against one max_tokens, upstream obeying another).
const (
	keyOther = iota
	keyModel
	keyStream
	keyStreamOptions
	keyMaxTokens
	keyMaxCompletionTokens
	keyN
	keyUser
	keyMetadata
	keyMessages
)

var keyNames = [...]string{
	keyModel:               "model",
	keyStream:              "stream",
	keyStreamOptions:       "stream_options",
	keyMaxTokens:           "max_tokens",
	keyMaxCompletionTokens: "max_completion_tokens",
	keyN:                   "n",
	keyUser:                "user",
	keyMetadata:            "metadata",
	keyMessages:            "messages",
}

// maxKeyLen bounds the keys worth decoding to compare: the longest name
// above, with every letter in its longest case-folding variant (3 bytes).
const maxKeyLen = 3 * len("max_completion_tokens")

func classifyKey(k []byte) int {
	switch string(k) {
	case "model":
		return keyModel
	case "stream":
		return keyStream
	case "stream_options":
		return keyStreamOptions
	case "max_tokens":
		return keyMaxTokens
	case "max_completion_tokens":
		return keyMaxCompletionTokens
	case "n":
		return keyN
	case "user":
		return keyUser
	case "metadata":
		return keyMetadata
	case "messages":
		return keyMessages
	}
	return keyOther
}

// foldsToKey returns the key k is a case-insensitive variant of, if any.
// Go's encoding/json matches struct fields case-insensitively (with
// Unicode folding: "ſtream" is "stream"), so a Go upstream would read
// {"model":"a","MODEL":"b"} as model b while we read a. Such keys are
// refused rather than guessed at.
func foldsToKey(k []byte) int {
	ascii := true
	for _, c := range k {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	for id := keyModel; id < len(keyNames); id++ {
		name := keyNames[id]
		if ascii {
			if len(k) == len(name) && asciiEqualFold(k, name) {
				return id
			}
		} else if bytes.EqualFold(k, []byte(name)) {
			return id
		}
	}
	return keyOther
}

// asciiEqualFold compares k with a lower-case name, ignoring the case of
// ASCII letters in k only.
func asciiEqualFold(k []byte, name string) bool {
	for i := range len(name) {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// ParseEnvelope validates body and fills e. body must be one JSON object
// in strict RFC 8259 syntax, valid UTF-8 throughout (also in \u escapes),
// nested at most MaxDepth deep. The parameters the gateway reads must have
// their documented types (null counts as absent, except for "model") and
// appear only once. A missing model is not an error here. Errors are
// *RequestError. On error, e is reset to its zero value.
//
// Model and User are new strings (body may be reused afterwards), except
// that a value equal to the one e already held is kept without
// allocating, so a pooled Envelope parses requests for the same model
// without allocating.
func ParseEnvelope(body []byte, e *Envelope) error {
	if err := e.parse(body); err != nil {
		// Leave nothing half-filled that a caller could act on.
		*e = Envelope{}
		return err
	}
	return nil
}

func (e *Envelope) parse(body []byte) *RequestError {
	prevModel, prevUser := e.Model, e.User
	*e = Envelope{bodyLen: len(body)}

	i := rawjson.SkipSpace(body, 0)
	if i >= len(body) {
		return &RequestError{Message: "request body is empty; expected a JSON object"}
	}
	if body[i] != '{' {
		if err := skipTopLevel(body, i); err != nil {
			return err
		}
		return &RequestError{Message: "request body must be a JSON object", Offset: i}
	}
	e.open = i
	e.lastEnd = i + 1
	i = rawjson.SkipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		if err := trailing(body, i+1); err != nil {
			return err
		}
		return nil
	}

	var (
		seen          uint32
		hasMaxTokens  bool
		maxTokens     int
		hasMaxCompTok bool
		maxCompTok    int
		err           *RequestError
	)
	for {
		// A member name is expected at i.
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return unexpected(body, i)
		}
		keyAt := i
		var esc bool
		if i, esc, err = scanString(body, i); err != nil {
			return err
		}
		key := body[keyAt+1 : i-1]
		id := keyOther
		if len(key) <= 6*maxKeyLen {
			var tmp [maxKeyLen]byte
			if esc {
				// A key spelled with escapes ("mod\u0065l") is the same key
				// to every JSON parser upstream.
				if d := rawjson.AppendUnescape(tmp[:0], key); len(d) <= maxKeyLen {
					key = d
				}
			}
			id = classifyKey(key)
			if id == keyOther && len(key) <= maxKeyLen {
				if f := foldsToKey(key); f != keyOther {
					return &RequestError{
						Message: "unsupported parameter " + strconv.Quote(string(key)) + " (parameter names are case-sensitive; did you mean '" + keyNames[f] + "'?)",
						Param:   string(key), Offset: keyAt,
					}
				}
			}
		}
		if id != keyOther {
			if seen&(1<<id) != 0 {
				return &RequestError{Message: "duplicate parameter '" + keyNames[id] + "' in request body", Param: keyNames[id], Offset: keyAt}
			}
			seen |= 1 << id
		}
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) || body[i] != ':' {
			return unexpected(body, i)
		}
		i = rawjson.SkipSpace(body, i+1)
		if i >= len(body) {
			return unexpected(body, i)
		}

		at := i
		c := body[i]
		switch id {
		case keyModel:
			if c != '"' {
				return typeError(body, i, "model", "a string")
			}
			if i, err = stringValue(body, i, &e.Model, prevModel); err != nil {
				return err
			}
			e.HasModel, e.modelAt, e.modelEnd = true, at, i
		case keyStream:
			var v bool
			if v, i, err = boolValue(body, i, "stream"); err != nil {
				return err
			}
			e.Stream = v
		case keyStreamOptions:
			if i, err = e.streamOptions(body, i); err != nil {
				return err
			}
		case keyMaxTokens:
			if maxTokens, hasMaxTokens, i, err = intValue(body, i, "max_tokens"); err != nil {
				return err
			}
		case keyMaxCompletionTokens:
			if maxCompTok, hasMaxCompTok, i, err = intValue(body, i, "max_completion_tokens"); err != nil {
				return err
			}
		case keyN:
			if e.N, _, i, err = intValue(body, i, "n"); err != nil {
				return err
			}
		case keyUser:
			switch c {
			case 'n':
				i, err = scanLiteral(body, i, "null")
			case '"':
				i, err = stringValue(body, i, &e.User, prevUser)
			default:
				return typeError(body, i, "user", "a string")
			}
			if err != nil {
				return err
			}
		case keyMetadata:
			if i, err = e.metadata(body, i); err != nil {
				return err
			}
		case keyMessages:
			if c != '[' {
				return typeError(body, i, "messages", "an array")
			}
			if i, err = skipValue(body, i, 1); err != nil {
				return err
			}
		default:
			if i, err = skipValue(body, i, 1); err != nil {
				return err
			}
		}
		e.lastEnd = i

		i = rawjson.SkipSpace(body, i)
		if i >= len(body) {
			return unexpected(body, i)
		}
		switch body[i] {
		case ',':
			i++
			continue
		case '}':
			if hasMaxCompTok {
				e.MaxTokens = maxCompTok
			} else if hasMaxTokens {
				e.MaxTokens = maxTokens
			}
			if err := trailing(body, i+1); err != nil {
				return err
			}
			return nil
		}
		return unexpected(body, i)
	}
}

// skipTopLevel validates a non-object body so that a syntax error is
// reported as such rather than as a wrong type.
func skipTopLevel(body []byte, i int) *RequestError {
	i, err := skipValue(body, i, 0)
	if err != nil {
		return err
	}
	return trailing(body, i)
}

// trailing checks that only whitespace follows the top-level value.
func trailing(body []byte, i int) *RequestError {
	i = rawjson.SkipSpace(body, i)
	if i < len(body) {
		err := unexpected(body, i)
		if body[i] < utf8.RuneSelf {
			err.Message += " after the top-level value"
		}
		return err
	}
	return nil
}

func typeError(body []byte, i int, param, want string) *RequestError {
	// A syntax error in the value is the more fundamental complaint.
	if _, err := skipValue(body, i, 1); err != nil {
		return err
	}
	return &RequestError{Message: "'" + param + "' must be " + want, Param: param, Offset: i}
}

// stringValue scans the string at body[i] into *dst. It keeps prev when
// the value equals it: comparing costs nothing, allocating a copy does.
func stringValue(body []byte, i int, dst *string, prev string) (int, *RequestError) {
	at := i
	i, esc, err := scanString(body, i)
	if err != nil {
		return i, err
	}
	raw := body[at+1 : i-1]
	if esc {
		var tmp [64]byte
		raw = rawjson.AppendUnescape(tmp[:0], raw)
	}
	if prev == string(raw) {
		*dst = prev
	} else {
		*dst = string(raw)
	}
	return i, nil
}

func boolValue(body []byte, i int, param string) (v bool, end int, err *RequestError) {
	switch body[i] {
	case 't':
		end, err = scanLiteral(body, i, "true")
		return true, end, err
	case 'f':
		end, err = scanLiteral(body, i, "false")
		return false, end, err
	case 'n':
		end, err = scanLiteral(body, i, "null")
		return false, end, err
	}
	return false, i, typeError(body, i, param, "a boolean")
}

// maxIntParam bounds integer parameters so that token arithmetic
// downstream (tokens × price) cannot overflow.
const maxIntParam = math.MaxInt32

// intValue reads an integer parameter: a JSON number whose value is a
// whole number ("100", and also "100.0" or "1e2", which Python's json and
// the OpenAI API accept as integers), in [0, MaxInt32], or null (present
// == false).
func intValue(body []byte, i int, param string) (v int, present bool, end int, err *RequestError) {
	c := body[i]
	if c == 'n' {
		end, err = scanLiteral(body, i, "null")
		return 0, false, end, err
	}
	if c != '-' && !isDigit(c) {
		return 0, false, i, typeError(body, i, param, "an integer")
	}
	if end, err = scanNumber(body, i); err != nil {
		return 0, false, end, err
	}
	v, whole, fits := wholeNumber(body[i:end])
	switch {
	case !whole:
		return 0, false, i, &RequestError{Message: "'" + param + "' must be an integer", Param: param, Offset: i}
	case v < 0:
		return 0, false, i, &RequestError{Message: "'" + param + "' must not be negative", Param: param, Offset: i}
	case !fits:
		return 0, false, i, &RequestError{Message: "'" + param + "' is too large (at most " + strconv.Itoa(maxIntParam) + ")", Param: param, Offset: i}
	}
	return v, true, end, nil
}

// wholeNumber evaluates a number that scanNumber accepted. whole reports
// whether it is an integer; if so, v is its sign (-1, 0, 1) times, when
// fits, its magnitude (which is then at most maxIntParam).
func wholeNumber(num []byte) (v int, whole, fits bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	// The digits of the mantissa, without the point, are intDigits then
	// fracDigits; the decimal point sits after point of them.
	mant := num
	exp := 0
	if k := bytes.IndexAny(num, "eE"); k >= 0 {
		mant = num[:k]
		e := num[k+1:]
		expNeg := e[0] == '-'
		if e[0] == '-' || e[0] == '+' {
			e = e[1:]
		}
		for _, d := range e {
			// Beyond this the answer no longer depends on the exponent's
			// exact size, and it cannot overflow.
			if exp < 10000 {
				exp = exp*10 + int(d-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	intDigits, fracDigits := mant, mant[len(mant):]
	if k := bytes.IndexByte(mant, '.'); k >= 0 {
		intDigits, fracDigits = mant[:k], mant[k+1:]
	}
	n := len(intDigits) + len(fracDigits)
	digit := func(k int) byte {
		switch {
		case k < len(intDigits):
			return intDigits[k]
		case k < n:
			return fracDigits[k-len(intDigits)]
		}
		return '0'
	}
	point := len(intDigits) + exp
	for k := max(point, 0); k < n; k++ {
		if digit(k) != '0' {
			return 0, false, false
		}
	}
	fits = true
	for k := 0; k < point; k++ {
		d := int(digit(k) - '0')
		if v > (maxIntParam-d)/10 {
			fits = false
			break
		}
		v = v*10 + d
	}
	if neg && (v != 0 || !fits) {
		return -1, true, fits
	}
	if !fits {
		return 1, true, false
	}
	return v, true, true
}

// streamOptions reads the stream_options value at body[i].
func (e *Envelope) streamOptions(body []byte, i int) (int, *RequestError) {
	at := i
	switch body[i] {
	case 'n':
		end, err := scanLiteral(body, i, "null")
		e.soAt, e.soEnd, e.soNull = at, end, true
		return end, err
	case '{':
	default:
		return i, typeError(body, i, "stream_options", "an object")
	}
	e.HasStreamOptions = true
	i = rawjson.SkipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		e.soAt, e.soEnd, e.soEmpty = at, i+1, true
		return i + 1, nil
	}
	for {
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return i, unexpected(body, i)
		}
		keyAt := i
		var (
			esc bool
			err *RequestError
		)
		i, esc, err = scanString(body, i)
		if err != nil {
			return i, err
		}
		isIU := memberIs(body[keyAt+1:i-1], esc, "include_usage")
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) || body[i] != ':' {
			return i, unexpected(body, i)
		}
		i = rawjson.SkipSpace(body, i+1)
		if i >= len(body) {
			return i, unexpected(body, i)
		}
		if isIU {
			if e.iuAt != 0 {
				return i, &RequestError{Message: "duplicate parameter 'stream_options.include_usage' in request body", Param: "stream_options.include_usage", Offset: keyAt}
			}
			vAt := i
			var v bool
			if v, i, err = boolValue(body, i, "stream_options.include_usage"); err != nil {
				return i, err
			}
			e.IncludeUsage, e.iuAt, e.iuEnd = v, vAt, i
		} else if i, err = skipValue(body, i, 2); err != nil {
			return i, err
		}
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) {
			return i, unexpected(body, i)
		}
		switch body[i] {
		case ',':
			i++
			continue
		case '}':
			e.soAt, e.soEnd = at, i+1
			return i + 1, nil
		}
		return i, unexpected(body, i)
	}
}

// metadata reads the metadata value at body[i], collecting "tags".
func (e *Envelope) metadata(body []byte, i int) (int, *RequestError) {
	switch body[i] {
	case 'n':
		return scanLiteral(body, i, "null")
	case '{':
	default:
		return i, typeError(body, i, "metadata", "an object")
	}
	i = rawjson.SkipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return i + 1, nil
	}
	seenTags := false
	for {
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return i, unexpected(body, i)
		}
		keyAt := i
		var (
			esc bool
			err *RequestError
		)
		i, esc, err = scanString(body, i)
		if err != nil {
			return i, err
		}
		isTags := memberIs(body[keyAt+1:i-1], esc, "tags")
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) || body[i] != ':' {
			return i, unexpected(body, i)
		}
		i = rawjson.SkipSpace(body, i+1)
		if i >= len(body) {
			return i, unexpected(body, i)
		}
		if isTags {
			if seenTags {
				return i, &RequestError{Message: "duplicate parameter 'metadata.tags' in request body", Param: "metadata.tags", Offset: keyAt}
			}
			seenTags = true
			if i, err = e.tags(body, i); err != nil {
				return i, err
			}
		} else if i, err = skipValue(body, i, 2); err != nil {
			return i, err
		}
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) {
			return i, unexpected(body, i)
		}
		switch body[i] {
		case ',':
			i++
			continue
		case '}':
			return i + 1, nil
		}
		return i, unexpected(body, i)
	}
}

func (e *Envelope) tags(body []byte, i int) (int, *RequestError) {
	const param = "metadata.tags"
	switch body[i] {
	case 'n':
		return scanLiteral(body, i, "null")
	case '[':
	default:
		return i, typeError(body, i, param, "an array of strings")
	}
	i = rawjson.SkipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		e.Tags = []string{}
		return i + 1, nil
	}
	// A fresh slice every time: callers may keep Tags after the Envelope
	// is reused.
	e.Tags = make([]string, 0, 4)
	for {
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) {
			return i, unexpected(body, i)
		}
		if body[i] != '"' {
			return i, typeError(body, i, param, "an array of strings")
		}
		at := i
		var (
			esc bool
			err *RequestError
		)
		i, esc, err = scanString(body, i)
		if err != nil {
			return i, err
		}
		raw := body[at+1 : i-1]
		if esc {
			raw = rawjson.AppendUnescape(nil, raw)
		}
		e.Tags = append(e.Tags, string(raw))
		i = rawjson.SkipSpace(body, i)
		if i >= len(body) {
			return i, unexpected(body, i)
		}
		switch body[i] {
		case ',':
			i++
			continue
		case ']':
			return i + 1, nil
		}
		return i, unexpected(body, i)
	}
}

// memberIs compares a raw member name (escapes undecoded) with name.
func memberIs(raw []byte, esc bool, name string) bool {
	if !esc {
		return string(raw) == name
	}
	if len(raw) > 6*len(name) {
		return false
	}
	var tmp [6 * len("include_usage")]byte
	return string(rawjson.AppendUnescape(tmp[:0], raw)) == name
}
