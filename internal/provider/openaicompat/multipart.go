package openaicompat

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
)

// patchMultipartModel rewrites the "model" field of a multipart form to the
// upstream model name, keeping every other part byte for byte in order and
// the original boundary (so the Content-Type header stays valid).
func patchMultipartModel(body, contentType []byte, model string) ([]byte, string, error) {
	mt, params, err := mime.ParseMediaType(string(contentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, "", errors.New("expected multipart/form-data with a boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	out.Grow(len(body) + len(model))
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(params["boundary"]); err != nil {
		return nil, "", err
	}
	sawModel := false
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", err
		}
		pw, err := w.CreatePart(part.Header)
		if err != nil {
			return nil, "", err
		}
		if part.FormName() == "model" {
			sawModel = true
			_, err = io.WriteString(pw, model)
		} else {
			_, err = io.Copy(pw, part)
		}
		if err != nil {
			return nil, "", err
		}
	}
	if !sawModel {
		if err := w.WriteField("model", model); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), w.FormDataContentType(), nil
}
