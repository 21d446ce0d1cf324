package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the expected files of golden fixtures")

// Meta is a case's case.json: what the deployment looks like and how the
// upstream behaves.
type Meta struct {
	Op           string            `json:"op"` // chat (default), completion, embedding, ...
	Provider     string            `json:"provider"`
	Model        string            `json:"model"`         // upstream model id
	ClientModel  string            `json:"client_model"`  // model group name; default "test-model"
	APIBasePath  string            `json:"api_base_path"` // appended to the fake's URL, e.g. "/v1"
	APIKey       string            `json:"api_key"`
	APIVersion   string            `json:"api_version"`
	Organization string            `json:"organization"`
	Headers      map[string]string `json:"headers"`          // extra_headers
	ContentType  string            `json:"content_type"`     // client Content-Type (multipart)
	Status       int               `json:"upstream_status"`  // default 200
	UpHeaders    map[string]string `json:"upstream_headers"` // upstream response headers
	CutAfter     int               `json:"cut_after"`        // cut the upstream stream after N events
	Extra        map[string]any    `json:"extra"`            // provider-specific litellm_params
	DropParams   bool              `json:"drop_params"`      // the deployment drops unsupported params
	// Refused: the provider must refuse the request before sending it
	// (error.json holds the refusal; there is no upstream_request.http).
	Refused bool `json:"refused"`
}

// Files in a case directory. The request and upstream response are inputs;
// the others are expected outputs, rewritten by -update.
const (
	fileMeta             = "case.json"
	fileRequest          = "request.json"
	fileRequestMultipart = "request.multipart"
	fileUpstreamJSON     = "upstream_response.json"
	fileUpstreamSSE      = "upstream_response.sse"
	fileUpstreamRequest  = "upstream_request.http"
	fileResponseJSON     = "response.json"
	fileResponseSSE      = "response.sse"
	fileError            = "error.json"
	fileUsage            = "usage.json"
)

// Prepare turns a case's deployment into a ready provider.
type Prepare func(d *provider.Deployment) (provider.Provider, error)

// Option adjusts RunGolden.
type Option func(*options)

type options struct {
	streams []streamFile
}

type streamFile struct {
	name   string
	encode func([]byte) ([][]byte, error)
}

// WithStreamFile lets a case's recorded stream be upstream_response.<ext>
// in a provider's own framing: encode turns the file into the events the
// fake upstream writes one at a time (NDJSON lines, AWS event-stream frames
// built from a readable description, ...). A case's upstream_headers should
// then give the provider's Content-Type.
func WithStreamFile(ext string, encode func(file []byte) ([][]byte, error)) Option {
	return func(o *options) { o.streams = append(o.streams, streamFile{"upstream_response." + ext, encode}) }
}

// SplitLines cuts an NDJSON transcript into lines, each keeping its '\n'.
func SplitLines(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out, nil
}

// RunGolden runs every case under dir (one t.Run per sub-directory).
func RunGolden(t *testing.T, dir string, prepare Prepare, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		caseDir := filepath.Join(dir, e.Name())
		t.Run(e.Name(), func(t *testing.T) { runCase(t, caseDir, prepare, &o) })
	}
}

var opsByName = map[string]provider.Op{"": provider.OpChat, "chat": provider.OpChat, "completion": provider.OpCompletion,
	"embedding": provider.OpEmbedding, "image_generation": provider.OpImageGeneration, "speech": provider.OpSpeech,
	"transcription": provider.OpTranscription, "translation": provider.OpTranslation, "moderation": provider.OpModeration, "rerank": provider.OpRerank}

func runCase(t *testing.T, dir string, prepare Prepare, o *options) {
	var m Meta
	if err := json.Unmarshal(mustRead(t, dir, fileMeta), &m); err != nil {
		t.Fatalf("%s: %v", fileMeta, err)
	}
	op, ok := opsByName[m.Op]
	if !ok {
		t.Fatalf("unknown op %q", m.Op)
	}
	reply := Reply{Status: m.Status, Header: m.UpHeaders, CutAfter: m.CutAfter}
	if b, err := os.ReadFile(filepath.Join(dir, fileUpstreamSSE)); err == nil {
		reply.Events = SplitEvents(b)
	} else if sf, b := findStreamFile(dir, o); sf != nil {
		if reply.Events, err = sf.encode(b); err != nil {
			t.Fatalf("%s: %v", sf.name, err)
		}
	} else if !m.Refused {
		reply.Body = mustRead(t, dir, fileUpstreamJSON)
	}
	up := NewUpstream(t, reply)

	if m.ClientModel == "" {
		m.ClientModel = "test-model"
	}
	d := &provider.Deployment{ID: "dep-1", ModelName: m.ClientModel, Provider: m.Provider, Model: m.Model,
		APIBase: up.URL + m.APIBasePath, APIKey: provider.Secret(m.APIKey), APIVersion: m.APIVersion, Organization: m.Organization,
		Extra: m.Extra, DropParams: m.DropParams}
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Headers = append(d.Headers, [2]string{k, m.Headers[k]})
	}
	p, err := prepare(d)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	d.Impl = p

	call := &provider.Call{Op: op, Deployment: d, ClientModel: m.ClientModel}
	if op.JSONBody() {
		call.Body = mustRead(t, dir, fileRequest)
		call.Envelope = &openai.Envelope{}
		if err := openai.ParseEnvelope(call.Body, call.Envelope); err != nil {
			t.Fatalf("request.json: %v", err)
		}
	} else {
		call.Body = mustRead(t, dir, fileRequestMultipart)
		call.ContentType = []byte(m.ContentType)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := &provider.Result{}
	sendErr := p.Send(ctx, call, res)
	var out []byte
	var streamErr error
	usage := res.Usage
	if sendErr == nil {
		if res.Stream != nil {
			for {
				out, streamErr = res.Stream.Next(out)
				if streamErr != nil {
					break
				}
			}
			usage = res.Stream.Usage() // a closed stream may be reused: read it first
			res.Stream.Close()
			if errors.Is(streamErr, io.EOF) {
				streamErr = nil
			}
		} else {
			out = append(out, res.Body...)
			if res.Owner != nil {
				res.Owner.Release()
			}
		}
	}

	reqs := up.Requests()
	switch {
	case m.Refused:
		if len(reqs) != 0 || sendErr == nil {
			t.Fatalf("a refused request reached the upstream (%d requests, error %v)", len(reqs), sendErr)
		}
	case len(reqs) != 1:
		t.Fatalf("upstream received %d requests, want 1", len(reqs))
	default:
		check(t, dir, fileUpstreamRequest, renderRequest(reqs[0], up.URL))
	}

	if sendErr == nil {
		b, _ := json.MarshalIndent(usage, "", "  ")
		check(t, dir, fileUsage, append(b, '\n'))
	}
	switch {
	case sendErr != nil:
		check(t, dir, fileError, renderError(sendErr))
	case res.Stream != nil:
		if streamErr != nil {
			out = append(out, "error: "...)
			out = append(out, renderError(streamErr)...)
		}
		check(t, dir, fileResponseSSE, out)
	default:
		check(t, dir, fileResponseJSON, out)
	}
}

func findStreamFile(dir string, o *options) (*streamFile, []byte) {
	for i := range o.streams {
		if b, err := os.ReadFile(filepath.Join(dir, o.streams[i].name)); err == nil {
			return &o.streams[i], b
		}
	}
	return nil, nil
}

// renderRequest shows what reached the upstream: request line, the headers
// a provider controls (sorted), a blank line, the exact body.
func renderRequest(r Received, base string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s", r.Method, r.Path)
	if r.Query != "" {
		fmt.Fprintf(&b, "?%s", r.Query)
	}
	b.WriteString("\n")
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "User-Agent", "Accept-Encoding", "Connection":
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := strings.Join(r.Header[k], ", ")
		if k == "Content-Type" && strings.HasPrefix(v, "multipart/") {
			v = "multipart/form-data; boundary=(as sent by the client)"
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	b.WriteString("\n")
	b.Write(r.Body)
	return b.Bytes()
}

func renderError(err error) []byte {
	e := provider.AsError(err)
	b, _ := json.MarshalIndent(map[string]any{
		"status": e.Status, "type": e.Type, "code": e.Code, "param": e.Param, "message": e.Message,
		"retryable": e.Retryable, "retry_after_seconds": e.RetryAfter.Seconds(), "may_have_been_sent": e.MayHaveBeenSent,
	}, "", "  ")
	return append(b, '\n')
}

func check(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s missing (run with -update to create it): got\n%s", name, got)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
