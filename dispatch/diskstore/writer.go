package diskstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	// trimInterval is how often the writer looks for expired events.
	trimInterval = 30 * time.Second
	// trimChunk bounds the deletions of one trim transaction, so a large
	// backlog of expired events never stalls commits for long.
	trimChunk = 5000
)

// run is the single writer: it owns every write transaction after Open.
// It exits when Close is called, after writing what was queued.
func (s *Store) run() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.opts.Retention > 0 || s.opts.MaxEvents > 0 {
		t := time.NewTicker(trimInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var reply chan error
		stopping := false
		select {
		case <-s.kick:
		case <-tick:
			s.trimDue = true
		case reply = <-s.trimReq:
		case <-s.stop:
			stopping = true
		}
		s.flushQueued()
		if reply != nil {
			reply <- s.trimAll()
			continue
		}
		if stopping {
			return
		}
		if s.trimDue {
			more, err := s.trimOnce()
			s.trimDue = more && err == nil
			if s.trimDue {
				s.wake() // go on between group commits
			}
		}
	}
}

func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flushQueued writes every queued batch in one transaction, then publishes
// the events and wakes whoever waits on them.
func (s *Store) flushQueued() {
	s.mu.Lock()
	q, g, broken := s.queue, s.group, s.broken
	if len(q) == 0 {
		s.mu.Unlock()
		return
	}
	s.queue, s.group = nil, newFlushGroup()
	s.mu.Unlock()

	if broken != nil {
		g.err = broken
		close(g.done)
		return
	}
	if err := s.write(q); err != nil {
		err = fmt.Errorf("write batch: %w", err)
		s.log.Error("event store broken: every later commit fails", "err", err)
		s.mu.Lock()
		s.broken = err
		s.mu.Unlock()
		g.err = err
		close(g.done)
		return
	}
	s.publish(q)
	close(g.done)
}

// write applies the batches in order in one transaction. bbolt commits
// with fsync; nothing is acknowledged before it returns.
func (s *Store) write(q []*pending) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if s.failWrites != nil {
			if err := s.failWrites(); err != nil {
				return err
			}
		}
		events := tx.Bucket(bucketEvents)
		events.FillPercent = 1 // keys only ever grow: pack pages full
		records := tx.Bucket(bucketRecords)
		claims := tx.Bucket(bucketClaims)
		var last uint64
		for _, p := range q {
			for i, e := range p.events {
				if err := events.Put(seqKey(e.Seq), p.values[i]); err != nil {
					return err
				}
				last = e.Seq
			}
			for _, r := range p.records {
				if err := writeRecord(records, r); err != nil {
					return err
				}
			}
			for _, w := range p.releases {
				if err := claims.Delete([]byte(w)); err != nil {
					return err
				}
			}
			for _, c := range p.claims {
				if err := claims.Put([]byte(c.WorkerID), []byte(c.AssignmentID)); err != nil {
					return err
				}
			}
		}
		if last == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyLastSeq, seqKey(last))
	})
}

func writeRecord(records *bolt.Bucket, r recordOp) error {
	if r.value == nil {
		b := records.Bucket(r.kind)
		if b == nil {
			return nil
		}
		return b.Delete(r.id)
	}
	b, err := records.CreateBucketIfNotExists(r.kind)
	if err != nil {
		return fmt.Errorf("record kind %q: %w", r.kind, err)
	}
	return b.Put(r.id, r.value)
}

// publish makes the written events visible to readers and wakes followers.
func (s *Store) publish(q []*pending) {
	n := 0
	for _, p := range q {
		n += len(p.events)
	}
	if n == 0 {
		return
	}
	s.dmu.Lock()
	for _, p := range q {
		for _, e := range p.events {
			s.tail.push(e)
			s.durable = e.Seq
		}
	}
	close(s.notify)
	s.notify = make(chan struct{})
	retained := s.durable - s.first + 1
	s.dmu.Unlock()

	s.sinceTrim += n
	if m := s.opts.MaxEvents; m > 0 && retained > uint64(m) && s.sinceTrim > max(m/10, 1) {
		s.trimDue = true
	}
}
