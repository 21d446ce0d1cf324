package upstream

import (
	"bufio"
	"strconv"
	"strings"
	"sync"
)

// Request is what a provider builds for one attempt. Reuse it through
// AcquireRequest/ReleaseRequest; Do does not retain it after returning.
type Request struct {
	Method string      // "POST" when empty
	URL    string      // absolute http(s)://host[:port]/path?query
	Header [][2]string // extra headers, written in order
	Body   []byte      // fully written before Do returns; never retained
	Host   string      // optional Host header override
}

var requestPool = sync.Pool{New: func() any { return new(Request) }}

// AcquireRequest returns an empty Request from a pool.
func AcquireRequest() *Request { return requestPool.Get().(*Request) }

// ReleaseRequest resets r and returns it to the pool. r must not be used afterwards.
func ReleaseRequest(r *Request) {
	r.Reset()
	requestPool.Put(r)
}

// Reset clears r, keeping the capacity of the Header slice and of a
// moderately sized Body (providers append the upstream body into it). The
// header strings are cleared so that a pooled Request does not keep API keys
// reachable.
func (r *Request) Reset() {
	clear(r.Header)
	body := r.Body[:0]
	if cap(body) > maxPooledBody {
		body = nil
	}
	*r = Request{Header: r.Header[:0], Body: body}
}

// target is the parsed form of Request.URL. All strings are substrings of
// the URL, so parsing allocates nothing.
type target struct {
	key      string // "scheme://host[:port]": the connection pool key
	tls      bool
	hostport string // as written in the URL; also the default Host header
	uri      string // request-target: path and query ("" means "/")
	display  string // scheme://host/path without query or fragment, for errors
}

// parseURL splits an absolute http(s) URL. It is hand-written because
// net/url.Parse allocates, and the hot path only needs three cuts.
func parseURL(u string) (target, error) {
	var t target
	var rest string
	switch {
	case hasPrefixFold(u, "https://"):
		t.tls = true
		rest = u[len("https://"):]
	case hasPrefixFold(u, "http://"):
		rest = u[len("http://"):]
	default:
		return t, errInvalidURL
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	t.hostport = rest[:end]
	if t.hostport == "" || strings.IndexByte(t.hostport, '@') >= 0 || !validURLBytes(t.hostport) {
		// '@' means userinfo: credentials we would otherwise echo in errors.
		return t, errInvalidURL
	}
	schemeHost := len(u) - len(rest) + end
	t.key = u[:schemeHost]
	ref := u[schemeHost:]
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	if !validURLBytes(ref) {
		return t, errInvalidURL
	}
	t.uri = ref
	path := ref
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	t.display = u[:schemeHost+len(path)]
	return t, nil
}

// displayURL is the error-message form of a URL we could not parse: only the
// part before any query, and only if it looks sane.
func displayURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if len(u) > 256 || strings.IndexByte(u, '@') >= 0 || !validURLBytes(u) {
		return ""
	}
	return u
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validURLBytes rejects controls, spaces and DEL, which would let a URL
// inject into the request line.
func validURLBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// tokenTable marks the bytes allowed in a header field name (RFC 9110 tchar).
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

// validHeaderValue rejects CR, LF and NUL: the bytes that would let a value
// smuggle extra headers or a second request.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// Header names we frame ourselves; a caller's copy would duplicate or
// contradict ours and desynchronise the connection.
const (
	hdrHost             = "Host"
	hdrContentLength    = "Content-Length"
	hdrTransferEncoding = "Transfer-Encoding"
	hdrUserAgent        = "User-Agent"
)

// prepared is what validation learns about a Request before any byte is sent,
// so that a bad request never consumes a connection.
type prepared struct {
	method string
	host   string
	hasUA  bool
}

func prepare(req *Request, t *target) (prepared, error) {
	p := prepared{method: req.Method, host: t.hostport}
	if p.method == "" {
		p.method = "POST"
	} else if !validHeaderName(p.method) {
		return p, errInvalidURL
	}
	if req.Host != "" {
		p.host = req.Host
	}
	for _, kv := range req.Header {
		if !validHeaderName(kv[0]) {
			return p, errInvalidHeaderName
		}
		if !validHeaderValue(kv[1]) {
			return p, &headerValueError{name: kv[0]}
		}
		switch len(kv[0]) {
		case len(hdrHost):
			if strings.EqualFold(kv[0], hdrHost) && req.Host == "" {
				p.host = kv[1]
			}
		case len(hdrUserAgent):
			if strings.EqualFold(kv[0], hdrUserAgent) {
				p.hasUA = true
			}
		}
	}
	if p.host == "" || !validURLBytes(p.host) {
		return p, errInvalidURL
	}
	return p, nil
}

// headerValueError names the header whose value is invalid, never the value.
type headerValueError struct{ name string }

func (e *headerValueError) Error() string { return "invalid value for header " + e.name }
func (e *headerValueError) Unwrap() error { return errInvalidHeaderValue }

// skipHeader reports whether a caller header is one we write ourselves.
func skipHeader(name string) bool {
	switch len(name) {
	case len(hdrHost):
		return strings.EqualFold(name, hdrHost)
	case len(hdrContentLength):
		return strings.EqualFold(name, hdrContentLength)
	case len(hdrTransferEncoding):
		return strings.EqualFold(name, hdrTransferEncoding)
	}
	return false
}

// writeRequest writes the request by hand instead of through
// fasthttp.Request.Write: we already hold the parts as strings, so there is
// no URI to re-parse and no header map to normalise (see BenchmarkWriteRequest).
// No Accept-Encoding is sent: we want identity bodies.
func writeRequest(bw *bufio.Writer, req *Request, t *target, p *prepared) error {
	bw.WriteString(p.method)
	bw.WriteByte(' ')
	if t.uri == "" || t.uri[0] != '/' {
		bw.WriteByte('/')
	}
	bw.WriteString(t.uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(p.host)
	bw.WriteString("\r\n")
	for _, kv := range req.Header {
		if skipHeader(kv[0]) {
			continue
		}
		bw.WriteString(kv[0])
		bw.WriteString(": ")
		bw.WriteString(kv[1])
		bw.WriteString("\r\n")
	}
	if !p.hasUA {
		bw.WriteString("User-Agent: switchboard\r\n")
	}
	if len(req.Body) > 0 || methodHasBody(p.method) {
		bw.WriteString("Content-Length: ")
		// AvailableBuffer appends in place: no scratch array escapes to the heap.
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(req.Body)), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	_, err := bw.Write(req.Body)
	return err
}

// methodHasBody: these methods get "Content-Length: 0" even when empty, as
// some servers answer 411 without it.
func methodHasBody(m string) bool {
	return m == "POST" || m == "PUT" || m == "PATCH"
}
