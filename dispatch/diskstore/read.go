package diskstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jjj-social-work/dispatch/dispatch"
	bolt "go.etcd.io/bbolt"
)

// followBatch is how many events Follow hands to fn at most at once.
const followBatch = 1000

// Load calls fn for every stored record, kind by kind, and returns the last
// durable sequence number. Values are copies fn may keep. Load holds one
// read transaction throughout, so it sees one consistent state; meant for
// start-up, before commits begin.
func (s *Store) Load(ctx context.Context, fn func(dispatch.Record) error) (uint64, error) {
	if s.isClosed.Load() {
		return 0, fmt.Errorf("load: %w", ErrClosed)
	}
	var last uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyLastSeq); v != nil {
			last = keySeq(v)
		}
		n := 0
		return tx.Bucket(bucketRecords).ForEachBucket(func(kind []byte) error {
			return tx.Bucket(bucketRecords).Bucket(kind).ForEach(func(k, v []byte) error {
				if n++; n%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				return fn(dispatch.Record{
					Kind:  dispatch.RecordKind(kind),
					ID:    string(k),
					Value: bytes.Clone(v),
				})
			})
		})
	})
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	return last, nil
}

// EventsAfter returns up to limit durable events with Seq > after, in order
// (limit <= 0 or above 10,000 means 10,000). after at or beyond the last
// durable seq gives none. It wraps dispatch.ErrLogTruncated when the events
// right after `after` were trimmed. Recent events come from memory.
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]dispatch.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	if s.isClosed.Load() {
		return nil, fmt.Errorf("events after %d: %w", after, ErrClosed)
	}
	if limit <= 0 || limit > maxRead {
		limit = maxRead
	}
	s.dmu.RLock()
	durable, first := s.durable, s.first
	if after >= durable {
		s.dmu.RUnlock()
		return nil, nil
	}
	if after+1 < first {
		s.dmu.RUnlock()
		return nil, truncated(after, first)
	}
	n := min(uint64(limit), durable-after)
	if s.tail.covers(after + 1) {
		out := s.tail.copyFrom(after+1, n)
		s.dmu.RUnlock()
		return out, nil
	}
	s.dmu.RUnlock()
	return s.readLog(after, n)
}

func truncated(after, first uint64) error {
	return fmt.Errorf("events after %d: log starts at %d: %w", after, first, dispatch.ErrLogTruncated)
}

// readLog reads n events after `after` from disk; all of them are durable,
// as the caller checked. A trim racing with the read shows as a missing
// first key.
func (s *Store) readLog(after, n uint64) ([]dispatch.Event, error) {
	out := make([]dispatch.Event, 0, n)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		k, v := c.Seek(seqKey(after + 1))
		if k == nil || keySeq(k) != after+1 {
			first := after + 2
			if k != nil {
				first = keySeq(k)
			}
			return truncated(after, first)
		}
		for ; k != nil && uint64(len(out)) < n; k, v = c.Next() {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return out, nil
}

// Follow calls fn with every durable event after `after`, in order and each
// once, first from the log and then live, until ctx ends (ctx.Err()), the
// store closes (ErrClosed) or the follower falls behind retention
// (dispatch.ErrLogTruncated). fn runs on the caller's goroutine, never
// concurrently with itself; a slow fn delays only this follower.
func (s *Store) Follow(ctx context.Context, after uint64, fn func([]dispatch.Event)) error {
	for {
		// Take the channel before reading, so a flush between the read and
		// the wait still wakes us.
		s.dmu.RLock()
		changed := s.notify
		s.dmu.RUnlock()
		evs, err := s.EventsAfter(ctx, after, followBatch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("follow: %w", err)
		}
		if len(evs) > 0 {
			fn(evs)
			after = evs[len(evs)-1].Seq
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return fmt.Errorf("follow: %w", ErrClosed)
		}
	}
}

// trimNow asks the writer for a full trim pass and waits for it.
func (s *Store) trimNow(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case s.trimReq <- reply:
	case <-s.stop:
		return fmt.Errorf("trim: %w", ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
