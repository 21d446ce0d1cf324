package ollama

import (
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// appendContent appends a message's content as one JSON string (Ollama's
// content is a string: text parts are joined) and returns its images as
// the raw base64 Ollama takes.
func appendContent(c *provider.Call, b, scratch, content []byte, i int) ([]byte, []byte, []string, error) {
	if content == nil || isNull(content) {
		return append(b, `""`...), scratch, nil, nil
	}
	if isString(content) {
		return append(b, content...), scratch, nil, nil
	}
	scratch, images, err := collectParts(c, scratch[:0], nil, content, i)
	if err != nil {
		return b, scratch, nil, err
	}
	return openai.AppendString(b, string(scratch)), scratch, images, nil
}

// collectParts appends the text of content (a string, an array of parts
// or null) to text, and its images to images.
func collectParts(c *provider.Call, text []byte, images []string, content []byte, i int) ([]byte, []string, error) {
	switch {
	case content == nil || isNull(content):
		return text, images, nil
	case isString(content):
		return appendUnquoted(text, content), images, nil
	}
	e := openArray(content)
	for k := 0; ; k++ {
		v, ok := e.next()
		if !ok {
			break
		}
		p, ok := readPart(v)
		switch {
		case !ok || !isString(p.typ):
			return text, images, provider.BadRequest(partPath(i, k), "a content part must be an object with a \"type\"")
		case p.is("text"):
			text = unquoteTo(text, p.text)
		case p.is("image_url"):
			img, err := inlineImage(c, p.url, i, k)
			if err != nil {
				return text, images, err
			}
			if img != "" {
				images = append(images, img)
			}
		case !c.DropParams():
			return text, images, provider.UnsupportedParam(c, partPath(i, k), "Ollama takes text and image parts only, not "+string(p.typ))
		}
	}
	if e.err != nil {
		return text, images, provider.BadRequest("messages["+strconv.Itoa(i)+"].content", "content must be a string, an array of content parts, or null")
	}
	return text, images, nil
}

func partPath(i, k int) string {
	return "messages[" + strconv.Itoa(i) + "].content[" + strconv.Itoa(k) + "]"
}

// inlineImage returns an image part's URL as the raw base64 Ollama takes.
// Ollama fetches nothing, and neither does the gateway: an http(s) URL is
// refused (or, with drop_params, the image is left out and "" returned).
func inlineImage(c *provider.Call, rawURL []byte, i, k int) (string, error) {
	if !isString(rawURL) {
		return "", provider.BadRequest(partPath(i, k)+".image_url", "image_url part without a url")
	}
	u := string(appendUnquoted(nil, rawURL))
	if mime, data, ok := openai.DataURL(u); ok {
		if mime != "" && !strings.HasPrefix(mime, "image/") {
			if c.DropParams() {
				return "", nil
			}
			return "", provider.UnsupportedParam(c, partPath(i, k)+".image_url", "Ollama takes images only, not "+mime)
		}
		return data, nil
	}
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		if c.DropParams() {
			return "", nil
		}
		return "", provider.UnsupportedParam(c, partPath(i, k)+".image_url",
			"Ollama does not fetch image URLs; send the image inline as a data:image/...;base64 URL")
	}
	// Anything else is taken as base64 already, as LiteLLM does.
	return u, nil
}
