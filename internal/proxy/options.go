package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
)

// ClientCredentials are the api_base and api_key a request names for
// itself (LiteLLM's client-side credentials).
type ClientCredentials struct {
	APIBase string
	APIKey  provider.Secret
}

// Top-level request members that steer the gateway rather than the model.
// They are consumed here and never sent upstream: an OpenAI-compatible
// upstream gets the client's bytes and would refuse a member it does not
// know (or, for api_key, receive a credential it has no business seeing).
const (
	memberNumRetries = "num_retries"
	memberFallbacks  = "fallbacks"
	memberAPIBase    = "api_base"
	memberBaseURL    = "base_url"
	memberAPIKey     = "api_key"
)

// routingMarks are substrings every body carrying one of those members
// contains; most bodies contain none, and the check is a few vectorised
// scans instead of a walk of the members.
var routingMarks = [...][]byte{[]byte(`"num_retries"`), []byte(`"fallbacks"`), []byte(`"api_`), []byte(`"base_url"`)}

// options reads the request's own routing members — num_retries,
// fallbacks, api_base/base_url and api_key — and takes them out of the
// body sent upstream.
func (p *Pipeline) options(req *Request, st *state) error {
	found := false
	for _, m := range routingMarks {
		if bytes.Contains(st.body, m) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	var (
		keep  [][2][]byte
		creds ClientCredentials
		named bool
		bad   error
	)
	openai.EachMember(st.body, func(rawName, value []byte) bool {
		name := memberName(rawName)
		switch name {
		case memberNumRetries:
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				if string(value) == "null" {
					return true
				}
				bad = badRequest("num_retries must be a non-negative integer", memberNumRetries)
				return false
			}
			st.perRequestRetries = n
		case memberFallbacks:
			fb, err := requestFallbacks(value)
			if err != nil {
				bad = err
				return false
			}
			for i, m := range fb {
				if fb[i], err = access(req.Principal, m); err != nil {
					bad = err
					return false
				}
			}
			st.reqFallbacks = fb
		case memberAPIBase, memberBaseURL, memberAPIKey:
			var v *string
			if err := json.Unmarshal(value, &v); err != nil {
				bad = badRequest("'"+name+"' must be a string", name)
				return false
			}
			if v == nil || *v == "" {
				return true
			}
			named = true
			if name == memberAPIKey {
				creds.APIKey = provider.Secret(*v)
			} else {
				creds.APIBase = *v
			}
		default:
			keep = append(keep, [2][]byte{rawName, value})
		}
		return true
	})
	if bad != nil {
		return bad
	}
	if named {
		if p.Override == nil {
			// LiteLLM's refusal, which is also its default.
			return badRequest("Rejected Request: api_base and api_key are not allowed in the request body. "+
				"Enable with general_settings::allow_client_side_credentials and an allow-list of hosts "+
				"(general_settings::allowed_client_side_api_base_hosts) on the gateway's config.yaml.", memberAPIBase)
		}
		st.creds = &creds
	}
	if len(keep) == memberCount(st.body) {
		return nil // the marks were in values, not member names
	}
	body := make([]byte, 0, len(st.body))
	body = append(body, '{')
	for i, m := range keep {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, '"')
		body = append(body, m[0]...)
		body = append(body, `":`...)
		body = append(body, m[1]...)
	}
	body = append(body, '}')
	if err := openai.ParseEnvelope(body, &st.env); err != nil {
		return badRequest(err.Error(), "")
	}
	st.body = body
	return nil
}

// memberName decodes a raw member name when it is spelled with escapes
// ("api\u005fbase" is api_base to every JSON parser upstream).
func memberName(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return string(raw)
	}
	return s
}

func memberCount(body []byte) int {
	n := 0
	openai.EachMember(body, func(_, _ []byte) bool { n++; return true })
	return n
}

// requestFallbacks reads a request's "fallbacks": model names, or LiteLLM's
// objects naming one ({"model": "gpt-4o-mini"}); per-fallback request
// overrides (messages, parameters) are not supported and refused, rather
// than silently sending the original request.
func requestFallbacks(value []byte) ([]string, error) {
	if string(value) == "null" {
		return nil, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(value, &raw); err != nil {
		return nil, badRequest("'fallbacks' must be a list of model names", memberFallbacks)
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		var name string
		if json.Unmarshal(r, &name) == nil && name != "" {
			out = append(out, name)
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(r, &obj) != nil || len(obj) != 1 || json.Unmarshal(obj["model"], &name) != nil || name == "" {
			return nil, badRequest("each entry of 'fallbacks' must be a model name or {\"model\": name}; per-fallback overrides are not supported", memberFallbacks)
		}
		out = append(out, name)
	}
	return out, nil
}
