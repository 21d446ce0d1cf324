package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

var (
	sseDone     = []byte("data: [DONE]\n\n")
	sseData     = []byte("data:")
	doneToken   = []byte("[DONE]")
	errorKey    = []byte(`"error"`)
	choicesKey  = []byte(`"choices"`)
	errNoDone   = errors.New("stream does not end with \"data: [DONE]\\n\\n\"")
	errEarlyEnd = errors.New("[DONE] is not the last event")
)

// ValidateStream checks a complete SSE body the way a strict client would:
// it must end with "data: [DONE]\n\n", every other data line must be valid
// JSON, none may be an error event, and, when expectEvents > 0, exactly that
// many JSON events must precede [DONE]. Any violation means the client got
// a truncated or corrupted stream.
//
// An error event is recognised by the substring "error" (with quotes): the
// fake upstream's chunks never contain it, so any occurrence was injected
// on the way (e.g. a gateway reporting a mid-stream upstream failure).
func ValidateStream(body []byte, expectEvents int) error {
	if !bytes.HasSuffix(body, sseDone) {
		return errNoDone
	}
	events := 0
	rest := body
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if !bytes.HasPrefix(line, sseData) {
			// Blank separators, comments (": keep-alive"), event:/id: lines.
			continue
		}
		payload := bytes.TrimPrefix(line[len(sseData):], []byte{' '})
		if bytes.Equal(payload, doneToken) {
			if len(bytes.TrimSpace(rest)) != 0 {
				return errEarlyEnd
			}
			break
		}
		if !json.Valid(payload) {
			return fmt.Errorf("event %d is not valid JSON: %.80q", events+1, payload)
		}
		if bytes.Contains(payload, errorKey) {
			return fmt.Errorf("event %d is an error event: %.120s", events+1, payload)
		}
		events++
	}
	if expectEvents > 0 && events != expectEvents {
		return fmt.Errorf("stream has %d JSON events, want %d", events, expectEvents)
	}
	return nil
}

// ValidateCompletion checks a non-streaming body: valid JSON with choices
// and no error object.
func ValidateCompletion(body []byte) error {
	if !json.Valid(body) {
		return fmt.Errorf("body is not valid JSON: %.80q", body)
	}
	if bytes.Contains(body, errorKey) || !bytes.Contains(body, choicesKey) {
		return fmt.Errorf("body is not a chat completion: %.120s", body)
	}
	return nil
}
