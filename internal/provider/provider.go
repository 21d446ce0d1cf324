// Package provider is the contract between the proxy pipeline and the model
// providers behind it. A provider turns one attempt (a Call) into an upstream
// exchange and hands back a Result in OpenAI shape: a complete body, or a
// Stream of client-ready bytes. Packages below provider/ implement it; the
// pipeline never learns a wire format.
package provider

import (
	"context"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Op is the API operation a request asks for.
type Op uint8

// The operations of the OpenAI surface.
const (
	OpChat Op = iota
	OpCompletion
	OpEmbedding
	OpImageGeneration
	OpSpeech
	OpTranscription
	OpTranslation
	OpModeration
	OpRerank
	numOps
)

var opNames = [numOps]string{"chat", "completion", "embedding", "image_generation", "speech", "transcription", "translation", "moderation", "rerank"}
var opPaths = [numOps]string{"chat/completions", "completions", "embeddings", "images/generations", "audio/speech", "audio/transcriptions", "audio/translations", "moderations", "rerank"}

// String names the operation; it is a bounded metric label.
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "unknown"
}

// Path is the OpenAI path of the operation below the API root, e.g. "chat/completions".
func (o Op) Path() string {
	if o < numOps {
		return opPaths[o]
	}
	return ""
}

// JSONBody reports whether the client body of o is JSON (the others are multipart).
func (o Op) JSONBody() bool { return o != OpTranscription && o != OpTranslation }

// Secret is a credential. It never prints: fmt, slog and JSON all see a redaction.
type Secret string

// String implements fmt.Stringer so a Secret printed by accident is redacted.
func (Secret) String() string { return "[REDACTED]" }

// GoString implements fmt.GoStringer for %#v.
func (Secret) GoString() string { return "[REDACTED]" }

// MarshalText keeps secrets out of JSON and YAML encodings.
func (Secret) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }

// Reveal returns the credential for use on the wire.
func (s Secret) Reveal() string { return string(s) }

// Deployment is one configured upstream serving a model group.
type Deployment struct {
	ID        string // model_info.id, or a hash of its parameters
	ModelName string // the group name clients send
	Provider  string // "openai", "azure", "groq", "mock", ...
	Model     string // the upstream model id (after the provider prefix)

	APIBase      string
	APIVersion   string
	Organization string
	APIKey       Secret
	Headers      [][2]string // extra_headers, sent on every upstream request

	Timeout       time.Duration // whole attempt; 0 = bounded only by the request deadline
	StreamTimeout time.Duration // time to the first upstream byte of a stream; 0 = none

	Extra map[string]any // provider-specific litellm_params

	// DropParams: parameters the provider cannot honour are dropped instead
	// of refused (litellm_settings.drop_params or the deployment's own).
	DropParams bool

	// Signer authenticates each upstream request after it is built (SigV4,
	// Google OAuth tokens); nil when static headers suffice.
	Signer Signer

	// Private is what the provider precomputed for this deployment at start
	// (URLs, headers), so building a request does no string work.
	Private any

	// Impl is the provider that serves this deployment.
	Impl Provider
}

// Signer adds credentials to a built upstream request. It is kept apart
// from translation so that codecs stay pure functions of the request, and
// so that a credential refresh can honour the request's context.
type Signer interface {
	Sign(ctx context.Context, req *upstream.Request) error
}

// Call is the input of one attempt against one deployment.
type Call struct {
	Op         Op
	Deployment *Deployment
	// Body is the client's request body exactly as received.
	Body []byte
	// ContentType is the client's Content-Type (multipart boundaries live there).
	ContentType []byte
	// Envelope is the decoded envelope of a JSON body (nil for multipart).
	Envelope *openai.Envelope
	// ClientModel is the model name the client asked for.
	ClientModel string
}

// Stream reports whether the client asked for a streamed response.
func (c *Call) Stream() bool { return c.Envelope != nil && c.Envelope.Stream }

// ClientWantsUsage reports whether the client asked for the usage chunk.
func (c *Call) ClientWantsUsage() bool { return c.Envelope != nil && c.Envelope.IncludeUsage }

// Provider serves calls for the deployments configured with it. Send returns
// once the response is known to be a success and its first bytes are ready,
// or with an *Error; nothing has reached the client at that point, so the
// pipeline may still retry elsewhere.
//
// Send fills res, which the caller owns (the pipeline pools it).
type Provider interface {
	Name() string
	Supports(op Op) bool
	Send(ctx context.Context, c *Call, res *Result) error
}

// Result is a successful upstream answer in the client's format.
type Result struct {
	Status      int
	ContentType string
	// Body is the complete client body of a non-streamed answer.
	Body  []byte
	Usage openai.Usage
	// Stream yields a streamed answer; nil for non-streamed ones.
	Stream Stream
	// UpstreamLatency is the time from the request being sent to the response
	// headers, so the pipeline can report its own overhead apart from it.
	UpstreamLatency time.Duration
	// Owner holds the memory behind Body; the pipeline releases it once the
	// body is written. May be nil.
	Owner Releaser
}

// Releaser gives back pooled memory.
type Releaser interface{ Release() }

// Stream produces a streamed answer in client-ready bytes (SSE events for chat
// and completions, raw bytes for audio).
type Stream interface {
	// Next appends the next client-ready bytes to dst. It returns io.EOF once
	// the stream is complete (its terminal bytes, e.g. "data: [DONE]", already
	// appended); any other error means the stream failed, and the bytes
	// appended with it are still to be sent before the error is reported.
	Next(dst []byte) ([]byte, error)
	// Usage is the usage seen so far.
	Usage() openai.Usage
	// Close releases the upstream exchange, cancelling it if unfinished.
	Close()
}
