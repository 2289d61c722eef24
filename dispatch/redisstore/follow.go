package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/redis/go-redis/v9"
)

const (
	// followBatch is how many events Follow hands to fn at most at once.
	followBatch = 1000
	// followBlock is how long one XREAD waits for news. go-redis does not
	// abort a blocked read when its context ends, so this is also about
	// how long Follow takes to notice cancellation or Close.
	followBlock = 500 * time.Millisecond
	// retryMin and retryMax bound the backoff while Redis is unavailable.
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
)

// Follow calls fn with every event after `after`, in order and each once,
// first from the log and then live, until ctx ends (ctx.Err()), the store
// closes (ErrClosed) or the follower cannot go on: the log was trimmed past
// it (dispatch.ErrLogTruncated) or Redis lost events it had delivered
// (ErrLostWrites, which also matches dispatch.ErrLogTruncated). fn runs on
// the caller's goroutine, never concurrently with itself.
//
// While Redis is unavailable Follow retries with capped backoff, logging
// the outage once and the recovery once, and resumes after the last event
// it delivered, so an outage never causes a gap or a duplicate. One
// follower keeps one connection busy while it waits.
func (s *Store) Follow(ctx context.Context, after uint64, fn func([]dispatch.Event)) error {
	if s.closed.Load() {
		return fmt.Errorf("follow: %w", ErrClosed)
	}
	var (
		live     bool           // caught up: wait with XREAD
		down     time.Time      // start of the current outage, zero if none
		attempts int            // retries in the current outage
		lastEv   dispatch.Event // the last event delivered, if any
		verify   bool           // after an outage: is lastEv still in the log?
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closed.Load() {
			return fmt.Errorf("follow: %w", ErrClosed)
		}
		var (
			evs []dispatch.Event
			err error
		)
		if live {
			evs, err = s.waitAfter(ctx, after)
		} else if verify && lastEv.Seq != 0 {
			if err = s.verifyDelivered(ctx, lastEv); err == nil {
				verify = false
				continue
			}
		} else {
			var last uint64
			evs, last, err = s.readAfter(ctx, after, followBatch)
			if err == nil && len(evs) == 0 {
				if last < after {
					err = lostWrites(after, last)
				}
				live = true
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if s.closed.Load() {
				return fmt.Errorf("follow: %w", ErrClosed)
			}
			if !errors.Is(err, ErrUnavailable) {
				return fmt.Errorf("follow: %w", err)
			}
			if down.IsZero() {
				down = time.Now()
				s.log.Warn("follow: redis unavailable, retrying", "after_seq", after, "err", err)
			}
			attempts++
			// When back, check that what was delivered is still there and
			// catch up through readAfter: together they notice trimming
			// and lost writes that happened meanwhile.
			live, verify = false, true
			if err := s.sleep(ctx, backoff(attempts)); err != nil {
				return err
			}
			continue
		}
		if !down.IsZero() {
			s.log.Info("follow: redis available again", "after_seq", after,
				"outage", time.Since(down).Round(time.Millisecond), "attempts", attempts)
			down, attempts = time.Time{}, 0
		}
		if len(evs) > 0 {
			fn(evs)
			lastEv = evs[len(evs)-1]
			after = lastEv.Seq
		}
	}
}

// verifyDelivered checks that the log still holds e as it was delivered.
// Redis that restarted without its data, or a replica promoted before it
// had the last writes, may have handed the same seqs out again since; the
// follower's position then names a different event. If e was trimmed
// meanwhile there is nothing to compare, and readAfter decides.
func (s *Store) verifyDelivered(ctx context.Context, e dispatch.Event) error {
	msgs, err := s.rdb.XRangeN(ctx, s.keys.events, entryID(e.Seq), entryID(e.Seq), 1).Result()
	if err != nil {
		return fmt.Errorf("verify event %d: %w", e.Seq, s.classify(ctx, err))
	}
	if len(msgs) == 0 {
		return nil
	}
	got, err := decodeEntry(msgs[0])
	if err != nil {
		return fmt.Errorf("verify event %d: %w", e.Seq, err)
	}
	if !sameEvent(got, e) {
		return fmt.Errorf("event %d was replaced: %w: %w", e.Seq, ErrLostWrites, dispatch.ErrLogTruncated)
	}
	return nil
}

func sameEvent(a, b dispatch.Event) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Type == b.Type && a.Region == b.Region &&
		a.WorkerID == b.WorkerID && a.IncidentID == b.IncidentID && a.AssignmentID == b.AssignmentID &&
		bytes.Equal(a.Data, b.Data)
}

// waitAfter waits up to followBlock for events after `after`. Entries must
// start at after+1: anything else means the log was trimmed past us while
// we waited. On a timeout it checks that the log has not gone back.
func (s *Store) waitAfter(ctx context.Context, after uint64) ([]dispatch.Event, error) {
	streams, err := s.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{s.keys.events, entryID(after)},
		Count:   followBatch,
		Block:   followBlock,
	}).Result()
	if errors.Is(err, redis.Nil) {
		last, err := s.lastSeq(ctx)
		if err != nil {
			return nil, err
		}
		if last < after {
			return nil, lostWrites(after, last)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wait for events after %d: %w", after, s.classify(ctx, err))
	}
	if len(streams) == 0 || len(streams[0].Messages) == 0 {
		return nil, nil
	}
	evs, err := decodeEntries(streams[0].Messages)
	if err != nil {
		return nil, err
	}
	if evs[0].Seq != after+1 {
		return nil, truncated(after, evs[0].Seq)
	}
	return evs, nil
}

// backoff is the wait before retry n (from 1): doubling from retryMin up
// to retryMax, with jitter so that the nodes do not retry in step.
func backoff(n int) time.Duration {
	d := retryMax
	if n < 16 {
		d = min(retryMax, retryMin<<(n-1))
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d unless ctx ends or the store closes.
func (s *Store) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return fmt.Errorf("follow: %w", ErrClosed)
	}
}
