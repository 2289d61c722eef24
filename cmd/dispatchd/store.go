package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/diskstore"
	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/web"
)

// redisURLEnv names the environment variable with the Redis URL. It wins
// over redis_url in the config file, since a URL may carry a password.
const redisURLEnv = "DISPATCH_REDIS_URL"

// openStore opens the Redis store when a Redis URL is configured, so that
// several dispatchd nodes share one state, else the embedded store in the
// data dir. ready, for /readyz, is nil for the embedded store.
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (store dispatch.Store, ready func(context.Context) error, err error) {
	log := logger.With("component", "store")
	url := redisURL(cfg)
	if url == "" {
		s, err := diskstore.Open(cfg.DataDir, diskstore.Options{Retention: cfg.retention(), Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil, nil
	}
	s, err := redisstore.Open(ctx, redisstore.Options{URL: url, Retention: cfg.retention(), Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return s, s.Ready, nil
}

// redisURL is the configured Redis URL, "" for none.
func redisURL(cfg config) string { return cmp.Or(os.Getenv(redisURLEnv), cfg.RedisURL) }

var _ web.CredentialStore = (*redisstore.Credentials)(nil)

// openCredentials opens the credentials where the store keeps its state:
// in Redis beside it, so that every node accepts a token issued on any;
// with the embedded store, the data dir's file.
func openCredentials(cfg config, store dispatch.Store) (*web.Credentials, error) {
	if rs, ok := store.(*redisstore.Store); ok {
		return web.NewCredentials(rs.Credentials(), nil)
	}
	return web.OpenCredentials(cfg.credentialsPath(), nil)
}

// openTokenCredentials opens the credentials for the token commands, which
// need no store: in Redis when a URL is configured, else the data dir's
// file. closeFn releases the connection.
func openTokenCredentials(ctx context.Context, cfg config) (creds *web.Credentials, closeFn func(), err error) {
	url := redisURL(cfg)
	if url == "" {
		creds, err := web.OpenCredentials(cfg.credentialsPath(), nil)
		return creds, func() {}, err
	}
	rc, err := redisstore.OpenCredentials(ctx, redisstore.Options{URL: url})
	if err != nil {
		return nil, nil, err
	}
	creds, err = web.NewCredentials(rc, nil)
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return creds, func() { rc.Close() }, nil
}
