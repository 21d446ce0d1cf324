package bedrock

import (
	"bytes"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// Images and documents: Converse takes their bytes inline (base64 in
// JSON) and cannot fetch a URL, and the gateway does not fetch on a
// client's behalf, so only data: URLs are accepted.

// imageFormats maps MIME types to Converse image formats.
var imageFormats = map[string]string{
	"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp",
}

// documentFormats maps MIME types to Converse document formats.
var documentFormats = map[string]string{
	"application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html": "html", "text/plain": "txt", "text/markdown": "md",
}

// image writes an image_url part as an image block of a user turn.
func (w *msgWriter) image(v []byte, param string) error {
	w.block("user")
	return w.imageBlock(v, param)
}

// imageBlock appends {"image":...} for an image_url value.
func (w *msgWriter) imageBlock(v []byte, param string) error {
	var url, format []byte
	if rawjson.IsString(v) {
		url = v
	}
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "url":
			url = it.Value()
		case "format":
			format = it.Value()
		}
	}
	if !rawjson.IsString(url) {
		return provider.BadRequest(param, "an image_url part needs a url")
	}
	u, scratch := rawjson.Unquote(url, w.scratch[:0])
	w.scratch = scratch
	mime, data, ok := splitDataURL(u)
	if !ok {
		if bytes.HasPrefix(u, []byte("http://")) || bytes.HasPrefix(u, []byte("https://")) {
			return provider.BadRequest(param, "bedrock cannot fetch image URLs; send the image inline as a base64 data: URL")
		}
		return provider.BadRequest(param, "an image url must be a base64 data: URL")
	}
	if rawjson.IsString(format) {
		var buf [64]byte
		mime, _ = rawjson.Unquote(format, buf[:0])
	}
	f, ok := imageFormats[string(bytes.ToLower(mime))]
	if !ok {
		return provider.BadRequest(param, "bedrock accepts png, jpeg, gif and webp images, not "+string(mime))
	}
	w.out = append(w.out, `{"image":{"format":"`...)
	w.out = append(w.out, f...)
	w.out = append(w.out, `","source":{"bytes":`...)
	w.out = rawjson.AppendQuoteBytes(w.out, data)
	w.out = append(w.out, "}}}"...)
	return nil
}

// file writes a file part (file_data as a data: URL) as a document block,
// or as an image block for image types.
func (w *msgWriter) file(v []byte, param string) error {
	var data, id, filename, format []byte
	it := rawjson.Members(v)
	for it.Next() {
		switch string(it.Name()) {
		case "file_data":
			data = it.Value()
		case "file_id":
			id = it.Value()
		case "filename":
			filename = it.Value()
		case "format":
			format = it.Value()
		}
	}
	if !rawjson.IsString(data) {
		if !rawjson.IsNull(id) {
			return provider.BadRequest(param+".file_id", "bedrock cannot read uploaded files; send file_data as a base64 data: URL")
		}
		return provider.BadRequest(param, "a file part needs file_data")
	}
	u, scratch := rawjson.Unquote(data, w.scratch[:0])
	w.scratch = scratch
	mime, b64, ok := splitDataURL(u)
	if !ok {
		return provider.BadRequest(param+".file_data", "file_data must be a base64 data: URL")
	}
	if rawjson.IsString(format) {
		var buf [128]byte
		mime, _ = rawjson.Unquote(format, buf[:0])
	}
	lower := string(bytes.ToLower(mime))
	if f, ok := imageFormats[lower]; ok {
		w.block("user")
		w.out = append(w.out, `{"image":{"format":"`...)
		w.out = append(w.out, f...)
		w.out = append(w.out, `","source":{"bytes":`...)
		w.out = rawjson.AppendQuoteBytes(w.out, b64)
		w.out = append(w.out, "}}}"...)
		return nil
	}
	f, ok := documentFormats[lower]
	if !ok {
		return provider.BadRequest(param, "bedrock does not accept files of type "+lower)
	}
	w.docs++
	w.block("user")
	w.out = append(w.out, `{"document":{"format":"`...)
	w.out = append(w.out, f...)
	w.out = append(w.out, `","name":`...)
	w.out = appendDocumentName(w.out, filename, w.docs)
	w.out = append(w.out, `,"source":{"bytes":`...)
	w.out = rawjson.AppendQuoteBytes(w.out, b64)
	w.out = append(w.out, "}}}"...)
	return nil
}

// appendDocumentName writes a document name Converse accepts (letters,
// digits, single spaces, hyphens, parentheses, brackets): the file's
// name without its extension, else "document-<n>".
func appendDocumentName(out, filename []byte, n int) []byte {
	var buf [128]byte
	name, _ := rawjson.Unquote(filename, buf[:0])
	if i := bytes.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	var clean []byte
	space := false
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '(' || c == ')' || c == '[' || c == ']':
			clean = append(clean, c)
			space = false
		case !space && len(clean) > 0:
			clean = append(clean, ' ')
			space = true
		}
		if len(clean) >= 100 {
			break
		}
	}
	clean = bytes.TrimRight(clean, " ")
	if len(clean) == 0 {
		clean = strconv.AppendInt([]byte("document-"), int64(n), 10)
	}
	out = append(out, '"')
	out = append(out, clean...)
	return append(out, '"')
}

// splitDataURL splits "data:<mime>;base64,<data>".
func splitDataURL(u []byte) (mime, data []byte, ok bool) {
	rest, found := bytes.CutPrefix(u, []byte("data:"))
	if !found {
		return nil, nil, false
	}
	meta, data, found := bytes.Cut(rest, []byte(","))
	if !found {
		return nil, nil, false
	}
	mime, found = bytes.CutSuffix(meta, []byte(";base64"))
	if !found {
		return nil, nil, false
	}
	return mime, data, true
}
