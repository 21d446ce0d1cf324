package openai

// EachMember calls fn with the raw name (escapes not decoded) and raw value
// of each top-level member of a JSON object, in order, until fn returns
// false. It does not allocate and stops quietly at malformed input: callers
// run it on bodies the envelope parser already validated.
func EachMember(obj []byte, fn func(name, value []byte) bool) {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return
	}
	i++
	for {
		name, val, ok := nextMember(obj, i)
		if !ok {
			return
		}
		end := laxSkip(obj, val)
		if !fn(name, obj[val:end]) {
			return
		}
		i = end
	}
}
