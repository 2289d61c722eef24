package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/redis/go-redis/v9"
)

const (
	// maxRead bounds one EventsAfter answer, whatever limit was asked.
	maxRead = 10000
	// loadPage is the HSCAN page size of Load.
	loadPage = 1000
)

func entryID(seq uint64) string { return strconv.FormatUint(seq, 10) + "-0" }

// entrySeq reads the seq back from an entry ID "<seq>-0".
func entrySeq(id string) (uint64, error) {
	seq, rest, ok := strings.Cut(id, "-")
	if !ok || rest != "0" {
		return 0, fmt.Errorf("entry id %q is not <seq>-0", id)
	}
	return strconv.ParseUint(seq, 10, 64)
}

// decodeEntry builds an Event from a stream entry written by commitScript.
func decodeEntry(m redis.XMessage) (dispatch.Event, error) {
	seq, err := entrySeq(m.ID)
	if err != nil {
		return dispatch.Event{}, fmt.Errorf("decode event: %w", err)
	}
	field := func(name string) string {
		v, _ := m.Values[name].(string)
		return v
	}
	nanos, err := strconv.ParseInt(field("t"), 10, 64)
	if err != nil {
		return dispatch.Event{}, fmt.Errorf("decode event %d: time: %w", seq, err)
	}
	e := dispatch.Event{
		Seq:          seq,
		Time:         time.Unix(0, nanos).UTC(),
		Type:         field("y"),
		Region:       field("r"),
		WorkerID:     field("w"),
		IncidentID:   field("i"),
		AssignmentID: field("a"),
	}
	if d := field("d"); d != "" {
		e.Data = []byte(d)
	}
	return e, nil
}

func decodeEntries(msgs []redis.XMessage) ([]dispatch.Event, error) {
	out := make([]dispatch.Event, len(msgs))
	for i, m := range msgs {
		e, err := decodeEntry(m)
		if err != nil {
			return nil, err
		}
		if i > 0 && e.Seq != out[i-1].Seq+1 {
			// Trimming only removes a head, so a hole inside is damage.
			return nil, fmt.Errorf("decode events: seq %d follows %d", e.Seq, out[i-1].Seq)
		}
		out[i] = e
	}
	return out, nil
}

// LastSeq returns the last sequence number in the log, 0 if there is
// none. A follower whose position the log no longer reaches (Redis lost
// data, or trimmed past it) starts again from here.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) { return s.lastSeq(ctx) }

// lastSeq reads the last sequence number handed out.
func (s *Store) lastSeq(ctx context.Context) (uint64, error) {
	v, err := s.rdb.Get(ctx, s.keys.seq).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read seq: %w", s.classify(ctx, err))
	}
	return v, nil
}

// streamEnds returns the seqs of the first and last entries in the
// stream, 0 and 0 if it is empty.
func (s *Store) streamEnds(ctx context.Context) (head, tail uint64, err error) {
	pipe := s.rdb.Pipeline()
	first := pipe.XRangeN(ctx, s.keys.events, "-", "+", 1)
	last := pipe.XRevRangeN(ctx, s.keys.events, "+", "-", 1)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, fmt.Errorf("read stream ends: %w", s.classify(ctx, err))
	}
	for _, c := range []struct {
		dst  *uint64
		msgs []redis.XMessage
	}{{&head, first.Val()}, {&tail, last.Val()}} {
		if len(c.msgs) > 0 {
			if *c.dst, err = entrySeq(c.msgs[0].ID); err != nil {
				return 0, 0, fmt.Errorf("read stream ends: %w", err)
			}
		}
	}
	return head, tail, nil
}

// Load calls fn for every stored record, kind by kind in name order, and
// returns the last sequence number. Redis has no snapshot to read from,
// so the sequence number is read first: every change up to it is in what
// fn sees, later changes may be too, and a caller that then follows from
// that number applies them again (records are latest state, so that is
// harmless). fn sees each record once.
func (s *Store) Load(ctx context.Context, fn func(dispatch.Record) error) (uint64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("load: %w", ErrClosed)
	}
	last, err := s.lastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	kinds, err := s.rdb.SMembers(ctx, s.keys.kinds).Result()
	if err != nil {
		return 0, fmt.Errorf("load: %w", s.classify(ctx, err))
	}
	slices.Sort(kinds)
	for _, kind := range kinds {
		if err := s.loadKind(ctx, kind, fn); err != nil {
			return 0, fmt.Errorf("load %s: %w", kind, err)
		}
	}
	return last, nil
}

// loadKind pages through one kind's hash. HSCAN may return a field twice
// while Redis resizes the hash, hence the set of ids seen.
func (s *Store) loadKind(ctx context.Context, kind string, fn func(dispatch.Record) error) error {
	key := s.keys.record(kind)
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		kvs, next, err := s.rdb.HScan(ctx, key, cursor, "", loadPage).Result()
		if err != nil {
			return s.classify(ctx, err)
		}
		for i := 0; i+1 < len(kvs); i += 2 {
			if _, dup := seen[kvs[i]]; dup {
				continue
			}
			seen[kvs[i]] = struct{}{}
			r := dispatch.Record{Kind: dispatch.RecordKind(kind), ID: kvs[i], Value: []byte(kvs[i+1])}
			if err := fn(r); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		cursor = next
	}
}

// EventsAfter returns up to limit events with Seq > after, in order (limit
// <= 0 or above 10,000 means 10,000). after at or beyond the last seq gives
// none. It wraps dispatch.ErrLogTruncated when the events right after
// `after` were trimmed.
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]dispatch.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("events after %d: %w", after, ErrClosed)
	}
	if limit <= 0 || limit > maxRead {
		limit = maxRead
	}
	evs, _, err := s.readAfter(ctx, after, limit)
	return evs, err
}

// readAfter reads up to limit events after `after` and the last seq. The
// seq is read before the range, in one round trip: events up to it were in
// the stream then, so if the range comes back without them they were
// trimmed, not yet to come.
func (s *Store) readAfter(ctx context.Context, after uint64, limit int) ([]dispatch.Event, uint64, error) {
	pipe := s.rdb.Pipeline()
	seqCmd := pipe.Get(ctx, s.keys.seq)
	rangeCmd := pipe.XRangeN(ctx, s.keys.events, entryID(after+1), "+", int64(limit))
	_, _ = pipe.Exec(ctx) // errors are read per command: GET of no seq is redis.Nil
	last, err := seqCmd.Uint64()
	if errors.Is(err, redis.Nil) {
		last, err = 0, nil
	}
	if err == nil {
		err = rangeCmd.Err()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("events after %d: %w", after, s.classify(ctx, err))
	}
	msgs := rangeCmd.Val()
	if len(msgs) == 0 {
		if after >= last {
			return nil, last, nil
		}
		return nil, last, truncated(after, last+1)
	}
	evs, err := decodeEntries(msgs)
	if err != nil {
		return nil, last, fmt.Errorf("events after %d: %w", after, err)
	}
	if evs[0].Seq != after+1 {
		return nil, last, truncated(after, evs[0].Seq)
	}
	return evs, max(last, evs[len(evs)-1].Seq), nil
}

var _ dispatch.SharedStore = (*Store)(nil)

// Records returns the named records that exist, read in one MULTI so that
// they are from one instant.
func (s *Store) Records(ctx context.Context, refs []dispatch.RecordRef) ([]dispatch.Record, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("records: %w", ErrClosed)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	byKind := map[dispatch.RecordKind][]string{}
	var kinds []dispatch.RecordKind
	for _, r := range refs {
		if _, ok := byKind[r.Kind]; !ok {
			kinds = append(kinds, r.Kind)
		}
		byKind[r.Kind] = append(byKind[r.Kind], r.ID)
	}
	pipe := s.rdb.TxPipeline()
	cmds := make([]*redis.SliceCmd, len(kinds))
	for i, k := range kinds {
		cmds[i] = pipe.HMGet(ctx, s.keys.record(string(k)), byKind[k]...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("records: %w", s.classify(ctx, err))
	}
	out := make([]dispatch.Record, 0, len(refs))
	for i, k := range kinds {
		for j, v := range cmds[i].Val() {
			if str, ok := v.(string); ok {
				out = append(out, dispatch.Record{Kind: k, ID: byKind[k][j], Value: []byte(str)})
			}
		}
	}
	return out, nil
}
