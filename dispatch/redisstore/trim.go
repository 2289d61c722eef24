package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

const (
	// trimInterval is how often each Store with a Retention trims. Every
	// node trims; XTRIM MINID is idempotent, so they do not conflict.
	trimInterval = 30 * time.Second
	// trimStep bounds the entries one XTRIM deletes, so that a large
	// backlog of expired events never holds Redis up for long.
	trimStep = 50000
)

func (s *Store) trimLoop() {
	defer s.wg.Done()
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		n, err := s.trim(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			// Nothing acknowledged is lost; the next tick tries again.
			s.log.Warn("event stream trim failed", "err", err)
		case n > 0:
			s.log.Debug("event stream trimmed", "events", n)
		}
	}
}

// trim deletes the events older than Retention and returns how many.
//
// Event times grow with seq as far as the nodes' clocks agree, so the last
// expired event is found by binary search on seq, about twenty reads of
// one entry for a stream of a million, instead of a walk over every
// expired entry. With clocks a little apart an event may go a little early
// or late; that is all.
func (s *Store) trim(ctx context.Context) (int64, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	cutoff := s.now().Add(-s.opts.Retention)
	head, ok, err := s.entryAt(ctx, "-")
	if err != nil || !ok || !head.Time.Before(cutoff) {
		return 0, err
	}
	tail, ok, err := s.tailEntry(ctx)
	if err != nil || !ok {
		return 0, err
	}
	lo, hi := head.Seq, tail.Seq // time(lo) < cutoff
	if tail.Time.Before(cutoff) {
		lo = hi
	}
	for hi-lo > 1 { // time(hi) >= cutoff
		mid := lo + (hi-lo)/2
		e, ok, err := s.entryAt(ctx, entryID(mid))
		if err != nil {
			return 0, err
		}
		// Missing means another node trimmed it already: it was old.
		if !ok || e.Seq != mid || e.Time.Before(cutoff) {
			lo = mid
		} else {
			hi = mid
		}
	}
	var n int64
	for from := head.Seq; from <= lo; from += trimStep {
		upto := min(lo, from+trimStep-1)
		k, err := s.rdb.XTrimMinID(ctx, s.keys.events, entryID(upto+1)).Result()
		if err != nil {
			return n, fmt.Errorf("trim events: %w", s.classify(ctx, err))
		}
		n += k
	}
	return n, nil
}

// entryAt reads the first entry at or after id ("-" for the first of all).
func (s *Store) entryAt(ctx context.Context, id string) (dispatch.Event, bool, error) {
	msgs, err := s.rdb.XRangeN(ctx, s.keys.events, id, "+", 1).Result()
	if err != nil {
		return dispatch.Event{}, false, fmt.Errorf("trim events: %w", s.classify(ctx, err))
	}
	if len(msgs) == 0 {
		return dispatch.Event{}, false, nil
	}
	e, err := decodeEntry(msgs[0])
	return e, err == nil, err
}

func (s *Store) tailEntry(ctx context.Context) (dispatch.Event, bool, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.keys.events, "+", "-", 1).Result()
	if err != nil {
		return dispatch.Event{}, false, fmt.Errorf("trim events: %w", s.classify(ctx, err))
	}
	if len(msgs) == 0 {
		return dispatch.Event{}, false, nil
	}
	e, err := decodeEntry(msgs[0])
	return e, err == nil, err
}

// trimNow trims at once; tests use it instead of waiting for the ticker.
func (s *Store) trimNow(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("trim: %w", ErrClosed)
	}
	return s.trim(ctx)
}
