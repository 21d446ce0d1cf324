package bedrock

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// signer signs upstream requests with AWS Signature Version 4, by hand
// with the standard library: the AWS SDK would bring its module graph for
// about 150 lines of HMAC. Its tests check it against the SDK's signer.
//
// Signed headers are host, Content-Type and every X-Amz-* header, as
// botocore does for LiteLLM: other headers (extra_headers, User-Agent)
// stay unsigned, so nothing added on the way can break the signature.
type signer struct {
	region, service string
	creds           credentialSource
	now             func() time.Time // tests pin the clock

	mu     sync.Mutex
	keyFor string // date + "/" + secret the cached key was derived from
	key    []byte
}

func newSigner(region, service string, creds credentialSource) *signer {
	return &signer{region: region, service: service, creds: creds}
}

const (
	amzDateFormat = "20060102T150405Z"
	algorithm     = "AWS4-HMAC-SHA256"
)

// Sign implements provider.Signer.
func (s *signer) Sign(ctx context.Context, req *upstream.Request) error {
	for _, h := range req.Header {
		if strings.EqualFold(h[0], "Authorization") {
			// An Authorization from extra_headers wins, as in LiteLLM.
			return nil
		}
	}
	creds, err := s.creds.retrieve(ctx)
	if err != nil {
		return err
	}
	host, path, query := splitURL(req.URL)
	if req.Host != "" {
		host = req.Host
	}
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	t := s.clock()
	req.Header = append(req.Header, [2]string{"X-Amz-Date", t.Format(amzDateFormat)})
	if creds.SessionToken != "" {
		req.Header = append(req.Header, [2]string{"X-Amz-Security-Token", creds.SessionToken})
	}
	auth := s.authorization(creds, t, method, host, path, query, req.Header, payloadHash(req.Body))
	req.Header = append(req.Header, [2]string{"Authorization", auth})
	return nil
}

// invalidate drops cached credentials after the upstream said they expired.
func (s *signer) invalidate() {
	if c, ok := s.creds.(*cachedCredentials); ok {
		c.invalidate()
	}
}

func (s *signer) clock() time.Time {
	if s.now != nil {
		return s.now().UTC()
	}
	return time.Now().UTC()
}

// signHTTP signs a net/http request (STS calls made while resolving
// credentials). body must be what the request will send.
func (s *signer) signHTTP(req *http.Request, body []byte, creds Credentials) {
	t := s.clock()
	req.Header.Set("X-Amz-Date", t.Format(amzDateFormat))
	if creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
	headers := make([][2]string, 0, len(req.Header))
	for k, vs := range req.Header {
		for _, v := range vs {
			headers = append(headers, [2]string{k, v})
		}
	}
	req.Header.Set("Authorization", s.authorization(creds, t, req.Method, req.URL.Host, req.URL.EscapedPath(), req.URL.RawQuery, headers, payloadHash(body)))
}

func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// authorization computes the Authorization header value.
func (s *signer) authorization(creds Credentials, t time.Time, method, host, path, query string, headers [][2]string, bodyHash string) string {
	date := t.Format("20060102")
	scope := date + "/" + s.region + "/" + s.service + "/aws4_request"
	canonical, signedHeaders := canonicalRequest(method, host, path, query, headers, bodyHash)
	sum := sha256.Sum256(canonical)

	toSign := make([]byte, 0, 128)
	toSign = append(toSign, algorithm+"\n"...)
	toSign = t.AppendFormat(toSign, amzDateFormat)
	toSign = append(toSign, '\n')
	toSign = append(toSign, scope...)
	toSign = append(toSign, '\n')
	toSign = hex.AppendEncode(toSign, sum[:])

	mac := hmac.New(sha256.New, s.signingKey(creds.SecretAccessKey, date))
	mac.Write(toSign)
	return algorithm + " Credential=" + creds.AccessKeyID + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + hex.EncodeToString(mac.Sum(nil))
}

// signingKey derives the day's key, which only changes with the date and
// the secret, so it is kept instead of four HMACs per request.
func (s *signer) signingKey(secret, date string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil && len(s.keyFor) == len(date)+1+len(secret) && s.keyFor[:len(date)] == date && s.keyFor[len(date)+1:] == secret {
		return s.key
	}
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, s.region)
	k = hmacSHA256(k, s.service)
	k = hmacSHA256(k, "aws4_request")
	s.key, s.keyFor = k, date+"/"+secret
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// canonicalRequest builds the SigV4 canonical request and the list of
// signed headers.
func canonicalRequest(method, host, path, query string, headers [][2]string, bodyHash string) ([]byte, string) {
	type header struct{ name, value string }
	signed := make([]header, 0, 6)
	signed = append(signed, header{"host", host})
	for _, h := range headers {
		name := strings.ToLower(h[0])
		if name != "content-type" && !strings.HasPrefix(name, "x-amz-") {
			continue
		}
		v := canonicalHeaderValue(h[1])
		merged := false
		for i := range signed {
			if signed[i].name == name {
				signed[i].value += "," + v
				merged = true
				break
			}
		}
		if !merged {
			signed = append(signed, header{name, v})
		}
	}
	sort.Slice(signed, func(i, j int) bool { return signed[i].name < signed[j].name })

	b := make([]byte, 0, 512)
	b = append(b, method...)
	b = append(b, '\n')
	if path == "" {
		path = "/"
	}
	// For every service but S3 the canonical URI is the request path
	// escaped once more: a model id sent as "...v1%3A0" is signed as
	// "...v1%253A0".
	b = appendURIEscaped(b, path, false)
	b = append(b, '\n')
	b = append(b, canonicalQuery(query)...)
	b = append(b, '\n')
	var names strings.Builder
	for i, h := range signed {
		b = append(b, h.name...)
		b = append(b, ':')
		b = append(b, h.value...)
		b = append(b, '\n')
		if i > 0 {
			names.WriteByte(';')
		}
		names.WriteString(h.name)
	}
	b = append(b, '\n')
	b = append(b, names.String()...)
	b = append(b, '\n')
	b = append(b, bodyHash...)
	return b, names.String()
}

// canonicalHeaderValue trims a value and folds runs of spaces into one.
func canonicalHeaderValue(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	return strings.Join(strings.Fields(v), " ")
}

// canonicalQuery sorts the query's parameters and encodes them the AWS way.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		params = append(params, kv{string(appendURIEscaped(nil, k, true)), string(appendURIEscaped(nil, v, true))})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// appendURIEscaped is SigV4's UriEncode: everything but unreserved
// characters is percent-encoded (uppercase hex); '/' too when
// encodeSlash.
func appendURIEscaped(dst []byte, s string, encodeSlash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && !encodeSlash {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return dst
}

// splitURL cuts an absolute URL into host[:port], the path as written
// (still escaped) and the raw query.
func splitURL(u string) (host, path, query string) {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, query = u[:i], u[i+1:]
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		return u[:i], u[i:], query
	}
	return u, "/", query
}
