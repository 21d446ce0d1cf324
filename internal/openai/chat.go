package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// The typed chat surface below is for translating providers only: the
// OpenAI-compatible path never decodes a request (it forwards the client's
// bytes with patches). A translator decodes a ChatRequest, encodes its own
// native request, and writes the answer back with ChatResponse (whole) or a
// ChunkWriter (streamed).

// ChatRequest is an OpenAI chat.completions request.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	User                string          `json:"user,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
}

// OutputLimit is max_completion_tokens when given, else max_tokens (0: neither).
func (r *ChatRequest) OutputLimit() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// StreamOptions is "stream_options".
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Stop is "stop": a string or an array of strings, held as the array.
type Stop []string

// UnmarshalJSON accepts a string, an array of strings, or null.
func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// Message is one entry of "messages".
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// ReasoningContent and ThinkingBlocks are LiteLLM's fields for a
	// model's reasoning; ThinkingBlocks carry Anthropic's signed thinking so
	// that it round-trips into the next turn.
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []json.RawMessage `json:"thinking_blocks,omitempty"`
	CacheControl     json.RawMessage   `json:"cache_control,omitempty"`
}

// Content is a message's "content": a string, an array of parts, or null.
type Content struct {
	Text    string
	Parts   []ContentPart
	IsParts bool // the array form, even when empty
	IsNull  bool // null or absent
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*c = Content{}
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		c.IsNull = true
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		c.IsParts = true
		return json.Unmarshal(b, &c.Parts)
	}
	return errors.New("content must be a string, an array of content parts, or null")
}

// MarshalJSON implements json.Marshaler.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.IsParts:
		if c.Parts == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(c.Parts)
	case c.IsNull:
		return []byte("null"), nil
	}
	return AppendString(nil, c.Text), nil
}

// JoinedText is the text of the content: the string, or its text parts
// concatenated (what a provider without content parts receives).
func (c *Content) JoinedText() string {
	if !c.IsParts {
		return c.Text
	}
	var n int
	for i := range c.Parts {
		n += len(c.Parts[i].Text)
	}
	b := make([]byte, 0, n)
	for i := range c.Parts {
		if c.Parts[i].Type == "text" {
			b = append(b, c.Parts[i].Text...)
		}
	}
	return string(b)
}

// ContentPart is one element of an array "content".
type ContentPart struct {
	Type         string          `json:"type"` // text, image_url, input_audio, file, refusal
	Text         string          `json:"text,omitempty"`
	Refusal      string          `json:"refusal,omitempty"`
	ImageURL     *ImageURL       `json:"image_url,omitempty"`
	InputAudio   *InputAudio     `json:"input_audio,omitempty"`
	File         *File           `json:"file,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ImageURL is an image part: an https URL or a data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
	Format string `json:"format,omitempty"` // LiteLLM's explicit MIME type
}

// InputAudio is an audio part.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// File is a file part.
type File struct {
	FileID   string `json:"file_id,omitempty"`
	FileData string `json:"file_data,omitempty"`
	Filename string `json:"filename,omitempty"`
	Format   string `json:"format,omitempty"`
}

// DataURL splits a "data:<mime>;base64,<data>" URL; ok is false for any
// other URL.
func DataURL(u string) (mime, data string, ok bool) {
	const prefix = "data:"
	if len(u) < len(prefix) || u[:len(prefix)] != prefix {
		return "", "", false
	}
	rest := u[len(prefix):]
	comma := strings.IndexByte(rest, ',')
	if comma < 0 {
		return "", "", false
	}
	meta := rest[:comma]
	const b64 = ";base64"
	if len(meta) < len(b64) || meta[len(meta)-len(b64):] != b64 {
		return "", "", false
	}
	return meta[:len(meta)-len(b64)], rest[comma+1:], true
}

// ToolCall is an assistant's call of a function tool. Index is set only in
// stream deltas.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function half of a ToolCall; Arguments is JSON text.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool is one entry of "tools".
type Tool struct {
	Type         string          `json:"type"`
	Function     FunctionDef     `json:"function"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// FunctionDef declares a function tool; Parameters is a JSON Schema.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is "tool_choice" decoded: Mode is "auto", "none" or
// "required", or "function" with Function naming the tool. Mode "" means
// the request had none.
type ToolChoice struct {
	Mode     string
	Function string
}

// ParseToolChoice decodes a raw "tool_choice".
func ParseToolChoice(raw json.RawMessage) (ToolChoice, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ToolChoice{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return ToolChoice{}, err
		}
		switch s {
		case "auto", "none", "required":
			return ToolChoice{Mode: s}, nil
		}
		return ToolChoice{}, errors.New(`tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return ToolChoice{}, err
	}
	if obj.Type != "function" || obj.Function.Name == "" {
		return ToolChoice{}, errors.New(`tool_choice object must be {"type":"function","function":{"name":…}}`)
	}
	return ToolChoice{Mode: "function", Function: obj.Function.Name}, nil
}

// ResponseFormat is "response_format".
type ResponseFormat struct {
	Type       string      `json:"type"` // text, json_object, json_schema
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is response_format.json_schema.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ChatResponse is a chat.completion object.
type ChatResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"` // "chat.completion"
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint *string      `json:"system_fingerprint"`
	Choices           []Choice     `json:"choices"`
	Usage             *UsageObject `json:"usage,omitempty"`
}

// Choice is one element of a chat.completion's "choices".
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"` // null unless the provider gives them
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is an assistant message in a response. Content is null
// when the answer is only tool calls.
type ResponseMessage struct {
	Role             string            `json:"role"`
	Content          *string           `json:"content"`
	Refusal          *string           `json:"refusal"`
	ToolCalls        []ToolCall        `json:"tool_calls,omitempty"`
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []json.RawMessage `json:"thinking_blocks,omitempty"`
}

// ChatChunk is a chat.completion.chunk, for code that reads OpenAI streams
// (the Anthropic-format front door); writers use ChunkWriter.
type ChatChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *UsageObject  `json:"usage,omitempty"`
	Error   *Error        `json:"error,omitempty"`
}

// ChunkChoice is one element of a chunk's "choices".
type ChunkChoice struct {
	Index        int     `json:"index"`
	Delta        Delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

// Delta is a chunk choice's "delta".
type Delta struct {
	Role             string            `json:"role,omitempty"`
	Content          *string           `json:"content,omitempty"`
	Refusal          *string           `json:"refusal,omitempty"`
	ToolCalls        []ToolCall        `json:"tool_calls,omitempty"`
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []json.RawMessage `json:"thinking_blocks,omitempty"`
}

// UsageObject is the JSON "usage" object of a response or usage chunk.
type UsageObject struct {
	PromptTokens            int64                    `json:"prompt_tokens"`
	CompletionTokens        int64                    `json:"completion_tokens"`
	TotalTokens             int64                    `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
	// LiteLLM's Anthropic-style cache counters, kept for clients that read them.
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
}

// PromptTokensDetails is usage.prompt_tokens_details.
type PromptTokensDetails struct {
	CachedTokens     int64 `json:"cached_tokens"`
	AudioTokens      int64 `json:"audio_tokens,omitempty"`
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
}

// CompletionTokensDetails is usage.completion_tokens_details.
type CompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
	AudioTokens     int64 `json:"audio_tokens,omitempty"`
}

// Object renders u as the JSON usage object.
func (u Usage) Object() *UsageObject {
	o := &UsageObject{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens,
		CacheCreationInputTokens: u.CacheWriteTokens, CacheReadInputTokens: u.CachedTokens}
	if o.TotalTokens == 0 {
		o.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	o.PromptTokensDetails = &PromptTokensDetails{CachedTokens: u.CachedTokens, AudioTokens: u.AudioPromptTokens, CacheWriteTokens: u.CacheWriteTokens}
	if u.ReasoningTokens > 0 || u.AudioCompletionTokens > 0 {
		o.CompletionTokensDetails = &CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens, AudioTokens: u.AudioCompletionTokens}
	}
	return o
}
