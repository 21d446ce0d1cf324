package bedrock

import (
	"context"
	"slices"
	"strconv"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
)

// bedrockProvider is the HTTP provider, plus one thing a single exchange
// cannot do: Titan embeds one text per InvokeModel call, so an embedding
// request with several texts becomes one call per text, merged back into
// one list.
type bedrockProvider struct {
	*provider.HTTP
}

// titanParallelism bounds the concurrent calls of one split request.
const titanParallelism = 4

// Send implements provider.Provider.
func (b *bedrockProvider) Send(ctx context.Context, c *provider.Call, res *provider.Result) error {
	p, ok := c.Deployment.Private.(*prepared)
	if c.Op != provider.OpEmbedding || !ok || !p.embedding.titan() {
		return b.HTTP.Send(ctx, c, res)
	}
	input := readEmbedParams(c.Body).input
	if !rawjson.IsArray(input) {
		return b.HTTP.Send(ctx, c, res)
	}
	list, err := texts(input)
	if err != nil {
		return err
	}
	if len(list) == 1 {
		return b.HTTP.Send(ctx, c, res)
	}
	return b.sendEach(ctx, c, list, res)
}

func (b *bedrockProvider) sendEach(ctx context.Context, c *provider.Call, list [][]byte, res *provider.Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		vector []byte // the raw "embedding" value of the one-item answer
		usage  openai.Usage
		err    error
	}
	answers := make([]answer, len(list))
	sem := make(chan struct{}, titanParallelism)
	var wg sync.WaitGroup
	for i, text := range list {
		sub := *c
		sub.Body = withInput(c.Body, text)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var r provider.Result
			if err := b.HTTP.Send(ctx, &sub, &r); err != nil {
				answers[i].err = err
				cancel()
				return
			}
			answers[i].vector, answers[i].usage = firstEmbedding(r.Body), r.Usage
			if r.Owner != nil {
				r.Owner.Release()
			}
		}()
	}
	wg.Wait()
	// The first real failure in input order wins over the calls it
	// cancelled (which fail as "client closed").
	var first error
	for _, a := range answers {
		if a.err == nil {
			continue
		}
		if first == nil {
			first = a.err
		}
		if pe, ok := a.err.(*provider.Error); !ok || pe.Status != provider.StatusClientClosed {
			return a.err
		}
	}
	if first != nil {
		return first
	}
	var usage openai.Usage
	out := []byte(`{"object":"list","data":[`)
	for i, a := range answers {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"object":"embedding","index":`...)
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `,"embedding":`...)
		out = append(out, a.vector...)
		out = append(out, '}')
		usage.PromptTokens += a.usage.PromptTokens
	}
	usage.TotalTokens = usage.PromptTokens
	out = append(out, `],"model":`...)
	out = rawjson.AppendQuote(out, c.ClientModel)
	out = append(out, `,"usage":{"prompt_tokens":`...)
	out = strconv.AppendInt(out, usage.PromptTokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, usage.TotalTokens, 10)
	out = append(out, "}}"...)
	*res = provider.Result{Status: 200, ContentType: "application/json", Body: out, Usage: usage}
	return nil
}

// withInput is the client's body with input replaced by one text.
func withInput(body, text []byte) []byte {
	out := make([]byte, 0, len(body))
	out = append(out, '{')
	n := 0
	it := rawjson.Members(body)
	for it.Next() {
		if string(it.Name()) == "input" {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, it.Name()...)
		out = append(out, '"', ':')
		out = append(out, it.Value()...)
		n++
	}
	if n > 0 {
		out = append(out, ',')
	}
	out = append(out, `"input":`...)
	out = append(out, text...)
	return append(out, '}')
}

// firstEmbedding picks data[0].embedding out of a one-item answer the
// codec wrote.
func firstEmbedding(body []byte) []byte {
	it := rawjson.Members(body)
	for it.Next() {
		if string(it.Name()) != "data" {
			continue
		}
		el := rawjson.Elements(it.Value())
		for el.Next() {
			m := rawjson.Members(el.Value())
			for m.Next() {
				if string(m.Name()) == "embedding" {
					return slices.Clone(m.Value())
				}
			}
		}
	}
	return nil
}
