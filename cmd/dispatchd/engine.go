package main

import (
	"context"
	"log/slog"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/web"
)

// engineParts is what the engine contributes to the server.
type engineParts struct {
	api   web.Engine
	seq   uint64
	ready func(context.Context) error
	run   func(context.Context) error
	hook  func(*web.Metrics)
}

// startEngine creates the engine over the store.
func startEngine(ctx context.Context, cfg config, store dispatch.Store, logger *slog.Logger) (engineParts, error) {
	seq, err := store.Load(ctx, func(dispatch.Record) error { return nil })
	if err != nil {
		return engineParts{}, err
	}
	return engineParts{
		seq:  seq,
		run:  func(ctx context.Context) error { <-ctx.Done(); return nil },
		hook: func(*web.Metrics) {},
	}, nil
}
