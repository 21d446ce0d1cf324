package gemini

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/upstream"
)

const (
	cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
	jwtBearerGrant     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// assertionLifetime is the longest Google accepts.
	assertionLifetime = time.Hour
	// refreshAhead: a token with less than this left is replaced in the
	// background while requests keep using it.
	refreshAhead = 5 * time.Minute
	// expiryMargin: a token this close to expiry is not sent at all (clock
	// skew, and the time the request itself takes).
	expiryMargin = 30 * time.Second
	tokenTimeout = 30 * time.Second
)

// tokenSource is the Signer of Vertex AI deployments: it adds an OAuth
// access token (Authorization: Bearer), minted with the JWT-bearer flow
// for a service account (RFC 7523: an RS256-signed assertion posted to the
// key's token_uri) or with the refresh token of user credentials. The
// token is cached and replaced before it expires; requests that need a new
// one at the same time share a single refresh.
type tokenSource struct {
	creds  *credentials
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	bearer  string // "Bearer <token>", the header value
	expires time.Time
	pending *refresh // the refresh under way, if any
}

type refresh struct {
	done   chan struct{}
	bearer string
	err    error
}

func newTokenSource(c *credentials) *tokenSource {
	return &tokenSource{creds: c, client: &http.Client{Timeout: tokenTimeout}, now: time.Now}
}

// Sign implements provider.Signer.
func (ts *tokenSource) Sign(ctx context.Context, req *upstream.Request) error {
	bearer, err := ts.token(ctx)
	if err != nil {
		return err
	}
	req.Header = append(req.Header, [2]string{"Authorization", bearer})
	return nil
}

func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	now := ts.now()
	if ts.bearer != "" && now.Before(ts.expires.Add(-refreshAhead)) {
		b := ts.bearer
		ts.mu.Unlock()
		return b, nil
	}
	r := ts.pending
	if r == nil {
		r = &refresh{done: make(chan struct{})}
		ts.pending = r
		// The refresh outlives the request that started it: others wait on
		// it, and a cancelled request must not fail them all.
		go ts.refresh(r)
	}
	if ts.bearer != "" && now.Before(ts.expires.Add(-expiryMargin)) {
		b := ts.bearer
		ts.mu.Unlock()
		return b, nil
	}
	ts.mu.Unlock()
	select {
	case <-r.done:
		return r.bearer, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.Canceled) {
			return "", &provider.Error{Status: provider.StatusClientClosed, Type: "client_closed", Message: "client closed the request", Cause: ctx.Err()}
		}
		return "", &provider.Error{Status: http.StatusGatewayTimeout, Type: "timeout", Code: "timeout",
			Message: "request timed out waiting for a vertex_ai access token", Cause: ctx.Err()}
	}
}

func (ts *tokenSource) refresh(r *refresh) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	token, lifetime, err := ts.fetch(ctx)
	ts.mu.Lock()
	if err == nil {
		ts.bearer = "Bearer " + token
		ts.expires = ts.now().Add(lifetime)
		r.bearer = ts.bearer
	}
	r.err = err
	ts.pending = nil
	ts.mu.Unlock()
	close(r.done)
}

// fetch asks the token endpoint for a new access token.
func (ts *tokenSource) fetch(ctx context.Context) (token string, lifetime time.Duration, err error) {
	form := url.Values{}
	c := ts.creds
	if c.kind == "authorized_user" {
		form.Set("grant_type", "refresh_token")
		form.Set("client_id", c.clientID)
		form.Set("client_secret", c.clientSecret)
		form.Set("refresh_token", c.refreshToken)
	} else {
		assertion, err := ts.assertion()
		if err != nil {
			return "", 0, credentialsError(c, "cannot sign the token request", false, err)
		}
		form.Set("grant_type", jwtBearerGrant)
		form.Set("assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, credentialsError(c, "invalid token_uri", false, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", 0, credentialsError(c, "the token endpoint could not be reached", true, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tr struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
		Error       string      `json:"error"`
		Description string      `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		detail := "the token endpoint answered HTTP " + strconv.Itoa(resp.StatusCode)
		if tr.Error != "" {
			detail += ": " + tr.Error
			if tr.Description != "" {
				detail += " (" + tr.Description + ")"
			}
		}
		// A refused grant (bad key, deleted account) stays refused; a
		// throttled or failing endpoint may answer the next attempt.
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return "", 0, credentialsError(c, detail, retry, fmt.Errorf("token endpoint: HTTP %d", resp.StatusCode))
	}
	secs, err := tr.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		secs = int64(assertionLifetime / time.Second)
	}
	return tr.AccessToken, time.Duration(secs) * time.Second, nil
}

// assertion is the signed JWT a service account trades for a token.
func (ts *tokenSource) assertion() (string, error) {
	c := ts.creds
	now := ts.now().Unix()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": c.keyID})
	claims, _ := json.Marshal(map[string]any{
		"iss": c.email, "scope": cloudPlatformScope, "aud": c.tokenURI,
		"iat": now, "exp": now + int64(assertionLifetime/time.Second),
	})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// credentialsError is a failure to obtain an access token. It is the
// gateway's configuration or Google's token service that failed, not the
// client's request, hence a 502; the deployment's peers may still serve.
func credentialsError(c *credentials, detail string, retryable bool, cause error) *provider.Error {
	who := c.email
	if who == "" {
		who = "the configured user credentials"
	}
	return &provider.Error{Status: http.StatusBadGateway, Type: "api_error", Code: "upstream_credentials",
		Message:   "vertex_ai: could not get an access token for " + who + ": " + detail,
		Retryable: retryable, Cause: cause}
}
