package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable means Redis could not be reached or cannot serve now
// (down, loading its data, failing over, out of memory). It also matches
// dispatch.ErrUnavailable, so the server answers 503 without knowing which
// store runs, and the client retries. For Commit the outcome is unknown:
// the batch may have been applied before the connection broke.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string { return "redis unavailable" }

func (unavailableError) Is(target error) bool { return target == dispatch.ErrUnavailable }

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

// ErrLostWrites means Redis no longer has events a reader had already
// seen: it restarted without its data or failed over to a lagging
// replica. Errors wrapping it also wrap dispatch.ErrLogTruncated, since the
// remedy is the same: reload a snapshot.
var ErrLostWrites = errors.New("redis lost acknowledged writes")

// classify wraps err with ErrUnavailable when it means "Redis cannot serve
// now", and with ErrClosed when the store or its client was closed. Other
// errors (a script error, a wrong key type) pass unchanged.
func (s *Store) classify(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	case s.closed.Load() || errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted):
		return true
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsClusterDownError(err),
		redis.IsTryAgainError(err), redis.IsMasterDownError(err), redis.IsMaxClientsError(err),
		redis.IsOOMError(err), redis.IsNoReplicasError(err),
		redis.HasErrorPrefix(err, "BUSY"):
		return true
	}
	return false
}

func truncated(after, first uint64) error {
	return fmt.Errorf("events after %d: log starts at %d: %w", after, first, dispatch.ErrLogTruncated)
}

func lostWrites(after, last uint64) error {
	return fmt.Errorf("log ends at %d, before %d: %w: %w", last, after, ErrLostWrites, dispatch.ErrLogTruncated)
}
