package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jjj-social-work/dispatch/web"
)

// CachedCredentialsIssuer is CredentialsIssuer that keeps what it issued
// in a file only its owner may read (mode 0600) and, next time, reuses the
// credentials still valid instead of issuing them again.
func CachedCredentialsIssuer(c *web.Credentials, ttl time.Duration, path string) Issuer {
	return &cachingIssuer{inner: CredentialsIssuer(c, ttl), path: path, valid: credentialValid(c)}
}

// credentialValid checks a cached token against the credentials file.
func credentialValid(c *web.Credentials) func(TokenRequest, string) bool {
	return func(r TokenRequest, tok string) bool {
		p, err := c.Authenticate(tok)
		return err == nil && p.Role == r.Role && p.WorkerID == r.WorkerID
	}
}

// cachingIssuer reuses credentials it issued before and issues only what
// is missing or no longer valid.
type cachingIssuer struct {
	inner Issuer
	path  string
	valid func(TokenRequest, string) bool
}

type tokenCacheFile struct {
	Version int               `json:"version"`
	Tokens  map[string]string `json:"tokens"`
}

func cacheKey(r TokenRequest) string {
	return string(r.Role) + "|" + r.WorkerID + "|" + r.Name + "|" + strings.Join(r.Regions, ",")
}

func (c *cachingIssuer) Issue(ctx context.Context, reqs []TokenRequest) ([]string, error) {
	cache := c.load()
	out := make([]string, len(reqs))
	var missing []TokenRequest
	var at []int
	for i, r := range reqs {
		if tok, ok := cache.Tokens[cacheKey(r)]; ok && c.valid(r, tok) {
			out[i] = tok
			continue
		}
		missing = append(missing, r)
		at = append(at, i)
	}
	if len(missing) > 0 {
		toks, err := c.inner.Issue(ctx, missing)
		if err != nil {
			return nil, err
		}
		for j, tok := range toks {
			out[at[j]] = tok
			cache.Tokens[cacheKey(missing[j])] = tok
		}
		if err := c.save(cache); err != nil {
			return nil, fmt.Errorf("issue credentials: %w", err)
		}
	}
	return out, nil
}

func (c *cachingIssuer) load() tokenCacheFile {
	f := tokenCacheFile{Version: 1, Tokens: map[string]string{}}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return f
	}
	var got tokenCacheFile
	if json.Unmarshal(b, &got) != nil || got.Version != 1 || got.Tokens == nil {
		return f // unreadable: start over; the server still holds the old ones until they expire
	}
	return got
}

// save writes the cache atomically with mode 0600: it holds secrets.
func (c *cachingIssuer) save(f tokenCacheFile) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".demo-credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("save credentials cache: %w", err)
	}
	return nil
}
