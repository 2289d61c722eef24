package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/web"
)

// loadPolicy reads the policy file over the engine's defaults; a missing
// file means the defaults.
func loadPolicy(path string) (*dispatch.Policy, error) {
	pol := dispatch.DefaultPolicy()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &pol, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pol); err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return &pol, nil
}

// newEngine loads the policy and builds the engine over the store.
func newEngine(ctx context.Context, cfg config, store dispatch.Store, logger *slog.Logger) (*dispatch.Engine, error) {
	pol, err := loadPolicy(cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	eng, err := dispatch.New(ctx, dispatch.Options{Store: store, Policy: pol, Logger: logger.With("component", "engine")})
	if err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	return eng, nil
}

var _ web.Engine = (*dispatch.Engine)(nil)
