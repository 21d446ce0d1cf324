package anthropic

import "github.com/switchboard-gw/switchboard/internal/rawjson"

// The translation reads JSON by walking raw bytes (internal/rawjson)
// instead of decoding into structs: encoding/json alone would spend the
// whole per-request budget on a typical chat. Client bodies were validated
// by the envelope parser; upstream bytes were not, so every value written
// back out is either re-escaped or comes from a document known to be valid.

// hasText reports a string value with something in it: Anthropic refuses
// empty text blocks, so empty strings are left out.
func hasText(v []byte) bool { return rawjson.IsString(v) && len(v) > 2 }

// count reads the non-negative integers Anthropic uses for counts,
// indexes and limits; ok is false for anything else (null, a string, a
// negative or fractional number).
func count(v []byte) (n int64, ok bool) {
	n, ok = rawjson.Int(v)
	return n, ok && n >= 0
}
