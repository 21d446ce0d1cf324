package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/rawjson"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

const (
	// defaultMaxTokens is LiteLLM's DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS:
	// Anthropic requires max_tokens, OpenAI clients rarely send it.
	defaultMaxTokens = 4096
	// thinkingHeadroom is LiteLLM's DEFAULT_MAX_TOKENS, added to the
	// thinking budget when thinking is on and the client set no limit, so
	// the answer is not starved by the reasoning before it.
	thinkingHeadroom = 4096
	// jsonToolName is LiteLLM's RESPONSE_FORMAT_TOOL_NAME: the tool that
	// carries response_format, whose input becomes the message content.
	jsonToolName = "json_tool_call"
)

// paramKind sorts the top-level members of a chat request for SortParams.
func paramKind(name string) provider.ParamKind {
	switch name {
	case "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "user",
		"tools", "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort", "logprobs":
		return provider.ParamTranslated
	case "top_k", "thinking", "service_tier", "container", "inference_geo", "output_config",
		"cache_control", "mcp_servers", "context_management":
		// Messages API fields a client sends through extra_body.
		return provider.ParamPassthrough
	}
	return provider.ParamUnsupported
}

// chatParams are the raw top-level values of a client body that the
// translation reads.
type chatParams struct {
	messages, tools, toolChoice, parallel, responseFormat, stop, user, effort, thinking,
	temperature, topP, maxTokens, maxCompletionTokens, n, logprobs []byte
}

func readParams(body []byte) (p chatParams) {
	for it := rawjson.Members(body); it.Next(); {
		v := it.Value()
		switch string(it.Name()) {
		case "messages":
			p.messages = v
		case "tools":
			p.tools = v
		case "tool_choice":
			p.toolChoice = v
		case "parallel_tool_calls":
			p.parallel = v
		case "response_format":
			p.responseFormat = v
		case "stop":
			p.stop = v
		case "user":
			p.user = v
		case "reasoning_effort":
			p.effort = v
		case "thinking":
			p.thinking = v
		case "temperature":
			p.temperature = v
		case "top_p":
			p.topP = v
		case "max_tokens":
			p.maxTokens = v
		case "max_completion_tokens":
			p.maxCompletionTokens = v
		case "n":
			p.n = v
		case "logprobs":
			p.logprobs = v
		}
	}
	return p
}

// passthrough is one native member copied as it is.
type passthrough struct {
	name  string
	value []byte
}

// builder writes one Messages API request.
type builder struct {
	c   *provider.Call
	out []byte
	p   chatParams
	// drop is c.DropParams(), looked up once and only when needed.
	drop int8 // -1 unknown, 0 no, 1 yes
	// scratch holds decoded strings (tool arguments, escaped URLs).
	scratch []byte
	// the turn being written; see turn.
	role         string
	turns        int
	inResult     bool // writing the content list of a tool_result
	resultBlocks int
	blockCC      bool // the last block written carried its own cache_control
}

func (b *builder) dropping() bool {
	if b.drop < 0 {
		b.drop = 0
		if b.c.DropParams() {
			b.drop = 1
		}
	}
	return b.drop == 1
}

// unsupported is the 400 for an unsupported value, or nil when the client
// asked for such values to be dropped (the caller then drops it).
func (b *builder) unsupported(param, why string) *provider.Error {
	if b.dropping() {
		return nil
	}
	return provider.UnsupportedParam(b.c, param, why)
}

// BuildRequest implements provider.Codec.
func (Codec) BuildRequest(c *provider.Call, req *upstream.Request) error {
	p, err := preparedOf(c.Deployment)
	if err != nil {
		return err
	}
	if c.Op != provider.OpChat {
		return provider.BadRequest("", "anthropic serves chat completions only")
	}
	b := builder{c: c, out: req.Body[:0], drop: -1}
	if e := b.build(); e != nil {
		return e
	}
	req.URL = p.url
	req.Header = append(req.Header, p.headers...)
	req.Body = b.out
	return nil
}

func (b *builder) build() *provider.Error {
	var kept []passthrough
	if e := provider.SortParams(b.c, paramKind, func(name string, value json.RawMessage) {
		kept = append(kept, passthrough{name, value})
	}); e != nil {
		return e
	}
	b.p = readParams(b.c.Body)
	p := &b.p

	th, e := b.thinkingConfig()
	if e != nil {
		return e
	}
	maxTokens, e := b.maxTokens(th)
	if e != nil {
		return e
	}

	b.out = append(b.out, `{"model":`...)
	b.out = rawjson.AppendQuote(b.out, b.c.Deployment.Model)
	b.out = append(b.out, `,"max_tokens":`...)
	b.out = strconv.AppendInt(b.out, maxTokens, 10)
	if e := b.system(); e != nil {
		return e
	}
	b.out = append(b.out, `,"messages":[`...)
	if e := b.messages(); e != nil {
		return e
	}
	b.out = append(b.out, ']')

	if e := b.sampling(th); e != nil {
		return e
	}
	if e := b.stopSequences(); e != nil {
		return e
	}
	if b.c.Stream() {
		b.out = append(b.out, `,"stream":true`...)
	}
	if hasText(p.user) && validUserID(b.unquoted(p.user)) {
		b.out = append(b.out, `,"metadata":{"user_id":`...)
		b.out = append(b.out, p.user...)
		b.out = append(b.out, '}')
	}
	if e := b.toolsAndChoice(th.enabled); e != nil {
		return e
	}
	if th.fromEffort {
		b.out = append(b.out, `,"thinking":{"type":"enabled","budget_tokens":`...)
		b.out = strconv.AppendInt(b.out, th.budget, 10)
		b.out = append(b.out, '}')
	}
	for _, k := range kept {
		b.out = append(b.out, ',')
		b.out = rawjson.AppendQuote(b.out, k.name)
		b.out = append(b.out, ':')
		b.out = append(b.out, k.value...)
	}
	b.out = append(b.out, '}')
	return nil
}

// thinking is the request's extended-thinking setting.
type thinking struct {
	enabled    bool
	budget     int64
	fromEffort bool // mapped from reasoning_effort (an explicit "thinking" passes through)
}

// effortBudgets is LiteLLM's reasoning_effort → budget_tokens table.
// "minimal" gets Anthropic's smallest accepted budget, 1024.
var effortBudgets = [...]struct {
	effort string
	budget int64
}{{"minimal", 1024}, {"low", 1024}, {"medium", 2048}, {"high", 4096}, {"xhigh", 8192}}

func (b *builder) thinkingConfig() (thinking, *provider.Error) {
	p := &b.p
	if !rawjson.IsNull(p.thinking) {
		// An explicit "thinking" wins over reasoning_effort, as in LiteLLM.
		t := thinking{}
		typ := rawjson.Member(p.thinking, "type")
		t.enabled = rawjson.Is(typ, "enabled") || rawjson.Is(typ, "adaptive")
		if n, ok := count(rawjson.Member(p.thinking, "budget_tokens")); ok && t.enabled {
			t.budget = n
		}
		return t, nil
	}
	if rawjson.IsNull(p.effort) || rawjson.Is(p.effort, "none") {
		return thinking{}, nil
	}
	for _, eb := range effortBudgets {
		if rawjson.Is(p.effort, eb.effort) {
			return thinking{enabled: true, budget: eb.budget, fromEffort: true}, nil
		}
	}
	return thinking{}, b.unsupported("reasoning_effort", "use none, minimal, low, medium, high or xhigh")
}

func (b *builder) maxTokens(th thinking) (int64, *provider.Error) {
	p := &b.p
	raw := p.maxCompletionTokens
	param := "max_completion_tokens"
	if rawjson.IsNull(raw) {
		raw, param = p.maxTokens, "max_tokens"
	}
	if !rawjson.IsNull(raw) {
		n, ok := count(raw)
		if !ok || n == 0 {
			return 0, provider.BadRequest(param, param+" must be a positive integer")
		}
		return n, nil
	}
	if th.enabled && th.budget > 0 {
		return th.budget + thinkingHeadroom, nil
	}
	return defaultMaxTokens, nil
}

// sampling writes temperature and top_p.
func (b *builder) sampling(th thinking) *provider.Error {
	p := &b.p
	if !rawjson.IsNull(p.temperature) {
		t, err := strconv.ParseFloat(string(p.temperature), 64)
		if err != nil {
			return provider.BadRequest("temperature", "temperature must be a number")
		}
		var why string
		switch {
		case t > 1:
			why = "anthropic accepts a temperature from 0 to 1"
		case th.enabled && t != 1:
			why = "anthropic allows no temperature but 1 when extended thinking is on"
		}
		if why != "" {
			if e := b.unsupported("temperature", why); e != nil {
				return e
			}
		} else {
			b.out = append(b.out, `,"temperature":`...)
			b.out = append(b.out, p.temperature...)
		}
	}
	if !rawjson.IsNull(p.topP) {
		b.out = append(b.out, `,"top_p":`...)
		b.out = append(b.out, p.topP...)
	}
	if n, ok := count(p.n); !rawjson.IsNull(p.n) && (!ok || n > 1) {
		if e := b.unsupported("n", "anthropic returns one choice per request"); e != nil {
			return e
		}
	}
	if string(p.logprobs) == "true" {
		if e := b.unsupported("logprobs", ""); e != nil {
			return e
		}
	}
	return nil
}

// stopSequences writes stop as stop_sequences. Anthropic refuses
// whitespace-only sequences.
func (b *builder) stopSequences() *provider.Error {
	p := &b.p
	if rawjson.IsNull(p.stop) {
		return nil
	}
	start := len(b.out)
	b.out = append(b.out, `,"stop_sequences":[`...)
	n := 0
	add := func(v []byte) *provider.Error {
		if !rawjson.IsString(v) {
			return provider.BadRequest("stop", "stop must be a string or an array of strings")
		}
		if len(bytes.TrimSpace(b.unquoted(v))) == 0 {
			return b.unsupported("stop", "anthropic does not accept whitespace-only stop sequences")
		}
		if n > 0 {
			b.out = append(b.out, ',')
		}
		b.out = append(b.out, v...)
		n++
		return nil
	}
	if p.stop[0] == '"' {
		if e := add(p.stop); e != nil {
			return e
		}
	}
	for it := rawjson.Elements(p.stop); it.Next(); {
		if e := add(it.Value()); e != nil {
			return e
		}
	}
	if n == 0 {
		b.out = b.out[:start]
		return nil
	}
	b.out = append(b.out, ']')
	return nil
}

// unquoted decodes the string literal v into the builder's scratch space;
// the result is valid until the next call.
func (b *builder) unquoted(v []byte) []byte {
	if b.scratch == nil {
		b.scratch = make([]byte, 0, 256) // once, not once per growth step
	}
	b.scratch = rawjson.AppendUnquote(b.scratch[:0], v)
	return b.scratch
}

// validUserID mirrors LiteLLM's _valid_user_id: Anthropic refuses user ids
// that look like an e-mail address or a phone number, so those are not sent.
func validUserID(id []byte) bool {
	return !looksLikeEmail(id) && !looksLikePhone(id)
}

// looksLikeEmail matches ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$.
func looksLikeEmail(s []byte) bool {
	at := bytes.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	for _, c := range s[:at] {
		if !isAlnum(c) && !bytes.ContainsRune([]byte("._%+-"), rune(c)) {
			return false
		}
	}
	domain := s[at+1:]
	dot := bytes.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 {
		return false
	}
	for _, c := range domain[:dot] {
		if !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	for _, c := range domain[dot+1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// looksLikePhone matches ^\+?[\d\s\(\)-]{7,} (a prefix match, as Python's
// re.match is).
func looksLikePhone(s []byte) bool {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '(' || c == ')' || c == '-' {
			n++
			continue
		}
		break
	}
	return n >= 7
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
