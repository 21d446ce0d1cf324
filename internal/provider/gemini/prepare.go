package gemini

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

const (
	geminiBase          = "https://generativelanguage.googleapis.com"
	geminiVersion       = "v1beta"
	vertexVersion       = "v1"
	vertexDefaultRegion = "us-central1"
)

// prepared is what Prepare computes once per deployment.
type prepared struct {
	chatURL, streamURL, embedURL string
	headers                      [][2]string
	vertex                       bool
	// embedModel is the "model" each batchEmbedContents request names.
	embedModel string
	// gemini3: the model requires thought signatures on function calls
	// and takes a thinking level instead of a budget.
	gemini3 bool
	model   string
}

// Prepare resolves a deployment's defaults the way LiteLLM does and
// precomputes its URLs and headers; for Vertex AI it also loads the
// service account and installs the Signer that adds access tokens.
// lookupEnv reads the environment (nil: none).
func Prepare(d *provider.Deployment, lookupEnv func(string) (string, bool)) error {
	env := func(names ...string) string {
		for _, n := range names {
			if lookupEnv == nil {
				return ""
			}
			if v, ok := lookupEnv(n); ok && v != "" {
				return v
			}
		}
		return ""
	}
	model := strings.TrimPrefix(strings.TrimPrefix(d.Model, "gemini/"), "models/")
	if model == "" {
		return fmt.Errorf("deployment %q: no model given after %s/", d.ModelName, d.Provider)
	}
	p := &prepared{model: model, gemini3: strings.Contains(model, "gemini-3")}
	p.headers = append(p.headers, [2]string{"Content-Type", "application/json"})
	var err error
	switch d.Provider {
	case "gemini":
		err = prepareGemini(d, p, model, env)
	case "vertex_ai":
		err = prepareVertex(d, p, model, env)
	default:
		err = fmt.Errorf("provider %q is not served by the gemini package", d.Provider)
	}
	if err != nil {
		return err
	}
	p.headers = append(p.headers, d.Headers...)
	d.Private = p
	return nil
}

func prepareGemini(d *provider.Deployment, p *prepared, model string, env func(...string) string) error {
	if d.APIBase == "" {
		d.APIBase = env("GEMINI_API_BASE")
	}
	if d.APIKey == "" {
		d.APIKey = provider.Secret(env("GEMINI_API_KEY"))
	}
	if d.APIKey == "" && d.APIBase == "" {
		return fmt.Errorf("deployment %q: gemini needs api_key (or GEMINI_API_KEY)", d.ModelName)
	}
	root, err := baseURL(d, geminiBase)
	if err != nil {
		return err
	}
	version := d.APIVersion
	if version == "" {
		version = geminiVersion
	}
	// Tuned models live under tunedModels/, base models under models/.
	name := "models/" + model
	if strings.HasPrefix(d.Model, "tunedModels/") {
		name = d.Model
	}
	prefix := root + "/" + version + "/" + pathEscape(name)
	p.chatURL = prefix + ":generateContent"
	p.streamURL = prefix + ":streamGenerateContent?alt=sse"
	p.embedURL = prefix + ":batchEmbedContents"
	p.embedModel = name
	// The key goes in a header, never in the URL, where it would end up
	// in access logs and error messages.
	if d.APIKey != "" {
		p.headers = append(p.headers, [2]string{"x-goog-api-key", d.APIKey.Reveal()})
	}
	return nil
}

func prepareVertex(d *provider.Deployment, p *prepared, model string, env func(...string) string) error {
	p.vertex = true
	creds, err := loadCredentials(extra(d, "vertex_credentials", "vertex_ai_credentials"), env)
	if err != nil {
		return fmt.Errorf("deployment %q: %w", d.ModelName, err)
	}
	project := str(extra(d, "vertex_project", "vertex_ai_project"))
	if project == "" {
		project = env("VERTEXAI_PROJECT")
	}
	if project == "" {
		project = creds.projectID
	}
	if project == "" {
		project = env("GOOGLE_CLOUD_PROJECT")
	}
	if project == "" {
		return fmt.Errorf("deployment %q: vertex_ai needs vertex_project (or VERTEXAI_PROJECT, or a project_id in the credentials)", d.ModelName)
	}
	location := str(extra(d, "vertex_location", "vertex_ai_location"))
	if location == "" {
		location = env("VERTEXAI_LOCATION", "GOOGLE_CLOUD_LOCATION")
	}
	if location == "" {
		location = vertexDefaultRegion
	}
	host := "https://" + location + "-aiplatform.googleapis.com"
	if location == "global" {
		host = "https://aiplatform.googleapis.com"
	}
	root, err := baseURL(d, host)
	if err != nil {
		return err
	}
	version := d.APIVersion
	if version == "" {
		version = vertexVersion
	}
	prefix := root + "/" + version + "/projects/" + pathEscape(project) + "/locations/" + pathEscape(location)
	if isEndpointID(model) {
		// A tuned Gemini is served from its own endpoint.
		prefix += "/endpoints/" + model
	} else {
		prefix += "/publishers/google/models/" + pathEscape(model)
	}
	p.chatURL = prefix + ":generateContent"
	p.streamURL = prefix + ":streamGenerateContent?alt=sse"
	p.embedURL = prefix + ":predict"
	if creds.quotaProject != "" {
		p.headers = append(p.headers, [2]string{"x-goog-user-project", creds.quotaProject})
	}
	d.Signer = newTokenSource(creds)
	return nil
}

// baseURL is the deployment's api_base (which replaces the scheme and
// host, for proxies and tests), else def.
func baseURL(d *provider.Deployment, def string) (string, error) {
	if d.APIBase == "" {
		return def, nil
	}
	u, err := url.Parse(strings.TrimRight(d.APIBase, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("deployment %q: api_base must be an http(s) URL without a query", d.ModelName)
	}
	return u.Scheme + "://" + u.Host + u.Path, nil
}

// pathEscape escapes one path segment but keeps '/', which Gemini names
// such as tunedModels/x use as a separator.
func pathEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%2F", "/")
}

func isEndpointID(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < '0' || m[i] > '9' {
			return false
		}
	}
	return true
}

// extra returns the first of names present in the deployment's
// provider-specific litellm_params.
func extra(d *provider.Deployment, names ...string) any {
	for _, n := range names {
		if v, ok := d.Extra[n]; ok && v != nil {
			return v
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}
