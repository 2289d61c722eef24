package main

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// runner is what runAll needs of the engine: its timer loop.
type runner interface {
	Run(ctx context.Context) error
}

// runAll runs the engine, the server and any extras (the demo) together.
// The server and extras stop first when ctx ends; the engine's context
// ends only after the server has drained, so no request is cut off
// mid-change.
func runAll(ctx context.Context, eng runner, serve func(context.Context) error, extra ...func(context.Context) error) error {
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return eng.Run(engCtx) })
	g.Go(func() error {
		defer stopEngine()
		return serve(gctx)
	})
	for _, fn := range extra {
		g.Go(func() error { return fn(gctx) })
	}
	return g.Wait()
}
