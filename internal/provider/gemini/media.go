package gemini

import (
	"bytes"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// media writes an image, audio or file part. Inline data (data: URLs,
// input_audio) becomes inlineData; a URL becomes fileData, which Gemini
// fetches itself (Files API and gs:// URIs, and public http(s) URLs) but
// only with a MIME type, taken from the part's "format" or guessed from
// the URL's extension. The gateway never downloads a URL on a client's
// behalf. All values are raw JSON string bodies, copied as they are.
func (w *chatBuilder) media(role string, i, j int, cp *contentPart) error {
	pp := func(field string) string { return partParam(i, j) + field }
	var mime, data, uri []byte
	format := cp.format
	switch string(cp.typ) {
	case "image_url":
		if len(cp.url) == 0 {
			return provider.BadRequest(pp(".image_url.url"), "image_url.url is required")
		}
		uri = cp.url
	case "input_audio":
		if len(cp.audio) == 0 {
			return provider.BadRequest(pp(".input_audio.data"), "input_audio.data is required")
		}
		if len(cp.audioFormat) == 0 {
			return provider.BadRequest(pp(".input_audio.format"), "input_audio.format is required")
		}
		w.part(role)
		w.b = append(w.b, `{"inlineData":{"mimeType":"`...)
		w.b = appendAudioMIME(w.b, cp.audioFormat)
		w.b = append(w.b, `","data":"`...)
		w.b = append(w.b, cp.audio...)
		w.b = append(w.b, `"}}`...)
		return nil
	case "file":
		if len(cp.url) == 0 {
			return provider.BadRequest(pp(".file"), "file needs file_data or file_id")
		}
		uri = cp.url
	}
	field := ".image_url"
	if string(cp.typ) == "file" {
		field = ".file"
	}
	if m, d, ok := dataURL(uri); ok {
		mime, data = m, d
		if len(format) > 0 {
			mime = format
		}
		if len(mime) == 0 {
			return provider.BadRequest(pp(field), "the data: URL names no media type")
		}
		w.part(role)
		w.b = append(w.b, `{"inlineData":{"mimeType":"`...)
		w.b = append(w.b, mime...)
		w.b = append(w.b, `","data":"`...)
		w.b = append(w.b, data...)
		w.b = append(w.b, `"}}`...)
		return nil
	}
	if !cp.fileID && !remote(uri) {
		return provider.BadRequest(pp(field), w.c.Deployment.Provider+" takes media as a base64 data: URL or an http(s):// or gs:// URL")
	}
	guessed := ""
	if len(format) == 0 {
		guessed = guessMIME(uri)
	}
	// An uploaded file (file_id) has a known type; a URL must be given one.
	if len(format) == 0 && guessed == "" && !cp.fileID {
		return provider.BadRequest(pp(field), "cannot tell the media type of "+strconv.Quote(string(uri))+" from its name; set \"format\" (e.g. \"image/png\") or send a base64 data: URL")
	}
	w.part(role)
	w.b = append(w.b, `{"fileData":{`...)
	if len(format) > 0 || guessed != "" {
		w.b = append(w.b, `"mimeType":"`...)
		w.b = append(w.b, format...)
		w.b = append(w.b, guessed...)
		w.b = append(w.b, `",`...)
	}
	w.b = append(w.b, `"fileUri":"`...)
	w.b = append(w.b, uri...)
	w.b = append(w.b, `"}}`...)
	return nil
}

// dataURL splits "data:<mime>;base64,<data>".
func dataURL(u []byte) (mime, data []byte, ok bool) {
	rest, found := bytes.CutPrefix(u, []byte("data:"))
	if !found {
		return nil, nil, false
	}
	meta, data, found := bytes.Cut(rest, []byte(","))
	if !found {
		return nil, nil, false
	}
	mime, found = bytes.CutSuffix(meta, []byte(";base64"))
	return mime, data, found
}

func remote(u []byte) bool {
	return bytes.HasPrefix(u, []byte("https:")) || bytes.HasPrefix(u, []byte("http:")) || bytes.HasPrefix(u, []byte("gs:"))
}

// appendAudioMIME maps OpenAI's input_audio.format ("wav", "mp3") to the
// MIME types Gemini lists for audio.
func appendAudioMIME(dst, format []byte) []byte {
	switch {
	case bytes.IndexByte(format, '/') >= 0: // already a MIME type
		return append(dst, format...)
	case string(format) == "mpeg":
		return append(dst, "audio/mp3"...)
	}
	return append(append(dst, "audio/"...), format...)
}

// guessMIME guesses a URL's media type from its extension, among the
// types Gemini accepts. mime.TypeByExtension is not used: its answers
// depend on the host's MIME tables.
func guessMIME(u []byte) string {
	if i := bytes.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	dot := bytes.LastIndexByte(u, '.')
	if dot < 0 || bytes.IndexByte(u[dot:], '/') >= 0 || len(u)-dot > 6 {
		return ""
	}
	var ext [6]byte
	n := copy(ext[:], u[dot:])
	for k := range n {
		if c := ext[k]; 'A' <= c && c <= 'Z' {
			ext[k] = c + 'a' - 'A'
		}
	}
	switch string(ext[:n]) {
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".gif":
		return "image/gif"
	case ".heic":
		return "image/heic"
	case ".heif":
		return "image/heif"
	case ".pdf":
		return "application/pdf"
	case ".txt":
		return "text/plain"
	case ".mp3":
		return "audio/mp3"
	case ".wav":
		return "audio/wav"
	case ".flac":
		return "audio/flac"
	case ".ogg":
		return "audio/ogg"
	case ".aac":
		return "audio/aac"
	case ".mp4":
		return "video/mp4"
	case ".mov":
		return "video/mov"
	case ".webm":
		return "video/webm"
	}
	return ""
}
