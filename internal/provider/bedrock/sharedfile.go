package bedrock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sharedConfig is what the AWS shared files say: ~/.aws/credentials
// (AWS_SHARED_CREDENTIALS_FILE) and ~/.aws/config (AWS_CONFIG_FILE).
// Sections are keyed by profile name; the config file's "[profile x]" is
// x there.
type sharedConfig struct {
	creds, conf map[string]map[string]string
	err         error // a file that exists but could not be read
}

var (
	errNoProfile     = errors.New("no such profile in the AWS shared credentials or config file")
	errNoCredentials = errors.New("no aws_access_key_id and aws_secret_access_key")
)

func sharedFiles(lookup func(string) string) *sharedConfig {
	home := lookup("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	path := func(env, name string) string {
		if p := lookup(env); p != "" {
			return p
		}
		if home == "" {
			return ""
		}
		return filepath.Join(home, ".aws", name)
	}
	s := &sharedConfig{}
	s.creds = s.read(path("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false)
	s.conf = s.read(path("AWS_CONFIG_FILE", "config"), true)
	return s
}

func (s *sharedConfig) read(path string, config bool) map[string]map[string]string {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) && s.err == nil {
			s.err = fmt.Errorf("reading %s: %w", path, err)
		}
		return nil
	}
	return parseINI(string(b), config)
}

// parseINI reads the AWS flavour of INI: [section] lines, key = value
// lines, '#' and ';' comments. Nested sub-sections (indented lines under
// a key with an empty value, as for s3 settings) are skipped.
func parseINI(text string, config bool) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "["), "]"))
			if config {
				if rest, ok := strings.CutPrefix(name, "profile "); ok {
					name = strings.TrimSpace(rest)
				} else if name != "default" {
					// [sso-session x], [services x]: not profiles.
					cur = nil
					continue
				}
			}
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			cur = out[name]
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return out
}

// get reads a profile's key, the credentials file first.
func (s *sharedConfig) get(profile, key string) string {
	if v := s.creds[profile][key]; v != "" {
		return v
	}
	return s.conf[profile][key]
}

func (s *sharedConfig) has(profile string) bool {
	_, a := s.creds[profile]
	_, b := s.conf[profile]
	return a || b
}

// region is the profile's region setting.
func (s *sharedConfig) region(profile string) string {
	if profile == "" {
		profile = "default"
	}
	return s.conf[profile]["region"]
}

// credentials resolves a profile to a credential source.
func (s *sharedConfig) credentials(profile string, sts stsClient) (credentialSource, error) {
	return s.resolve(profile, sts, 0)
}

func (s *sharedConfig) resolve(profile string, sts stsClient, depth int) (credentialSource, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !s.has(profile) {
		return nil, fmt.Errorf("profile %q: %w", profile, errNoProfile)
	}
	if depth > 4 {
		return nil, fmt.Errorf("profile %q: source_profile chain too long or circular", profile)
	}
	id, secret := s.get(profile, "aws_access_key_id"), s.get(profile, "aws_secret_access_key")
	role := s.get(profile, "role_arn")
	switch {
	case role != "":
		src := s.get(profile, "source_profile")
		if src == "" {
			return nil, fmt.Errorf("profile %q: role_arn without source_profile (credential_source) is not supported", profile)
		}
		var base credentialSource
		var err error
		if src == profile && id != "" {
			base = staticCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: s.get(profile, "aws_session_token")}
		} else if base, err = s.resolve(src, sts, depth+1); err != nil {
			return nil, err
		}
		session := firstNonEmpty(s.get(profile, "role_session_name"), "switchboard")
		external := s.get(profile, "external_id")
		return newCached(func(ctx context.Context) (Credentials, error) {
			return sts.assumeRole(ctx, base, role, session, external)
		}), nil
	case id != "" && secret != "":
		return staticCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: s.get(profile, "aws_session_token")}, nil
	case s.get(profile, "credential_process") != "":
		return nil, fmt.Errorf("profile %q: credential_process is not supported; give static keys or a role", profile)
	case s.get(profile, "sso_session") != "" || s.get(profile, "sso_start_url") != "":
		return nil, fmt.Errorf("profile %q: SSO profiles are not supported; give static keys or a role", profile)
	}
	return nil, fmt.Errorf("profile %q: %w", profile, errNoCredentials)
}
