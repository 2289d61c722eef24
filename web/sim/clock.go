package sim

import (
	"context"
	"time"
)

// scale turns scenario time into wall time: at speed 24 an hour of flood
// passes in two and a half minutes.
type scale float64

func (s scale) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / float64(s))
}

// sleep waits scenario time d (scaled), or until ctx ends.
func (s scale) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(s.wall(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
