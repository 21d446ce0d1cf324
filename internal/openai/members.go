package openai

import "github.com/switchboard-gw/switchboard/internal/rawjson"

// EachMember calls fn with the raw name (escapes not decoded) and raw value
// of each top-level member of a JSON object, in order, until fn returns
// false. It does not allocate and stops quietly at malformed input: callers
// run it on bodies the envelope parser already validated.
func EachMember(obj []byte, fn func(name, value []byte) bool) {
	for it := rawjson.Members(obj); it.Next(); {
		if !fn(it.Name(), it.Value()) {
			return
		}
	}
}
