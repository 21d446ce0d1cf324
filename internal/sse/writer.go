package sse

import "bytes"

// AppendData appends one unnamed event carrying payload:
// "data: <payload>\n\n". A payload containing line breaks (CR, LF or
// CRLF) is split into several data lines, which a conforming reader joins
// back with "\n"; writing it raw would end the event early and let payload
// bytes be read as fields.
func AppendData(dst, payload []byte) []byte {
	dst = appendData(dst, payload)
	return append(dst, '\n')
}

// AppendEvent appends one named event: "event: <name>\ndata: <payload>\n\n".
// An empty name writes no event line (readers treat both the same). CR and
// LF bytes in name are dropped, since they would end the field line.
func AppendEvent(dst []byte, name string, payload []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		for i := 0; i < len(name); i++ {
			if c := name[i]; c != '\r' && c != '\n' {
				dst = append(dst, c)
			}
		}
		dst = append(dst, '\n')
	}
	dst = appendData(dst, payload)
	return append(dst, '\n')
}

// appendData writes payload as one or more "data: " lines, each ended by
// LF.
func appendData(dst, payload []byte) []byte {
	for {
		i := bytes.IndexByte(payload, '\n')
		seg := payload
		if i >= 0 {
			seg = payload[:i]
		}
		if j := bytes.IndexByte(seg, '\r'); j >= 0 {
			dst = append(append(append(dst, "data: "...), payload[:j]...), '\n')
			payload = payload[j+1:]
			if len(payload) > 0 && payload[0] == '\n' {
				payload = payload[1:]
			}
			continue
		}
		dst = append(append(append(dst, "data: "...), seg...), '\n')
		if i < 0 {
			return dst
		}
		payload = payload[i+1:]
	}
}
