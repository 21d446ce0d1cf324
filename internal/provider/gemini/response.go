package gemini

// response is one GenerateContentResponse (a whole answer, or one stream
// event) as slices of the upstream bytes. It is reused from event to event,
// so parsing allocates nothing once its slices have grown.
type response struct {
	cands []candidate
	parts []part
	usage usageMeta
	// hasUsage: the document had a usageMetadata object.
	hasUsage bool
	// blockReason is promptFeedback.blockReason: the prompt was refused
	// and there are no candidates.
	blockReason  []byte
	blockMessage []byte
	responseID   []byte
	// errObj is a top-level "error" object (Google's error shape inside a
	// 200 stream).
	errObj []byte
}

// candidate is one element of "candidates"; its parts are
// response.parts[first:end].
type candidate struct {
	index      int
	finish     []byte // finishReason, "" while generating
	first, end int
	logprobs   []byte // raw logprobsResult, nil when absent
}

// part is one element of a candidate's content.parts. Strings are raw
// JSON string bodies (escapes kept).
type part struct {
	text    []byte
	hasText bool
	thought bool
	sig     []byte // thoughtSignature
	call    bool   // a functionCall part
	name    []byte // functionCall.name
	args    []byte // functionCall.args, a raw JSON value; nil when absent
}

// usageMeta is usageMetadata.
type usageMeta struct {
	prompt, candidates, total, cached, thoughts, toolUse int64
	audioPrompt, audioCandidates                         int64
}

// parse reads b into r. It reports false when b is not one well-formed
// JSON object.
func (r *response) parse(b []byte) bool {
	r.cands, r.parts = r.cands[:0], r.parts[:0]
	r.usage, r.hasUsage = usageMeta{}, false
	r.blockReason, r.blockMessage, r.responseID, r.errObj = nil, nil, nil, nil
	var s scanner
	s.reset(b)
	if !s.enter('{') {
		return false
	}
	for n := 0; s.more('}', &n); {
		switch string(s.key()) {
		case "candidates":
			r.candidates(&s)
		case "usageMetadata":
			if s.null() {
				continue
			}
			r.hasUsage = true
			r.usage.read(&s)
		case "promptFeedback":
			r.promptFeedback(&s)
		case "responseId":
			r.responseID = s.str()
		case "error":
			if !s.null() {
				r.errObj = s.raw()
			}
		default:
			s.skip()
		}
	}
	return s.end()
}

func (r *response) candidates(s *scanner) {
	if s.null() || !s.enter('[') {
		return
	}
	for n := 0; s.more(']', &n); {
		c := candidate{index: len(r.cands)}
		if s.null() {
			continue
		}
		if !s.enter('{') {
			return
		}
		c.first = len(r.parts)
		for m := 0; s.more('}', &m); {
			switch string(s.key()) {
			case "content":
				r.content(s)
			case "finishReason":
				if !s.null() {
					c.finish = s.str()
				}
			case "index":
				c.index = int(min(s.int(), 1<<20))
			case "logprobsResult":
				if !s.null() {
					c.logprobs = s.raw()
				}
			default:
				s.skip()
			}
		}
		c.end = len(r.parts)
		r.cands = append(r.cands, c)
	}
}

func (r *response) content(s *scanner) {
	if s.null() || !s.enter('{') {
		return
	}
	for n := 0; s.more('}', &n); {
		if string(s.key()) != "parts" || s.null() {
			s.skip()
			continue
		}
		if !s.enter('[') {
			return
		}
		for m := 0; s.more(']', &m); {
			if p, ok := readPart(s); ok {
				r.parts = append(r.parts, p)
			}
		}
	}
}

func readPart(s *scanner) (p part, ok bool) {
	if s.null() || !s.enter('{') {
		return p, false
	}
	for n := 0; s.more('}', &n); {
		switch string(s.key()) {
		case "text":
			p.text, p.hasText = s.str(), true
		case "thought":
			p.thought = s.boolean()
		case "thoughtSignature":
			if !s.null() {
				p.sig = s.str()
			}
		case "functionCall":
			if s.null() || !s.enter('{') {
				continue
			}
			p.call = true
			for m := 0; s.more('}', &m); {
				switch string(s.key()) {
				case "name":
					p.name = s.str()
				case "args":
					if !s.null() {
						p.args = s.raw()
					}
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
	return p, true
}

func (r *response) promptFeedback(s *scanner) {
	if s.null() || !s.enter('{') {
		return
	}
	for n := 0; s.more('}', &n); {
		switch string(s.key()) {
		case "blockReason":
			if !s.null() {
				r.blockReason = s.str()
			}
		case "blockReasonMessage":
			if !s.null() {
				r.blockMessage = s.str()
			}
		default:
			s.skip()
		}
	}
}

func (u *usageMeta) read(s *scanner) {
	if !s.enter('{') {
		return
	}
	for n := 0; s.more('}', &n); {
		switch string(s.key()) {
		case "promptTokenCount":
			u.prompt = s.int()
		case "candidatesTokenCount":
			u.candidates = s.int()
		case "totalTokenCount":
			u.total = s.int()
		case "cachedContentTokenCount":
			u.cached = s.int()
		case "thoughtsTokenCount":
			u.thoughts = s.int()
		case "toolUsePromptTokenCount":
			u.toolUse = s.int()
		case "promptTokensDetails":
			u.audioPrompt = audioTokens(s)
		case "candidatesTokensDetails":
			u.audioCandidates = audioTokens(s)
		default:
			s.skip()
		}
	}
}

// audioTokens sums the AUDIO entries of a [{"modality","tokenCount"}] list.
func audioTokens(s *scanner) (sum int64) {
	if s.null() || !s.enter('[') {
		return 0
	}
	for n := 0; s.more(']', &n); {
		if s.null() || !s.enter('{') {
			continue
		}
		var audio bool
		var count int64
		for m := 0; s.more('}', &m); {
			switch string(s.key()) {
			case "modality":
				audio = string(s.str()) == "AUDIO"
			case "tokenCount":
				count = s.int()
			default:
				s.skip()
			}
		}
		if audio {
			sum += count
		}
	}
	return sum
}
