package gemini

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/providertest"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// testCodec pins what would otherwise vary between runs.
var testCodec = Codec{clock: func() int64 { return 1750000000 }, ids: func() string { return "gen-fixed-id" }}

// testKey is one RSA key for every test: generating one takes a while.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pemKey(k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// serviceAccount is a service account key file whose token_uri is tokenURI.
func serviceAccount(tokenURI string) string {
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "sa-project", "private_key_id": "key-1",
		"private_key": pemKey(testKey()), "client_email": "gateway@sa-project.iam.gserviceaccount.com",
		"client_id": "1234", "token_uri": tokenURI,
	})
	return string(b)
}

// fixedTokenServer answers every token request with the same token.
func fixedTokenServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func noEnv(string) (string, bool) { return "", false }

func newTestProvider(t testing.TB) providertest.Prepare {
	client := upstream.New(upstream.Options{})
	t.Cleanup(client.Close)
	tokens := fixedTokenServer(t)
	return func(d *provider.Deployment) (provider.Provider, error) {
		if d.Provider == "vertex_ai" {
			extra := map[string]any{"vertex_credentials": serviceAccount(tokens.URL)}
			for k, v := range d.Extra {
				extra[k] = v
			}
			d.Extra = extra
		}
		if err := Prepare(d, noEnv); err != nil {
			return nil, err
		}
		return provider.NewHTTP(d.Provider, client, testCodec, Ops...), nil
	}
}

// crlfEvents replays a transcript the way Google frames it, with CRLF
// line ends.
func crlfEvents(b []byte) ([][]byte, error) {
	var out [][]byte
	for _, ev := range providertest.SplitEvents(b) {
		out = append(out, bytes.ReplaceAll(ev, []byte("\n"), []byte("\r\n")))
	}
	return out, nil
}

// TestGolden replays every testdata case through a fake upstream: what the
// upstream receives and what the client gets back must match byte for byte.
func TestGolden(t *testing.T) {
	providertest.RunGolden(t, "testdata", newTestProvider(t), providertest.WithStreamFile("crlf", crlfEvents))
}

// TestGoldenOutputsAreValid checks every expected client output of the
// fixtures: JSON bodies parse, and each streamed data payload is JSON.
func TestGoldenOutputsAreValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/response.*")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(f) == ".json" {
			if !json.Valid(b) {
				t.Errorf("%s is not valid JSON", f)
			}
			continue
		}
		checkSSE(t, f, b)
	}
}

// checkSSE checks that every data payload of out but [DONE] is JSON.
func checkSSE(t testing.TB, name string, out []byte) {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(out), 0)
	for {
		ev, err := r.Next()
		if err != nil {
			return
		}
		if string(ev.Data) != "[DONE]" && !json.Valid(ev.Data) {
			t.Fatalf("%s: invalid JSON payload %q", name, ev.Data)
		}
	}
}

// FuzzStreamDecoder feeds arbitrary bytes through the stream reader and
// decoder: no panic, every emitted payload but [DONE] is JSON, and usage
// never decreases.
func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream_response.*")
	for _, file := range files {
		if filepath.Ext(file) == ".json" {
			continue
		}
		b, _ := os.ReadFile(file)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("data: {\"candidates\":[{\"index\":3,\"content\":{\"parts\":[{\"text\":\"\\u00e9\"}]}}]}\n\n"), true)
	f.Fuzz(func(t *testing.T, stream []byte, wantUsage bool) {
		env := &openai.Envelope{Stream: true, IncludeUsage: wantUsage}
		c := &provider.Call{Op: provider.OpChat, Envelope: env, ClientModel: "m", Deployment: &provider.Deployment{Provider: "gemini"}}
		dec := testCodec.NewStreamDecoder(c)
		events := testCodec.NewEventReader(bytes.NewReader(stream))
		var out []byte
		var last int64
		for {
			ev, err := events.Next()
			if err != nil {
				break
			}
			n := len(out)
			var done bool
			out, done, err = dec.Event(ev, out)
			if len(out) > n && !bytes.HasSuffix(out, []byte("\n\n")) {
				t.Fatalf("event not framed: %q", out[n:])
			}
			if u := dec.Usage().TotalTokens; u < last {
				t.Fatalf("usage decreased from %d to %d", last, u)
			} else {
				last = u
			}
			if done || err != nil {
				break
			}
		}
		checkSSE(t, "fuzz", out)
	})
}
