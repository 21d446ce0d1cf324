package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Credentials are AWS credentials. Expires is zero for long-term keys.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time
}

// String keeps secrets out of logs and error messages.
func (c Credentials) String() string {
	return "aws credentials " + c.AccessKeyID + " [secret redacted]"
}

// GoString implements fmt.GoStringer for %#v.
func (c Credentials) GoString() string { return c.String() }

type credentialSource interface {
	retrieve(ctx context.Context) (Credentials, error)
}

type staticCredentials Credentials

func (s staticCredentials) retrieve(context.Context) (Credentials, error) { return Credentials(s), nil }

// newCredentialChain picks the deployment's credentials the way LiteLLM
// (through boto3) does, implemented here rather than with the AWS SDK's
// config module so that the gateway keeps a small dependency graph:
//
//  1. aws_web_identity_token with aws_role_name: AssumeRoleWithWebIdentity;
//  2. aws_role_name: AssumeRole with the credentials found below;
//  3. aws_access_key_id / aws_secret_access_key / aws_session_token;
//  4. the profile aws_profile_name names;
//  5. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN;
//  6. the profile AWS_PROFILE names, else "default": profiles live in the
//     shared files ~/.aws/credentials and ~/.aws/config and may hold
//     static keys or role_arn + source_profile;
//  7. web identity from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS);
//  8. container credentials (ECS task roles, EKS Pod Identity);
//  9. the EC2 instance metadata service, IMDSv2.
//
// Temporary credentials are cached and refreshed before they expire.
// Not supported: SSO profiles and credential_process.
func newCredentialChain(e extraParams, profile string, files *sharedConfig, region string, lookup func(string) string) (credentialSource, error) {
	sts := stsClient{endpoint: firstNonEmpty(e.stsEndpoint, lookup("AWS_STS_ENDPOINT"), "https://sts."+region+".amazonaws.com"), region: region, http: &http.Client{Timeout: 30 * time.Second}}
	session := firstNonEmpty(e.sessionName, lookup("AWS_SESSION_NAME"), "switchboard")
	role := firstNonEmpty(e.roleName, lookup("AWS_ROLE_NAME"))
	if token := firstNonEmpty(e.webIdentityToken, lookup("AWS_WEB_IDENTITY_TOKEN")); token != "" {
		if role == "" {
			return nil, errors.New("aws_web_identity_token needs aws_role_name (the role to assume)")
		}
		return newCached(func(ctx context.Context) (Credentials, error) {
			return sts.assumeRoleWithWebIdentity(ctx, role, session, token)
		}), nil
	}
	base, err := baseCredentials(e, profile, files, sts, lookup)
	if err != nil {
		return nil, err
	}
	if role == "" || role == lookup("AWS_ROLE_ARN") && lookup("AWS_WEB_IDENTITY_TOKEN_FILE") != "" {
		// Already running as that role (EKS service account): no hop.
		return base, nil
	}
	externalID := firstNonEmpty(e.externalID, lookup("AWS_EXTERNAL_ID"))
	return newCached(func(ctx context.Context) (Credentials, error) {
		return sts.assumeRole(ctx, base, role, session, externalID)
	}), nil
}

func baseCredentials(e extraParams, profile string, files *sharedConfig, sts stsClient, lookup func(string) string) (credentialSource, error) {
	switch {
	case e.accessKeyID != "" || e.secretAccessKey != "":
		if e.accessKeyID == "" || e.secretAccessKey == "" {
			return nil, errors.New("aws_access_key_id and aws_secret_access_key must be given together")
		}
		return staticCredentials{AccessKeyID: e.accessKeyID, SecretAccessKey: e.secretAccessKey, SessionToken: e.sessionTok}, nil
	case e.profile != "":
		return files.credentials(e.profile, sts)
	case lookup("AWS_ACCESS_KEY_ID") != "" && lookup("AWS_SECRET_ACCESS_KEY") != "":
		return staticCredentials{AccessKeyID: lookup("AWS_ACCESS_KEY_ID"), SecretAccessKey: lookup("AWS_SECRET_ACCESS_KEY"), SessionToken: lookup("AWS_SESSION_TOKEN")}, nil
	case profile != "":
		return files.credentials(profile, sts)
	}
	if src, err := files.credentials("default", sts); err == nil {
		return src, nil
	} else if !errors.Is(err, errNoProfile) && !errors.Is(err, errNoCredentials) {
		return nil, err
	}
	if file, arn := lookup("AWS_WEB_IDENTITY_TOKEN_FILE"), lookup("AWS_ROLE_ARN"); file != "" && arn != "" {
		session := firstNonEmpty(lookup("AWS_ROLE_SESSION_NAME"), "switchboard")
		return newCached(func(ctx context.Context) (Credentials, error) {
			token, err := os.ReadFile(file)
			if err != nil {
				return Credentials{}, fmt.Errorf("reading the web identity token: %w", err)
			}
			return sts.assumeRoleWithWebIdentity(ctx, arn, session, strings.TrimSpace(string(token)))
		}), nil
	}
	if c, ok := containerSource(lookup); ok {
		return newCached(c.fetch), nil
	}
	if strings.EqualFold(lookup("AWS_EC2_METADATA_DISABLED"), "true") {
		return nil, errors.New("no AWS credentials: set aws_access_key_id and aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), a profile, or run with an AWS role")
	}
	return newCached(imdsSource(lookup).fetch), nil
}

// cachedCredentials holds temporary credentials and refreshes them ahead of
// their expiry. One fetch runs at a time; callers wait for it as long as
// their own context allows, and keep using the old credentials meanwhile
// while those are still valid.
type cachedCredentials struct {
	fetch func(ctx context.Context) (Credentials, error)
	now   func() time.Time

	mu   sync.Mutex
	cur  Credentials
	have bool
	busy chan struct{} // closed when the running fetch ends; nil when none runs
	err  error         // the last fetch's failure
}

// refreshWindow is how long before expiry credentials are renewed.
const refreshWindow = 5 * time.Minute

// fetchTimeout bounds one fetch, which runs apart from any request.
const fetchTimeout = 30 * time.Second

func newCached(fetch func(ctx context.Context) (Credentials, error)) *cachedCredentials {
	return &cachedCredentials{fetch: fetch}
}

func (c *cachedCredentials) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *cachedCredentials) retrieve(ctx context.Context) (Credentials, error) {
	c.mu.Lock()
	now := c.clock()
	fresh := c.have && (c.cur.Expires.IsZero() || now.Before(c.cur.Expires.Add(-refreshWindow)))
	if fresh {
		cur := c.cur
		c.mu.Unlock()
		return cur, nil
	}
	busy := c.busy
	if busy == nil {
		busy = make(chan struct{})
		c.busy = busy
		go c.refresh(busy)
	}
	if c.have && now.Before(c.cur.Expires) {
		cur := c.cur
		c.mu.Unlock()
		return cur, nil
	}
	c.mu.Unlock()
	select {
	case <-busy:
	case <-ctx.Done():
		return Credentials{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.have && (c.cur.Expires.IsZero() || c.clock().Before(c.cur.Expires)) {
		return c.cur, nil
	}
	if c.err == nil {
		return Credentials{}, errors.New("AWS credentials expired and could not be renewed")
	}
	return Credentials{}, c.err
}

func (c *cachedCredentials) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	creds, err := c.fetch(ctx)
	cancel()
	c.mu.Lock()
	if err == nil {
		c.cur, c.have, c.err = creds, true, nil
	} else {
		c.err = err
	}
	c.busy = nil
	c.mu.Unlock()
	close(done)
}

// invalidate forgets the credentials, so the next request fetches anew.
func (c *cachedCredentials) invalidate() {
	c.mu.Lock()
	c.have = false
	c.mu.Unlock()
}
