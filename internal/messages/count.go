package messages

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"
)

// TokenInput is what POST /v1/messages/count_tokens counts: the text of
// the system prompt, the messages and the tool definitions, and what
// cannot be counted as text.
type TokenInput struct {
	Model string
	// Text is every countable string, separated by newlines: system text,
	// message text, tool calls (name and input) and tool results, and each
	// tool's name, description and input_schema.
	Text string
	// Messages is the number of messages, each of which costs a few
	// tokens of framing (counted as 3, OpenAI's figure).
	Messages int
	// ImageTokens estimates the images with Anthropic's published formula,
	// width × height / 750 after scaling to at most 1568 px on the long
	// edge and about 1.15 megapixels; an image whose size cannot be read
	// here (a URL, a file id, WebP) counts as the largest, 1600.
	ImageTokens int
}

// Tokens is the request's count, given what a tokenizer makes of Text.
func (in *TokenInput) Tokens(textTokens int) int {
	return textTokens + 3*in.Messages + 3 + in.ImageTokens
}

// CountInput reads a count_tokens request. Thinking blocks of earlier
// turns are not counted (Anthropic drops them from the context), nor is the
// content of PDF documents, which would need a PDF parser.
func CountInput(body []byte) (TokenInput, error) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return TokenInput{}, invalid("invalid request body: %s", jsonErrorText(err))
	}
	if r.Model == nil || *r.Model == "" {
		return TokenInput{}, invalid("model: Field required")
	}
	if r.Messages == nil {
		return TokenInput{}, invalid("messages: Field required")
	}
	in := TokenInput{Model: *r.Model, Messages: len(r.Messages)}
	var t strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if t.Len() > 0 {
			t.WriteByte('\n')
		}
		t.WriteString(s)
	}
	if sys := bytes.TrimSpace(r.System); len(sys) > 0 && string(sys) != "null" {
		m, err := systemMessage(sys)
		if err != nil {
			return in, err
		}
		add(m.Content.JoinedText())
		in.Messages++
	}
	for i := range r.Messages {
		where := "messages." + strconv.Itoa(i)
		text, isText, blocks, _, err := parseContent(r.Messages[i].Content, where)
		if err != nil {
			return in, err
		}
		if isText {
			add(text)
			continue
		}
		for j := range blocks {
			if err := in.addBlock(&blocks[j], add); err != nil {
				return in, invalid("%s.content.%d: %s", where, j, err)
			}
		}
	}
	for i := range r.Tools {
		tl := &r.Tools[i]
		add(tl.Name)
		add(tl.Description)
		if s := bytes.TrimSpace(tl.InputSchema); len(s) > 0 {
			add(string(s))
		}
	}
	in.Text = t.String()
	return in, nil
}

func (in *TokenInput) addBlock(b *block, add func(string)) error {
	switch b.Type {
	case "text":
		add(b.Text)
	case "image":
		in.ImageTokens += imageTokens(b.Source)
	case "document":
		if b.Source != nil && b.Source.Type == "text" {
			add(b.Source.Data)
		}
		add(b.Title)
	case "tool_use":
		add(b.Name)
		if s := bytes.TrimSpace(b.Input); len(s) > 0 {
			add(string(s))
		}
	case "tool_result":
		raw := bytes.TrimSpace(b.Content)
		switch {
		case len(raw) == 0 || string(raw) == "null":
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			add(s)
		default:
			var inner []block
			if err := json.Unmarshal(raw, &inner); err != nil {
				return err
			}
			for k := range inner {
				if err := in.addBlock(&inner[k], add); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// largestImage is the token cost of an image at Anthropic's size limit.
const largestImage = 1600

func imageTokens(s *source) int {
	if s == nil || s.Type != "base64" {
		return largestImage
	}
	r := base64.NewDecoder(base64.StdEncoding, strings.NewReader(s.Data))
	var decode func(io.Reader) (image.Config, error)
	switch s.MediaType {
	case "image/png":
		decode = png.DecodeConfig
	case "image/jpeg":
		decode = jpeg.DecodeConfig
	case "image/gif":
		decode = gif.DecodeConfig
	default:
		return largestImage
	}
	cfg, err := decode(r)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return largestImage
	}
	w, h := float64(cfg.Width), float64(cfg.Height)
	if long := max(w, h); long > 1568 {
		w, h = w*1568/long, h*1568/long
	}
	if area := w * h; area > 1.15e6 {
		f := math.Sqrt(1.15e6 / area)
		w, h = w*f, h*f
	}
	return min(int(w*h/750+0.999), largestImage)
}
