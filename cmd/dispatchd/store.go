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
)

// redisURLEnv names the environment variable with the Redis URL. It wins
// over redis_url in the config file, since a URL may carry a password.
const redisURLEnv = "DISPATCH_REDIS_URL"

// openStore opens the Redis store when a Redis URL is configured, so that
// several dispatchd nodes share one state, else the embedded store in the
// data dir. ready, for /readyz, is nil for the embedded store.
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (store dispatch.Store, ready func(context.Context) error, err error) {
	log := logger.With("component", "store")
	url := cmp.Or(os.Getenv(redisURLEnv), cfg.RedisURL)
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
