// Package messages is the Anthropic Messages API spoken on top of the
// gateway's OpenAI chat pipeline: requests to POST /v1/messages are turned
// into OpenAI chat requests (ToChat), and the OpenAI answer is turned back
// into an Anthropic message (FromChat) or Anthropic stream events (Stream).
// Any configured model can be reached this way, whatever its provider; the
// pipeline, its limits, budgets and ledger never see the difference.
package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// Options says what the chat request is for, where that changes the
// translation.
type Options struct {
	// Claude: every deployment behind the model serves a Claude model
	// (LiteLLM's test: "claude" in the model name), through a translator
	// that speaks Anthropic's dialect. Anthropic's own members then go
	// through untouched: "thinking" and "output_config" as members, signed
	// thinking blocks of earlier turns as thinking_blocks, cache_control
	// breakpoints, metadata.user_id of any length.
	//
	// For any other model, as LiteLLM does: thinking becomes
	// reasoning_effort and output_config becomes response_format and
	// reasoning_effort; thinking blocks of earlier turns are left out (no
	// other provider can check Anthropic's signatures, and some refuse
	// reasoning sent back to them); cache_control is left out (OpenAI and
	// most compatible servers refuse the member, and cache prompts on their
	// own); and a metadata.user_id longer than OpenAI's 64-character limit
	// for "user" is not forwarded (Claude Code's per-session ids are).
	Claude bool
}

// RequestError is a request the converter refuses; the server answers it
// as a 400 invalid_request_error.
type RequestError struct{ Message string }

func (e *RequestError) Error() string { return e.Message }

func invalid(format string, args ...any) error {
	return &RequestError{Message: fmt.Sprintf(format, args...)}
}

// request is an Anthropic Messages request. Members it does not name are
// found with openai.EachMember and forwarded (see ToChat).
type request struct {
	Model         *string         `json:"model"`
	Messages      []message       `json:"messages"`
	System        json.RawMessage `json:"system"`
	MaxTokens     *int            `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Tools         []tool          `json:"tools"`
	ToolChoice    *toolChoice     `json:"tool_choice"`
	Metadata      *struct {
		UserID *string `json:"user_id"`
	} `json:"metadata"`
	Thinking     json.RawMessage `json:"thinking"`
	OutputConfig json.RawMessage `json:"output_config"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// block is any content block; which members matter depends on Type.
type block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	Source       *source         `json:"source"`
	Title        string          `json:"title"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Input        json.RawMessage `json:"input"`
	ToolUseID    string          `json:"tool_use_id"`
	Content      json.RawMessage `json:"content"`
	IsError      bool            `json:"is_error"`
	Thinking     string          `json:"thinking"`
	CacheControl json.RawMessage `json:"cache_control"`
}

type source struct {
	Type      string `json:"type"` // base64, url, file, text
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
	URL       string `json:"url"`
	FileID    string `json:"file_id"`
}

type tool struct {
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"input_schema"`
	Strict       *bool           `json:"strict"`
	CacheControl json.RawMessage `json:"cache_control"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

// translated are the members ToChat maps itself. Every other member is
// forwarded unless it is in refused.
var translated = map[string]bool{
	"model": true, "messages": true, "system": true, "max_tokens": true, "temperature": true, "top_p": true,
	"stop_sequences": true, "stream": true, "tools": true, "tool_choice": true, "metadata": true,
	"thinking": true, "output_config": true,
}

// refused are OpenAI members that are not Anthropic's. Forwarded, they
// would change what the pipeline does (n, stream_options, a second
// max_tokens) or clash with a member ToChat writes, so they get the 400
// Anthropic itself gives for them.
var refused = map[string]bool{
	"max_completion_tokens": true, "n": true, "user": true, "stream_options": true, "stop": true,
	"parallel_tool_calls": true, "response_format": true, "reasoning_effort": true, "presence_penalty": true,
	"frequency_penalty": true, "seed": true, "logprobs": true, "top_logprobs": true, "logit_bias": true,
	"functions": true, "function_call": true,
}

func foldsToTranslated(name []byte) bool {
	for t := range translated {
		if bytes.EqualFold(name, []byte(t)) {
			return true
		}
	}
	return false
}

// ToChat converts an Anthropic Messages request body into an OpenAI chat
// completions request body, and reports whether it asks for a stream.
//
// Anthropic members with no OpenAI equivalent (top_k, and the ones the
// converter does not know, such as container or context_management) are
// forwarded as members of the chat request under their own names. The
// deployment's provider then treats them as it treats any OpenAI request:
// the Anthropic translator passes native members through, others refuse
// them unless drop_params is set; the converter itself drops only what
// Options says it does.
func ToChat(body []byte, opt Options) ([]byte, bool, error) {
	if out, stream, ok := toChatFast(body, opt); ok {
		return out, stream, nil
	}
	return toChatSlow(body, opt)
}

// toChatSlow is ToChat with encoding/json: the reference the fast path
// writes the same bytes as, and what answers the requests it gives up on
// (refused ones above all, whose messages encoding/json words).
func toChatSlow(body []byte, opt Options) ([]byte, bool, error) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, false, invalid("invalid request body: %s", jsonErrorText(err))
	}
	var bad error
	var extra [][2][]byte
	seen := make(map[string]bool, 8)
	openai.EachMember(body, func(name, value []byte) bool {
		n := string(name)
		switch {
		case translated[n]:
			// encoding/json keeps the last of duplicates; the envelope
			// refuses them for OpenAI bodies, and so does this.
			if seen[n] {
				bad = invalid("%s: duplicate member", n)
				return false
			}
			seen[n] = true
		case refused[n] || foldsToTranslated(name):
			// A case variant ("Model") would be read by encoding/json as
			// the member it folds to, and also forwarded under its own name.
			bad = invalid("%s: Extra inputs are not permitted", n)
			return false
		default:
			extra = append(extra, [2][]byte{name, value})
		}
		return true
	})
	if bad != nil {
		return nil, false, bad
	}
	switch {
	case r.Model == nil || *r.Model == "":
		return nil, false, invalid("model: Field required")
	case r.MaxTokens == nil:
		return nil, false, invalid("max_tokens: Field required")
	case r.Messages == nil:
		return nil, false, invalid("messages: Field required")
	}
	if *r.MaxTokens < 1 {
		return nil, false, invalid("max_tokens: must be greater than or equal to 1")
	}

	out := openai.ChatRequest{
		Model:       *r.Model,
		MaxTokens:   r.MaxTokens,
		Temperature: r.Temperature,
		TopP:        r.TopP,
		Stream:      r.Stream,
		Stop:        openai.Stop(r.StopSequences),
	}
	if r.Stream {
		// Always: message_delta has to carry the usage, and the ledger
		// reads it from the same chunk.
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if r.Metadata != nil && r.Metadata.UserID != nil && (opt.Claude || len(*r.Metadata.UserID) <= maxOpenAIUser) {
		out.User = *r.Metadata.UserID
	}
	if len(r.System) > 0 && string(r.System) != "null" {
		m, err := systemMessage(r.System)
		if err != nil {
			return nil, false, err
		}
		out.Messages = append(out.Messages, m)
	}
	for i := range r.Messages {
		var err error
		if out.Messages, err = appendMessage(out.Messages, &r.Messages[i], i, opt); err != nil {
			return nil, false, err
		}
	}
	if out.Messages == nil {
		out.Messages = []openai.Message{}
	}
	for i := range r.Tools {
		t, err := convertTool(&r.Tools[i], i)
		if err != nil {
			return nil, false, err
		}
		out.Tools = append(out.Tools, t)
	}
	if tc := r.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			out.ToolChoice = json.RawMessage(`"auto"`)
		case "any":
			out.ToolChoice = json.RawMessage(`"required"`)
		case "none":
			out.ToolChoice = json.RawMessage(`"none"`)
		case "tool":
			if tc.Name == "" {
				return nil, false, invalid("tool_choice.name: Field required")
			}
			out.ToolChoice = append(append(json.RawMessage(`{"type":"function","function":{"name":`), openai.AppendString(nil, tc.Name)...), "}}"...)
		default:
			return nil, false, invalid("tool_choice.type: must be one of auto, any, tool, none")
		}
		if tc.DisableParallelToolUse {
			f := false
			out.ParallelToolCalls = &f
		}
	}

	var native [][2][]byte // members forwarded for a Claude model
	if !opt.Claude {
		if err := reasoning(&out, r.Thinking, r.OutputConfig); err != nil {
			return nil, false, err
		}
		dropCacheControl(&out)
	} else {
		for _, m := range [...]struct {
			name string
			raw  json.RawMessage
		}{{"thinking", r.Thinking}, {"output_config", r.OutputConfig}} {
			if len(m.raw) > 0 && string(m.raw) != "null" {
				native = append(native, [2][]byte{[]byte(m.name), m.raw})
			}
		}
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return nil, false, invalid("invalid request: %s", err)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if len(extra) > 0 || len(native) > 0 {
		b = b[:len(b)-1] // the closing brace
		for _, m := range append(native, extra...) {
			b = append(b, ',', '"')
			b = append(b, m[0]...)
			b = append(b, '"', ':')
			b = append(b, m[1]...)
		}
		b = append(b, '}')
	}
	return b, r.Stream, nil
}

// maxOpenAIUser is the longest "user" OpenAI takes.
const maxOpenAIUser = 64

// dropCacheControl removes Anthropic's cache breakpoints, and the parts
// kept only to carry them.
func dropCacheControl(r *openai.ChatRequest) {
	for i := range r.Messages {
		m := &r.Messages[i]
		m.CacheControl = nil
		for j := range m.Content.Parts {
			m.Content.Parts[j].CacheControl = nil
		}
		if p := m.Content.Parts; len(p) == 1 && p[0].Type == "text" {
			m.Content = openai.Content{Text: p[0].Text}
		}
	}
	for i := range r.Tools {
		r.Tools[i].CacheControl = nil
	}
}

// jsonErrorText keeps encoding/json's message but not its Go type names.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + ": wrong type (" + te.Value + ")"
	}
	return err.Error()
}

func systemMessage(raw json.RawMessage) (openai.Message, error) {
	m := openai.Message{Role: "system"}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &m.Content.Text); err != nil {
			return m, invalid("system: %s", jsonErrorText(err))
		}
		return m, nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return m, invalid("system: must be a string or an array of text blocks")
	}
	for i := range blocks {
		if blocks[i].Type != "text" {
			return m, invalid("system.%d.type: system blocks must be text, not %q", i, blocks[i].Type)
		}
	}
	m.Content = textContent(blocks)
	return m, nil
}

// textContent is text blocks as message content: one plain string when that
// loses nothing, else text parts, which keep cache_control breakpoints.
func textContent(blocks []block) openai.Content {
	if len(blocks) == 1 && len(blocks[0].CacheControl) == 0 {
		return openai.Content{Text: blocks[0].Text}
	}
	c := openai.Content{IsParts: true, Parts: make([]openai.ContentPart, len(blocks))}
	for i := range blocks {
		c.Parts[i] = openai.ContentPart{Type: "text", Text: blocks[i].Text, CacheControl: blocks[i].CacheControl}
	}
	return c
}

// parseContent reads a message's content: a string, or an array of blocks
// (each also returned raw, for thinking blocks that must round-trip as
// they are).
func parseContent(raw json.RawMessage, where string) (text string, isText bool, blocks []block, raws []json.RawMessage, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil, nil, invalid("%s.content: Field required", where)
	}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", false, nil, nil, invalid("%s.content: %s", where, jsonErrorText(err))
		}
		return text, true, nil, nil, nil
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return "", false, nil, nil, invalid("%s.content: must be a string or an array of content blocks", where)
		}
		return "", false, nil, nil, invalid("%s.content: %s", where, jsonErrorText(err))
	}
	for i := range blocks {
		if t := blocks[i].Type; t == "thinking" || t == "redacted_thinking" {
			// Thinking goes back to Anthropic byte for byte (its signature
			// covers it), so these turns are also read raw. Only they pay
			// for the second pass.
			if err := json.Unmarshal(raw, &raws); err != nil {
				return "", false, nil, nil, invalid("%s.content: %s", where, jsonErrorText(err))
			}
			break
		}
	}
	return "", false, blocks, raws, nil
}

func appendMessage(dst []openai.Message, m *message, i int, opt Options) ([]openai.Message, error) {
	where := "messages." + strconv.Itoa(i)
	text, isText, blocks, raws, err := parseContent(m.Content, where)
	if err != nil {
		return dst, err
	}
	switch m.Role {
	case "user", "system":
		if isText {
			return append(dst, openai.Message{Role: m.Role, Content: openai.Content{Text: text}}), nil
		}
		return appendUser(dst, m.Role, blocks, where)
	case "assistant":
		if isText {
			return append(dst, openai.Message{Role: "assistant", Content: openai.Content{Text: text}}), nil
		}
		am, keep, err := assistantMessage(blocks, raws, where, opt)
		if err != nil || !keep {
			return dst, err
		}
		return append(dst, am), nil
	}
	return dst, invalid("%s.role: must be user or assistant, not %q", where, m.Role)
}

// appendUser turns a user turn into OpenAI messages: its tool_result blocks
// become role "tool" messages, which OpenAI needs right after the
// assistant's tool calls, and the rest of the turn follows as one user
// message.
func appendUser(dst []openai.Message, role string, blocks []block, where string) ([]openai.Message, error) {
	var rest openai.Content
	rest.IsParts = true
	restCache := 0 // text blocks with cache_control, to know if a plain string would lose them
	for j := range blocks {
		b := &blocks[j]
		bw := where + ".content." + strconv.Itoa(j)
		switch b.Type {
		case "tool_result":
			tm, err := toolMessage(b, bw)
			if err != nil {
				return dst, err
			}
			dst = append(dst, tm)
		case "text", "image", "document":
			p, err := userPart(b, bw)
			if err != nil {
				return dst, err
			}
			if len(p.CacheControl) > 0 {
				restCache++
			}
			rest.Parts = append(rest.Parts, p)
		default:
			return dst, invalid("%s.type: %q blocks are not supported in a %s turn here", bw, b.Type, role)
		}
	}
	if len(rest.Parts) == 0 {
		if len(blocks) == 0 {
			return dst, invalid("%s.content: a %s turn needs at least one content block", where, role)
		}
		return dst, nil
	}
	if len(rest.Parts) == 1 && rest.Parts[0].Type == "text" && restCache == 0 {
		rest = openai.Content{Text: rest.Parts[0].Text}
	}
	return append(dst, openai.Message{Role: role, Content: rest}), nil
}

// userPart converts a text, image or document block to a content part.
func userPart(b *block, where string) (openai.ContentPart, error) {
	p := openai.ContentPart{CacheControl: b.CacheControl}
	switch b.Type {
	case "text":
		p.Type, p.Text = "text", b.Text
		return p, nil
	case "image":
		s := b.Source
		if s == nil {
			return p, invalid("%s.source: Field required", where)
		}
		switch s.Type {
		case "base64":
			p.Type, p.ImageURL = "image_url", &openai.ImageURL{URL: "data:" + s.MediaType + ";base64," + s.Data}
		case "url":
			p.Type, p.ImageURL = "image_url", &openai.ImageURL{URL: s.URL}
		case "file":
			p.Type, p.File = "file", &openai.File{FileID: s.FileID}
		default:
			return p, invalid("%s.source.type: image sources are base64, url or file, not %q", where, s.Type)
		}
		return p, nil
	case "document":
		s := b.Source
		if s == nil {
			return p, invalid("%s.source: Field required", where)
		}
		switch s.Type {
		case "base64":
			mt := s.MediaType
			if mt == "" {
				mt = "application/pdf"
			}
			p.Type, p.File = "file", &openai.File{FileData: "data:" + mt + ";base64," + s.Data, Filename: b.Title}
		case "text":
			p.Type, p.Text = "text", s.Data
		case "file":
			p.Type, p.File = "file", &openai.File{FileID: s.FileID}
		default:
			// A URL document would have to be fetched by the gateway; no
			// OpenAI part takes a document URL.
			return p, invalid("%s.source.type: document sources are base64, text or file here, not %q", where, s.Type)
		}
		return p, nil
	}
	return p, invalid("%s.type: unexpected %q", where, b.Type)
}

// toolMessage converts a tool_result block. OpenAI has no is_error, so an
// error result says so in its text, where the model will read it.
func toolMessage(b *block, where string) (openai.Message, error) {
	m := openai.Message{Role: "tool", ToolCallID: b.ToolUseID, CacheControl: b.CacheControl}
	if b.ToolUseID == "" {
		return m, invalid("%s.tool_use_id: Field required", where)
	}
	raw := bytes.TrimSpace(b.Content)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		m.Content = openai.Content{Text: ""}
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &m.Content.Text); err != nil {
			return m, invalid("%s.content: %s", where, jsonErrorText(err))
		}
	default:
		var blocks []block
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return m, invalid("%s.content: must be a string or an array of content blocks", where)
		}
		m.Content.IsParts = true
		for j := range blocks {
			p, err := userPart(&blocks[j], where+".content."+strconv.Itoa(j))
			if err != nil {
				return m, err
			}
			m.Content.Parts = append(m.Content.Parts, p)
		}
		if len(m.Content.Parts) == 1 && m.Content.Parts[0].Type == "text" && len(m.Content.Parts[0].CacheControl) == 0 {
			m.Content = openai.Content{Text: m.Content.Parts[0].Text}
		}
	}
	if b.IsError {
		const prefix = "Error: "
		if m.Content.IsParts {
			m.Content.Parts = append([]openai.ContentPart{{Type: "text", Text: prefix}}, m.Content.Parts...)
		} else {
			m.Content.Text = prefix + m.Content.Text
		}
	}
	return m, nil
}

// assistantMessage converts an assistant turn; keep is false for a turn
// that held nothing but thinking this model cannot take back.
func assistantMessage(blocks []block, raws []json.RawMessage, where string, opt Options) (m openai.Message, keep bool, err error) {
	m = openai.Message{Role: "assistant"}
	var texts []block
	var reasoning strings.Builder
	dropped := 0
	for j := range blocks {
		b := &blocks[j]
		bw := where + ".content." + strconv.Itoa(j)
		switch b.Type {
		case "text":
			texts = append(texts, *b)
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return m, false, invalid("%s: tool_use blocks need an id and a name", bw)
			}
			args, err := toolArguments(b.Input)
			if err != nil {
				return m, false, invalid("%s.input: %s", bw, err)
			}
			m.ToolCalls = append(m.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: args}})
			if len(b.CacheControl) > 0 {
				// OpenAI tool calls have no cache_control; the message's
				// own is where LiteLLM-style translators look next.
				m.CacheControl = b.CacheControl
			}
		case "thinking", "redacted_thinking":
			if !opt.Claude {
				dropped++
				continue
			}
			m.ThinkingBlocks = append(m.ThinkingBlocks, raws[j])
			reasoning.WriteString(b.Thinking)
		default:
			return m, false, invalid("%s.type: %q blocks are not supported in an assistant turn here", bw, b.Type)
		}
	}
	m.ReasoningContent = reasoning.String()
	switch {
	case len(texts) > 0:
		m.Content = textContent(texts)
	case len(m.ToolCalls) > 0:
		m.Content = openai.Content{IsNull: true}
	case dropped > 0 && len(m.ThinkingBlocks) == 0:
		return m, false, nil
	default:
		m.Content = openai.Content{Text: ""}
	}
	return m, true, nil
}

// toolArguments renders a tool_use input as OpenAI's arguments string.
func toolArguments(input json.RawMessage) (string, error) {
	input = bytes.TrimSpace(input)
	if len(input) == 0 || string(input) == "null" {
		return "{}", nil
	}
	if input[0] != '{' {
		return "", errors.New("must be an object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func convertTool(t *tool, i int) (openai.Tool, error) {
	where := "tools." + strconv.Itoa(i)
	if t.Type != "" && t.Type != "custom" {
		// Server tools (web search, code execution) run at Anthropic and
		// Anthropic-defined client tools (bash, text_editor) have schemas
		// only Claude knows: neither can become an OpenAI function.
		return openai.Tool{}, invalid("%s.type: %q tools are Anthropic-specific and cannot be served through this gateway's Messages API; declare the tool with a name and input_schema", where, t.Type)
	}
	if t.Name == "" {
		return openai.Tool{}, invalid("%s.name: Field required", where)
	}
	params := bytes.TrimSpace(t.InputSchema)
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return openai.Tool{
		Type:         "function",
		Function:     openai.FunctionDef{Name: t.Name, Description: t.Description, Parameters: params, Strict: t.Strict},
		CacheControl: t.CacheControl,
	}, nil
}

// reasoning maps thinking and output_config for a non-Claude model the way
// LiteLLM does: a thinking budget becomes a reasoning_effort, an output
// format becomes response_format.
func reasoning(out *openai.ChatRequest, thinking, outputConfig json.RawMessage) error {
	if len(thinking) > 0 && string(thinking) != "null" {
		var t struct {
			Type         string `json:"type"`
			BudgetTokens int    `json:"budget_tokens"`
		}
		if err := json.Unmarshal(thinking, &t); err != nil {
			return invalid("thinking: %s", jsonErrorText(err))
		}
		switch t.Type {
		case "enabled":
			// LiteLLM's thresholds, except that budgets under 5000 map to
			// "low" rather than "minimal", a value only some OpenAI
			// models accept (Anthropic's smallest budget is 1024).
			switch {
			case t.BudgetTokens >= 10000:
				out.ReasoningEffort = "high"
			case t.BudgetTokens >= 5000:
				out.ReasoningEffort = "medium"
			default:
				out.ReasoningEffort = "low"
			}
		case "adaptive":
			out.ReasoningEffort = "medium"
		case "disabled":
			// The model's default: "none" is not a value most models take.
		default:
			return invalid("thinking.type: must be enabled, adaptive or disabled, not %q", t.Type)
		}
	}
	if len(outputConfig) == 0 || string(outputConfig) == "null" {
		return nil
	}
	var oc struct {
		Effort string `json:"effort"`
		Format *struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	}
	if err := json.Unmarshal(outputConfig, &oc); err != nil {
		return invalid("output_config: %s", jsonErrorText(err))
	}
	switch oc.Effort {
	case "":
	case "low", "medium", "high":
		out.ReasoningEffort = oc.Effort
	case "max":
		out.ReasoningEffort = "high"
	default:
		return invalid("output_config.effort: must be low, medium, high or max, not %q", oc.Effort)
	}
	if f := oc.Format; f != nil {
		if f.Type != "json_schema" || len(f.Schema) == 0 {
			return invalid(`output_config.format: must be {"type":"json_schema","schema":{…}}`)
		}
		out.ResponseFormat = &openai.ResponseFormat{Type: "json_schema", JSONSchema: &openai.JSONSchema{Name: "response", Schema: f.Schema}}
	}
	return nil
}

// Model is the request's "model", read without decoding the rest ("" when
// absent or not a string). The server needs it before converting, to know
// which models the request can reach.
func Model(body []byte) string {
	var model string
	openai.EachMember(body, func(name, value []byte) bool {
		if string(name) != "model" {
			return true
		}
		if s, ok := rawjson.Inner(value); ok && rawjson.SkipPlain(s, 0) == len(s) {
			// Plain ASCII, which encoding/json would take as it is.
			model = string(s)
			return false
		}
		if json.Unmarshal(value, &model) != nil {
			model = ""
		}
		return false
	})
	return model
}
