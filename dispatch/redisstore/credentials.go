package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Credentials keeps the server's credentials in Redis, beside the store's
// state and under the same hash tag, so that every node accepts a token
// issued on any:
//
//	{dispatch}:credentials      hash: credential id -> its JSON (hashed secret only)
//	{dispatch}:credentials:ver  string: counts the writes to the hash
//
// A node re-reads the hash only when the counter moved, so checking for
// changes every second costs one GET. The values are opaque here; the web
// package encodes them, and *Credentials is its web.CredentialStore.
type Credentials struct {
	rdb       redis.UniversalClient
	owned     bool // Close closes rdb
	hash, ver string
}

func newCredentials(rdb redis.UniversalClient, prefix string, owned bool) *Credentials {
	tag := "{" + prefix + "}:"
	return &Credentials{rdb: rdb, owned: owned, hash: tag + "credentials", ver: tag + "credentials:ver"}
}

// Credentials returns the credentials kept with this store: the same
// client and prefix. Closing the store closes them too if it owns the
// client.
func (s *Store) Credentials() *Credentials {
	return newCredentials(s.rdb, s.opts.Prefix, false)
}

// OpenCredentials connects for the credentials alone, as the token
// commands need, without opening the event store. Options.Client or URL
// and Prefix are used as by Open; the rest is ignored. It fails with an
// error wrapping ErrUnavailable when Redis does not answer.
func OpenCredentials(ctx context.Context, opts Options) (*Credentials, error) {
	switch {
	case opts.Client == nil && opts.URL == "":
		return nil, errors.New("open redis credentials: neither Client nor URL given")
	case opts.Client != nil && opts.URL != "":
		return nil, errors.New("open redis credentials: both Client and URL given")
	case strings.ContainsAny(opts.Prefix, "{}"):
		return nil, fmt.Errorf("open redis credentials: prefix %q: braces would break the hash tag", opts.Prefix)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	rdb, owned := opts.Client, false
	if rdb == nil {
		var err error
		if rdb, err = clientFromURL(opts.URL); err != nil {
			return nil, fmt.Errorf("open redis credentials: %w", err)
		}
		owned = true
	}
	c := newCredentials(rdb, opts.Prefix, owned)
	// A keyed command, so that on Cluster it asks the right shard.
	if err := rdb.Exists(ctx, c.ver).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("open redis credentials: %w", classifyErr(ctx, err))
	}
	return c, nil
}

// Close closes the client if OpenCredentials built it.
func (c *Credentials) Close() error {
	if !c.owned {
		return nil
	}
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("close redis credentials: %w", err)
	}
	return nil
}

// Load returns every credential and the write counter as the version;
// when the counter is still since it returns no map.
func (c *Credentials) Load(ctx context.Context, since string) (map[string][]byte, string, error) {
	v, err := versionOf(c.rdb.Get(ctx, c.ver))
	if err != nil {
		return nil, "", fmt.Errorf("load credentials: %w", classifyErr(ctx, err))
	}
	if v == since {
		return nil, v, nil
	}
	// The hash and its counter in one transaction, so that the version
	// returned is exactly that of the hash.
	var ver *redis.StringCmd
	var all *redis.MapStringStringCmd
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ver = p.Get(ctx, c.ver)
		all = p.HGetAll(ctx, c.hash)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("load credentials: %w", classifyErr(ctx, err))
	}
	if v, err = versionOf(ver); err != nil {
		return nil, "", fmt.Errorf("load credentials: %w", err)
	}
	m := make(map[string][]byte, len(all.Val()))
	for id, js := range all.Val() {
		m[id] = []byte(js)
	}
	return m, v, nil
}

// versionOf reads the counter; a missing one (nothing written yet) is "0".
func versionOf(cmd *redis.StringCmd) (string, error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return "0", nil
	}
	return v, err
}

// Add writes all the credentials and counts the write in one MULTI: one
// round trip however many, and all or none.
func (c *Credentials) Add(ctx context.Context, creds map[string][]byte) error {
	if len(creds) == 0 {
		return nil
	}
	fields := make([]any, 0, 2*len(creds))
	for id, js := range creds {
		fields = append(fields, id, js)
	}
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, c.hash, fields...)
		p.Incr(ctx, c.ver)
		return nil
	})
	if err != nil {
		return fmt.Errorf("add credentials: %w", classifyErr(ctx, err))
	}
	return nil
}

// casScript sets one field if it still holds what the caller read ("" for
// absent: values are JSON, never empty) and counts the write. It returns
// 1 if it wrote, 0 if the field had changed.
var casScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('INCR', KEYS[2])
return 1
`)

// Update changes one credential with compare-and-set: fn sees the value
// read, and the write happens only if the value is still that one;
// otherwise fn runs again on the newer value. Each lost race means another
// writer changed the same credential (rare: two revocations at once);
// writers of other credentials never make it retry. ctx bounds the whole.
func (c *Credentials) Update(ctx context.Context, id string, fn func(cur []byte) ([]byte, error)) error {
	for {
		cur, err := c.rdb.HGet(ctx, c.hash, id).Bytes()
		if errors.Is(err, redis.Nil) {
			cur, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("update credential %s: %w", id, classifyErr(ctx, err))
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			return fmt.Errorf("update credential %s: empty value", id)
		}
		// The client may resend the script after a lost reply; the second
		// run then finds its own value and writes nothing, and fn runs
		// again on that value.
		n, err := casScript.Run(ctx, c.rdb, []string{c.hash, c.ver}, id, cur, next).Int()
		if err != nil {
			return fmt.Errorf("update credential %s: %w", id, classifyErr(ctx, err))
		}
		if n == 1 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("update credential %s: %w", id, err)
		}
	}
}

// classifyErr is Store.classify for callers without a Store.
func classifyErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
