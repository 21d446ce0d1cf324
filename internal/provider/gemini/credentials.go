package gemini

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// credentials is a Google credentials file: a service account key, or the
// user credentials `gcloud auth application-default login` writes.
type credentials struct {
	kind         string // "service_account" or "authorized_user"
	email        string
	key          *rsa.PrivateKey
	keyID        string
	tokenURI     string
	clientID     string
	clientSecret string
	refreshToken string
	projectID    string
	quotaProject string
}

const defaultTokenURI = "https://oauth2.googleapis.com/token"

// loadCredentials finds a deployment's credentials as LiteLLM does:
// vertex_credentials (a path to a JSON file, the JSON itself, or a YAML
// mapping of it), else VERTEXAI_CREDENTIALS, else the file named by
// GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application default
// credentials. The GCE metadata server is not consulted.
func loadCredentials(v any, env func(...string) string) (*credentials, error) {
	var raw []byte
	var err error
	switch x := v.(type) {
	case nil:
		if s := env("VERTEXAI_CREDENTIALS"); s != "" {
			raw, err = jsonOrFile(s)
		} else if s := env("GOOGLE_APPLICATION_CREDENTIALS"); s != "" {
			raw, err = os.ReadFile(s)
		} else if path := gcloudADC(env); path != "" {
			raw, err = os.ReadFile(path)
		} else {
			return nil, errors.New("vertex_ai needs vertex_credentials (a service account JSON, or a path to one) or GOOGLE_APPLICATION_CREDENTIALS")
		}
	case string:
		raw, err = jsonOrFile(x)
	case map[string]any:
		raw, err = json.Marshal(x)
	default:
		return nil, fmt.Errorf("vertex_credentials must be a path or a JSON object, not %T", v)
	}
	if err != nil {
		return nil, fmt.Errorf("reading vertex credentials: %w", err)
	}
	return parseCredentials(raw)
}

func jsonOrFile(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		return []byte(s), nil
	}
	return os.ReadFile(s)
}

// gcloudADC is the well-known path of gcloud's application default
// credentials, if that file exists.
func gcloudADC(env func(...string) string) string {
	dir := env("CLOUDSDK_CONFIG")
	if dir == "" {
		home := env("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config", "gcloud")
	}
	path := filepath.Join(dir, "application_default_credentials.json")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

func parseCredentials(raw []byte) (*credentials, error) {
	var f struct {
		Type           string `json:"type"`
		ProjectID      string `json:"project_id"`
		PrivateKeyID   string `json:"private_key_id"`
		PrivateKey     string `json:"private_key"`
		ClientEmail    string `json:"client_email"`
		TokenURI       string `json:"token_uri"`
		ClientID       string `json:"client_id"`
		ClientSecret   string `json:"client_secret"`
		RefreshToken   string `json:"refresh_token"`
		QuotaProjectID string `json:"quota_project_id"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("vertex credentials are not valid JSON")
	}
	c := &credentials{kind: f.Type, email: f.ClientEmail, keyID: f.PrivateKeyID, tokenURI: f.TokenURI,
		clientID: f.ClientID, clientSecret: f.ClientSecret, refreshToken: f.RefreshToken,
		projectID: f.ProjectID, quotaProject: f.QuotaProjectID}
	if c.tokenURI == "" {
		c.tokenURI = defaultTokenURI
	}
	switch f.Type {
	case "service_account":
		if f.ClientEmail == "" || f.PrivateKey == "" {
			return nil, errors.New("vertex service account credentials need client_email and private_key")
		}
		key, err := parseKey(f.PrivateKey)
		if err != nil {
			return nil, err
		}
		c.key = key
	case "authorized_user":
		if f.ClientID == "" || f.ClientSecret == "" || f.RefreshToken == "" {
			return nil, errors.New("vertex authorized_user credentials need client_id, client_secret and refresh_token")
		}
	default:
		return nil, fmt.Errorf("vertex credentials of type %q are not supported (use a service_account key or authorized_user credentials)", f.Type)
	}
	return c, nil
}

// parseKey reads the PEM private key of a service account: PKCS #8, as
// Google issues them, or PKCS #1.
func parseKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("vertex service account private_key is not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, errors.New("vertex service account private_key is not an RSA key")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("vertex service account private_key cannot be parsed")
	}
	return k, nil
}
