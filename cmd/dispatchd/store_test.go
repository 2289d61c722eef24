package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/dispatch/diskstore"
	"github.com/jjj-social-work/dispatch/dispatch/redisstore"
	"github.com/jjj-social-work/dispatch/internal/redistest"
)

// TestOpenStore: a Redis URL in the environment picks the Redis store,
// whose readiness follows the server; without one the embedded store opens.
func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()

	s, ready, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*diskstore.Store); !ok || ready != nil {
		t.Fatalf("without a redis url: got %T (ready set: %v), want *diskstore.Store without ready", s, ready != nil)
	}
	s.Close()

	srv := redistest.Start(t)
	cfg.RedisURL = "redis://127.0.0.1:1" // the environment wins
	t.Setenv(redisURLEnv, "redis://"+srv.Addr()+"?max_retries=-1")
	s, ready, err = openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*redisstore.Store); !ok {
		t.Fatalf("with a redis url: got %T, want *redisstore.Store", s)
	}
	if err := ready(ctx); err != nil {
		t.Fatalf("ready: got %v, want nil", err)
	}
	srv.Kill()
	if err := ready(ctx); !errors.Is(err, dispatch.ErrUnavailable) {
		t.Fatalf("ready with redis down: got %v, want ErrUnavailable", err)
	}
}
