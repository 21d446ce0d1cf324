package openai

// Patch kinds, in the order AppendPatched may need them.
const (
	editModelReplace  = iota // body[at:end] is the model value
	editModelInsert          // insert "model":… as the first member
	editSOAppend             // insert ,"stream_options":{…} after the last member
	editSOReplaceNull        // body[at:end] is stream_options: null
	editIUInsert             // insert "include_usage":true first in stream_options
	editIUReplace            // body[at:end] is the include_usage value
)

type edit struct {
	kind, at, end int
}

// AppendPatched appends body to dst with the model value replaced by
// model, and, when forceUsage is set and the request streams,
// stream_options.include_usage set to true so that the upstream reports
// usage:
//   - no stream_options: ,"stream_options":{"include_usage":true} is
//     inserted after the last top-level member;
//   - stream_options without include_usage: "include_usage":true is
//     inserted as its first member;
//   - include_usage false or null: the value is replaced with true;
//   - stream_options null: it is replaced with {"include_usage":true}.
//
// A body without "model" gets "model":<model> as its first member.
// Everything else is copied byte for byte. e must come from a successful
// ParseEnvelope of this same body. Nothing is allocated when dst has room.
func (e *Envelope) AppendPatched(dst, body []byte, model string, forceUsage bool) []byte {
	if len(body) != e.bodyLen || e.lastEnd == 0 {
		panic("openai: AppendPatched with a body that is not the one parsed into the Envelope")
	}
	var edits [2]edit
	n := 0
	if e.HasModel {
		edits[n] = edit{editModelReplace, e.modelAt, e.modelEnd}
	} else {
		edits[n] = edit{editModelInsert, e.open + 1, e.open + 1}
	}
	n++
	if forceUsage && e.Stream {
		switch {
		case e.soAt == 0:
			edits[n] = edit{editSOAppend, e.lastEnd, e.lastEnd}
			n++
		case e.soNull:
			edits[n] = edit{editSOReplaceNull, e.soAt, e.soEnd}
			n++
		case e.iuAt == 0:
			edits[n] = edit{editIUInsert, e.soAt + 1, e.soAt + 1}
			n++
		case !e.IncludeUsage:
			edits[n] = edit{editIUReplace, e.iuAt, e.iuEnd}
			n++
		}
	}
	// Both edits can be insertions at the same offset only for "{}" with
	// the model inserted first, which the order above already gives.
	if n == 2 && edits[1].at < edits[0].at {
		edits[0], edits[1] = edits[1], edits[0]
	}

	prev := 0
	for _, ed := range edits[:n] {
		dst = append(dst, body[prev:ed.at]...)
		switch ed.kind {
		case editModelReplace:
			dst = AppendString(dst, model)
		case editModelInsert:
			dst = append(dst, `"model":`...)
			dst = AppendString(dst, model)
			if e.lastEnd != e.open+1 {
				dst = append(dst, ',')
			}
		case editSOAppend:
			// The comma is unconditional: a model member always precedes
			// this point, inserted at the front if the body had none.
			dst = append(dst, `,"stream_options":{"include_usage":true}`...)
		case editSOReplaceNull:
			dst = append(dst, `{"include_usage":true}`...)
		case editIUInsert:
			dst = append(dst, `"include_usage":true`...)
			if !e.soEmpty {
				dst = append(dst, ',')
			}
		case editIUReplace:
			dst = append(dst, "true"...)
		}
		prev = ed.end
	}
	return append(dst, body[prev:]...)
}
