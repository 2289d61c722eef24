package diskstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// trimAll trims until nothing more is due; it serves explicit requests.
func (s *Store) trimAll() error {
	for {
		more, err := s.trimOnce()
		if err != nil || !more {
			s.trimDue = false
			return err
		}
	}
}

// trimOnce deletes up to trimChunk of the oldest events that are older than
// Retention or beyond MaxEvents, in one transaction. It reports whether more
// are due. A trim failure is logged and retried later; unlike a commit
// failure it loses nothing that was acknowledged.
func (s *Store) trimOnce() (more bool, err error) {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		return false, broken
	}
	s.dmu.RLock()
	first, durable := s.first, s.durable
	s.dmu.RUnlock()
	if first > durable {
		return false, nil
	}
	limit := min(durable, first-1+trimChunk) // last seq this pass may delete
	upto := first - 1                        // last seq it will delete
	if m := uint64(s.opts.MaxEvents); m > 0 && durable-first+1 > m {
		upto = min(durable-m, limit)
	}
	var cutoff int64
	if s.opts.Retention > 0 {
		cutoff = s.now().Add(-s.opts.Retention).UnixNano()
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		if cutoff != 0 {
			for seq := upto + 1; seq <= limit; seq++ {
				v := events.Get(seqKey(seq))
				if v == nil || len(v) < timePrefix || valueTime(v).UnixNano() >= cutoff {
					break
				}
				upto = seq
			}
		}
		for seq := first; seq <= upto; seq++ {
			if err := events.Delete(seqKey(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("trim events: %w", err)
		s.log.Error("event store trim failed", "err", err)
		return false, err
	}
	s.sinceTrim = 0
	if upto < first {
		return false, nil
	}
	s.dmu.Lock()
	s.first = upto + 1
	s.tail.dropThrough(upto)
	s.dmu.Unlock()
	s.log.Debug("event store trimmed", "from_seq", first, "to_seq", upto)
	return upto == limit && limit < durable, nil
}
