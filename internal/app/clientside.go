package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/provider/anthropic"
	"github.com/switchboard-gw/switchboard/internal/provider/cohere"
	"github.com/switchboard-gw/switchboard/internal/provider/ollama"
	"github.com/switchboard-gw/switchboard/internal/provider/openaicompat"
	"github.com/switchboard-gw/switchboard/internal/proxy"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Client-side credentials: a request that names its own api_base and
// api_key (LiteLLM's general_settings.allow_client_side_credentials, or a
// deployment's litellm_params.configurable_clientside_auth_params). Off by
// default. An api_base is the dangerous half — it chooses where the
// gateway connects (CVE-2024-6587 sent the configured OpenAI key to an
// attacker's host) — so on top of LiteLLM's switches it must name a host
// on general_settings.allowed_client_side_api_base_hosts, and:
//
//   - the deployment's own credentials never go to it: its api_key,
//     extra_headers, signer and organization are dropped, and no key is
//     taken from the environment; only the request's api_key is sent;
//   - link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata
//     endpoints (169.254.169.254, fd00:ec2::254, 100.100.100.200,
//     metadata.google.internal) are refused even when allow-listed, and
//     loopback only when the allow-list names it ("localhost",
//     "127.0.0.1", "::1");
//   - the check is repeated on every address the name resolves to, when
//     the connection is made, so a name that later resolves elsewhere
//     (DNS rebinding) is still refused;
//   - redirects are never followed (the upstream client has no redirect
//     logic: a 3xx is an error answer, 502 to the client).
//
// The overridden deployment is a fresh copy per request, never cached, and
// its attempts stay out of the configured deployment's health and routing
// statistics.
type clientSide struct {
	all     bool                         // allow_client_side_credentials
	perDep  map[string]clientParams      // by deployment id
	hosts   []string                     // exact hosts, or ".suffix" for subdomains
	http    map[string]provider.Provider // providers on the guarded client, by provider name
	guarded *upstream.Client
}

// clientParams are what one deployment lets clients set.
type clientParams struct {
	apiBase, apiKey bool
	baseMatch       *regexp.Regexp // LiteLLM's {"api_base": "regex"} form; nil: any allow-listed host
}

// newClientSide reads the configuration; nil when nothing allows
// client-side credentials (requests naming them are then refused).
func newClientSide(cfg *config.Config) (*clientSide, error) {
	cs := &clientSide{perDep: map[string]clientParams{}, http: map[string]provider.Provider{}}
	cs.all = cfg.GeneralSettings.AllowClientSideCredentials != nil && *cfg.GeneralSettings.AllowClientSideCredentials
	var problems []error
	for i := range cfg.ModelList {
		m := &cfg.ModelList[i]
		raw, ok := m.Params.Extra["configurable_clientside_auth_params"]
		if !ok {
			continue
		}
		cp, err := parseClientParams(raw)
		if err != nil {
			problems = append(problems, fmt.Errorf("model_list[%d] (%s): configurable_clientside_auth_params: %w", i, m.ModelName, err))
			continue
		}
		cs.perDep[m.ID] = cp
	}
	for _, h := range cfg.GeneralSettings.AllowedClientSideAPIBaseHosts {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		h = strings.TrimPrefix(h, "*")
		if h == "" || h == "." {
			problems = append(problems, errors.New("general_settings.allowed_client_side_api_base_hosts: an empty entry would allow every host"))
			continue
		}
		cs.hosts = append(cs.hosts, h)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if !cs.all && len(cs.perDep) == 0 {
		return nil, nil
	}
	cs.guarded = upstream.New(upstream.Options{MaxIdleConnsPerHost: 64, DialControl: dialGuard})
	for _, p := range []struct {
		name string
		p    provider.Provider
	}{
		{"anthropic", provider.NewHTTP("anthropic", cs.guarded, anthropic.Codec{}, provider.OpChat)},
		{"cohere", provider.NewHTTP("cohere", cs.guarded, cohere.Codec{}, cohere.Ops...)},
		{"ollama", provider.NewHTTP("ollama", cs.guarded, ollama.Codec{}, ollama.Ops...)},
	} {
		cs.http[p.name] = p.p
	}
	for i := range cfg.ModelList {
		if name := cfg.ModelList[i].Provider; openaicompat.Handles(name) && cs.http[name] == nil {
			cs.http[name] = provider.NewHTTP(name, cs.guarded, openaicompat.Codec{}, openaicompat.Ops...)
		}
	}
	return cs, nil
}

// close closes the connections to clients' upstreams.
func (cs *clientSide) close() {
	if cs != nil {
		cs.guarded.Close()
	}
}

// parseClientParams reads ["api_base", "api_key"] or LiteLLM's
// [{"api_base": "^https://.*\\.example\\.com/v1$"}].
func parseClientParams(raw any) (clientParams, error) {
	var cp clientParams
	list, ok := raw.([]any)
	if !ok {
		return cp, errors.New("must be a list")
	}
	for _, e := range list {
		switch v := e.(type) {
		case string:
			switch v {
			case "api_base", "base_url":
				cp.apiBase = true
			case "api_key":
				cp.apiKey = true
			default:
				return cp, fmt.Errorf("%q cannot be set by clients here (api_base and api_key can)", v)
			}
		case map[string]any:
			for k, pat := range v {
				s, ok := pat.(string)
				if k != "api_base" || !ok {
					return cp, fmt.Errorf("only {api_base: regex} entries are supported, not %q", k)
				}
				re, err := regexp.Compile(s)
				if err != nil {
					return cp, fmt.Errorf("api_base pattern: %w", err)
				}
				cp.apiBase, cp.baseMatch = true, re
			}
		default:
			return cp, errors.New("entries must be parameter names")
		}
	}
	return cp, nil
}

// refused is the client's answer to credentials it may not use.
func refused(msg string) error {
	return &provider.Error{Status: 400, Type: "invalid_request_error", Code: "client_side_credentials_refused", Param: "api_base", Message: msg}
}

// Override implements proxy.Pipeline.Override.
func (cs *clientSide) Override(d *provider.Deployment, c proxy.ClientCredentials) (*provider.Deployment, error) {
	cp := cs.perDep[d.ID]
	if cs.all {
		cp.apiBase, cp.apiKey = true, true
	}
	if c.APIBase != "" && !cp.apiBase || c.APIKey != "" && !cp.apiKey {
		return nil, refused("Rejected Request: the model's deployment does not accept a client-side api_base or api_key. " +
			"Enable with general_settings::allow_client_side_credentials or the deployment's configurable_clientside_auth_params.")
	}
	od := *d
	od.Private = nil
	od.APIKey = c.APIKey
	if c.APIBase == "" {
		// The client's own key for the configured upstream.
		if err := prepare(&od); err != nil {
			return nil, refused("client-side api_key: " + err.Error())
		}
		return &od, nil
	}
	if err := cs.checkBase(c.APIBase, cp.baseMatch); err != nil {
		return nil, err
	}
	od.APIBase = c.APIBase
	od.Headers, od.Signer, od.Organization = nil, nil, ""
	if err := prepare(&od); err != nil {
		return nil, refused("client-side api_base: " + err.Error())
	}
	name := od.Provider
	switch name {
	case "cohere_chat":
		name = "cohere"
	case "ollama_chat":
		name = "ollama"
	}
	od.Impl = cs.http[name]
	if od.Impl == nil {
		return nil, refused("a client-side api_base is not supported for provider " + od.Provider)
	}
	if isLoopbackName(strings.TrimSuffix(strings.ToLower(hostOf(od.APIBase)), ".")) {
		od.Impl = loopback{od.Impl}
	}
	return &od, nil
}

func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// loopback marks the attempts of an allow-listed loopback api_base, so
// that the dial guard lets them connect there.
type loopback struct{ provider.Provider }

func (l loopback) Send(ctx context.Context, c *provider.Call, res *provider.Result) error {
	return l.Provider.Send(context.WithValue(ctx, loopbackKey{}, true), c, res)
}

// prepare recomputes a copied deployment's URLs and headers, without the
// environment: a key from the gateway's environment must not go to a
// client's upstream.
func prepare(d *provider.Deployment) error {
	noEnv := func(string) (string, bool) { return "", false }
	switch {
	case openaicompat.Handles(d.Provider):
		return openaicompat.Prepare(d, noEnv)
	case d.Provider == "anthropic":
		return anthropic.Prepare(d, noEnv)
	case cohere.Handles(d.Provider):
		return cohere.Prepare(d, noEnv)
	case d.Provider == "ollama" || d.Provider == "ollama_chat":
		return ollama.Prepare(d, noEnv)
	}
	return errors.New("not supported for provider " + d.Provider)
}

// blockedNames are cloud metadata endpoints by name.
var blockedNames = map[string]bool{"metadata.google.internal": true, "metadata.goog": true, "metadata": true,
	"instance-data": true, "instance-data.ec2.internal": true}

// checkBase vets a client's api_base before anything is sent: an http(s)
// URL without user info, whose host is allow-listed and not a metadata
// or link-local address. The host is taken the way the upstream client
// will take it, so the two cannot disagree about where it points.
func (cs *clientSide) checkBase(base string, match *regexp.Regexp) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Host == "" ||
		strings.ContainsAny(base, "\\@ \t\r\n") {
		return refused("client-side api_base must be an http(s) URL without credentials")
	}
	rest := base[len(u.Scheme)+len("://"):]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if !strings.EqualFold(rest, u.Host) {
		return refused("client-side api_base must be an http(s) URL without credentials")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if blockedNames[host] {
		return refused("client-side api_base may not point at a cloud metadata endpoint")
	}
	if !cs.allowed(host) {
		return refused("client-side api_base host " + host + " is not on general_settings.allowed_client_side_api_base_hosts")
	}
	if match != nil && !match.MatchString(base) {
		return refused("client-side api_base does not match the deployment's configurable_clientside_auth_params pattern")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := forbidden(ip, isLoopbackName(host)); why != "" {
			return refused("client-side api_base may not point at a " + why + " address")
		}
	}
	return nil
}

func (cs *clientSide) allowed(host string) bool {
	for _, h := range cs.hosts {
		if h == host || h[0] == '.' && strings.HasSuffix(host, h) {
			return true
		}
	}
	return false
}

// isLoopbackName: a host that names the loopback interface itself, which
// an allow-list entry can admit. A name that merely resolves there cannot.
func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// forbidden says why ip may not be connected to for a client-chosen host
// ("" when it may).
func forbidden(ip netip.Addr, loopbackOK bool) string {
	ip = ip.Unmap()
	switch {
	case ip == netip.MustParseAddr("169.254.169.254") || ip == netip.MustParseAddr("fd00:ec2::254") || ip == netip.MustParseAddr("100.100.100.200"):
		return "cloud metadata"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast():
		return "non-unicast"
	case ip.IsLoopback() && !loopbackOK:
		return "loopback"
	}
	return ""
}

// loopbackKey carries, in a request's context, that its host names the
// loopback interface and is allow-listed.
type loopbackKey struct{}

// dialGuard is the guarded client's check of every address it connects
// to, after resolution: a name allow-listed when the request came in that
// now resolves to a metadata or link-local address is refused here.
func dialGuard(ctx context.Context, network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("refusing to connect to %q: not an IP address", address)
	}
	loopbackOK, _ := ctx.Value(loopbackKey{}).(bool)
	if why := forbidden(ip, loopbackOK); why != "" {
		return fmt.Errorf("refusing to connect to a %s address for a client-side api_base", why)
	}
	return nil
}
