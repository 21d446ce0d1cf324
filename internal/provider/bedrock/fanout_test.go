package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Titan embeds one text per call: several texts become one call each,
// merged back in input order with their usage summed.
func TestTitanEmbeddingsFanOut(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct {
			InputText string `json:"inputText"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &in); err != nil {
			t.Errorf("body %s", b)
		}
		if in.InputText == "fail" {
			w.Header().Set("x-amzn-ErrorType", "ValidationException")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"message":"bad text"}`)
			return
		}
		// The vector encodes the text's length, so order can be checked.
		fmt.Fprintf(w, `{"embedding":[%d.5,-1],"inputTextTokenCount":%d}`, len(in.InputText), len(in.InputText))
	}))
	defer srv.Close()
	client := upstream.New(upstream.Options{})
	defer client.Close()
	p := New(client)
	d := testDeployment(t, "amazon.titan-embed-text-v2:0", nil)
	d.APIBase = srv.URL
	if err := Prepare(d, testEnv(t, nil)); err != nil {
		t.Fatal(err)
	}

	var res provider.Result
	c := testCall(t, d, provider.OpEmbedding, `{"model":"m","input":["a","bbb","cc","dddddd","e"],"dimensions":256}`)
	if err := p.Send(context.Background(), c, &res); err != nil {
		t.Fatal(err)
	}
	want := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.5,-1]},{"object":"embedding","index":1,"embedding":[3.5,-1]},{"object":"embedding","index":2,"embedding":[2.5,-1]},{"object":"embedding","index":3,"embedding":[6.5,-1]},{"object":"embedding","index":4,"embedding":[1.5,-1]}],"model":"m","usage":{"prompt_tokens":13,"total_tokens":13}}`
	if string(res.Body) != want || res.Usage.PromptTokens != 13 || calls.Load() != 5 {
		t.Errorf("calls %d, usage %+v, body\n%s", calls.Load(), res.Usage, res.Body)
	}

	res = provider.Result{}
	c = testCall(t, d, provider.OpEmbedding, `{"model":"m","input":["ab","cd"],"encoding_format":"base64"}`)
	if err := p.Send(context.Background(), c, &res); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct{ Embedding string } `json:"data"`
	}
	if err := json.Unmarshal(res.Body, &list); err != nil || len(list.Data) != 2 || list.Data[0].Embedding != "AAAgQAAAgL8=" {
		t.Errorf("base64 answer %s (%v)", res.Body, err)
	}

	c = testCall(t, d, provider.OpEmbedding, `{"model":"m","input":["ok","fail","ok2"]}`)
	err := p.Send(context.Background(), c, &provider.Result{})
	if pe, ok := err.(*provider.Error); !ok || pe.Status != 400 || pe.Message != "bedrock: bad text" {
		t.Errorf("err = %v", err)
	}
}
