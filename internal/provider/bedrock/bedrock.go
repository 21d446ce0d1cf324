// Package bedrock serves `bedrock/<model>` deployments through Amazon
// Bedrock's Converse API (chat) and InvokeModel (embeddings), translating
// OpenAI requests and answers both ways. Requests are signed with AWS
// Signature Version 4 (or sent with a Bedrock API key); streams arrive in
// the AWS event stream framing, decoded here by hand.
package bedrock

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/openai"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

// Ops are the operations Bedrock deployments serve.
var Ops = []provider.Op{provider.OpChat, provider.OpEmbedding}

// Codec is the provider.Codec of Bedrock. The zero value is ready; its
// fields exist so that tests can pin the generated id and timestamp.
type Codec struct {
	now   func() time.Time
	newID func() string
}

func (c Codec) created() int64 {
	if c.now != nil {
		return c.now().Unix()
	}
	return time.Now().Unix()
}

func (c Codec) id() string {
	if c.newID != nil {
		return c.newID()
	}
	return openai.NewCompletionID()
}

// NewEventReader implements provider.FramedCodec.
func (Codec) NewEventReader(body io.Reader) provider.EventReader { return newEventReader(body) }

// family is what translation needs to know about the model behind an id.
type family uint8

const (
	familyOther     family = iota
	familyAnthropic        // Claude: Anthropic-shaped extras (top_k, thinking)
	familyNova             // Amazon Nova: topK inside inferenceConfig
	familyNova2            // Nova 2: reasoningConfig
	familyUnknown          // an ARN: the model behind it cannot be told
)

// prepared is what Prepare computes once per deployment.
type prepared struct {
	model     string // the model id after LiteLLM route prefixes
	family    family
	converse  string // URLs, the model id escaped into the path
	stream    string
	invoke    string
	headers   [][2]string // Content-Type, a Bedrock API key, extra_headers
	region    string
	embedding embedKind
}

// Prepare resolves a deployment the way LiteLLM does: the model id after
// its route prefix, the region (aws_region_name, the model ARN,
// AWS_REGION_NAME, AWS_REGION, AWS_DEFAULT_REGION, the profile's region,
// else us-west-2), the endpoint (api_base, aws_bedrock_runtime_endpoint,
// AWS_BEDROCK_RUNTIME_ENDPOINT, else bedrock-runtime.<region>), and the
// credentials: a Bedrock API key (api_key or AWS_BEARER_TOKEN_BEDROCK), or
// else a SigV4 signer over the AWS credential chain (see credentials.go).
func Prepare(d *provider.Deployment, env func(string) (string, bool)) error {
	lookup := func(name string) string {
		if env == nil {
			return ""
		}
		v, _ := env(name)
		return v
	}
	extra, err := readExtra(d.Extra)
	if err != nil {
		return fmt.Errorf("deployment %q: %w", d.ModelName, err)
	}
	p := &prepared{model: modelID(d.Model)}
	if p.model == "" {
		return fmt.Errorf("deployment %q: bedrock needs a model id, as in bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", d.ModelName)
	}
	p.family = modelFamily(p.model)
	p.embedding = embeddingKind(p.model)

	profile := profileName(extra, lookup)
	files := sharedFiles(lookup)
	p.region = firstNonEmpty(extra.region, arnRegion(p.model), lookup("AWS_REGION_NAME"), lookup("AWS_REGION"), lookup("AWS_DEFAULT_REGION"), files.region(profile), "us-west-2")
	if !validRegion(p.region) {
		return fmt.Errorf("deployment %q: invalid AWS region %q", d.ModelName, p.region)
	}

	base := firstNonEmpty(d.APIBase, extra.endpoint, lookup("AWS_BEDROCK_RUNTIME_ENDPOINT"), "https://bedrock-runtime."+p.region+".amazonaws.com")
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return fmt.Errorf("deployment %q: the Bedrock endpoint must be an http(s) URL without credentials or query", d.ModelName)
	}
	root := u.Scheme + "://" + u.Host + u.EscapedPath() + "/model/" + escapeLabel(p.model)
	p.converse, p.stream, p.invoke = root+"/converse", root+"/converse-stream", root+"/invoke"

	p.headers = append(p.headers, [2]string{"Content-Type", "application/json"})
	bearer := d.APIKey.Reveal()
	if bearer == "" {
		bearer = lookup("AWS_BEARER_TOKEN_BEDROCK")
	}
	if bearer != "" {
		// A Bedrock API key replaces SigV4 altogether.
		d.APIKey = provider.Secret(bearer)
		p.headers = append(p.headers, [2]string{"Authorization", "Bearer " + bearer})
	} else {
		creds, err := newCredentialChain(extra, profile, files, p.region, lookup)
		if err != nil {
			return fmt.Errorf("deployment %q: %w", d.ModelName, err)
		}
		d.Signer = newSigner(p.region, "bedrock", creds)
	}
	p.headers = append(p.headers, d.Headers...)
	d.Private = p
	return nil
}

// New returns the Bedrock provider. One serves every Bedrock deployment.
func New(client *upstream.Client) provider.Provider {
	return newProvider(client, Codec{})
}

func newProvider(client *upstream.Client, codec Codec) *bedrockProvider {
	return &bedrockProvider{HTTP: provider.NewHTTP("bedrock", client, codec, Ops...)}
}

// modelID strips LiteLLM's route prefixes: bedrock/converse/<id> picks the
// Converse route, which is the only one used here, and
// bedrock/invoke/<id> is served through Converse as well, which covers
// every chat model InvokeModel does with one translation.
func modelID(m string) string {
	for _, prefix := range []string{"converse/", "invoke/"} {
		if strings.HasPrefix(m, prefix) {
			return m[len(prefix):]
		}
	}
	return m
}

// modelFamily looks past cross-region inference profile prefixes
// ("us.", "eu.", "apac.", "global.", ...) at the provider part of the id.
func modelFamily(model string) family {
	if strings.HasPrefix(model, "arn:") {
		switch {
		case strings.Contains(model, "anthropic."):
			return familyAnthropic
		case strings.Contains(model, "amazon.nova-2"):
			return familyNova2
		case strings.Contains(model, "amazon.nova"):
			return familyNova
		}
		return familyUnknown
	}
	base := model
	if i := strings.IndexByte(base, '.'); i >= 0 && i <= 7 && strings.IndexByte(base[i+1:], '.') >= 0 {
		switch base[:i] {
		case "us", "eu", "apac", "global", "us-gov", "jp", "au", "ca":
			base = base[i+1:]
		}
	}
	switch {
	case strings.HasPrefix(base, "anthropic."):
		return familyAnthropic
	case strings.HasPrefix(base, "amazon.nova-2"):
		return familyNova2
	case strings.HasPrefix(base, "amazon.nova"):
		return familyNova
	}
	return familyOther
}

// arnRegion is the region field of a Bedrock ARN model id.
func arnRegion(model string) string {
	if !strings.HasPrefix(model, "arn:") {
		return ""
	}
	parts := strings.SplitN(model, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

func validRegion(r string) bool {
	if r == "" || len(r) > 32 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// escapeLabel escapes a model id for the URL path as the AWS SDKs do for
// an HTTP label: everything but unreserved characters, so ':' in versions
// and '/' in ARNs and inference profile ids cannot change the path.
func escapeLabel(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// extraParams are the AWS litellm_params of a deployment.
type extraParams struct {
	region, endpoint                         string
	accessKeyID, secretAccessKey, sessionTok string
	profile                                  string
	roleName, sessionName, externalID        string
	webIdentityToken, stsEndpoint            string
}

func readExtra(extra map[string]any) (extraParams, error) {
	var e extraParams
	for key, dst := range map[string]*string{
		"aws_region_name":              &e.region,
		"aws_bedrock_runtime_endpoint": &e.endpoint,
		"aws_access_key_id":            &e.accessKeyID,
		"aws_secret_access_key":        &e.secretAccessKey,
		"aws_session_token":            &e.sessionTok,
		"aws_profile_name":             &e.profile,
		"aws_role_name":                &e.roleName,
		"aws_session_name":             &e.sessionName,
		"aws_external_id":              &e.externalID,
		"aws_web_identity_token":       &e.webIdentityToken,
		"aws_sts_endpoint":             &e.stsEndpoint,
	} {
		v, ok := extra[key]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return e, fmt.Errorf("%s must be a string", key)
		}
		*dst = strings.TrimSpace(s)
	}
	return e, nil
}

func profileName(e extraParams, lookup func(string) string) string {
	return firstNonEmpty(e.profile, lookup("AWS_PROFILE_NAME"), lookup("AWS_PROFILE"))
}
