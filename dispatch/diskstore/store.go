package diskstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	bolt "go.etcd.io/bbolt"
)

// FileName is the name of the database file inside the directory given to
// Open.
const FileName = "dispatch.db"

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

var _ dispatch.Store = (*Store)(nil)

// Bucket names.
var (
	bucketEvents  = []byte("events")
	bucketRecords = []byte("records")
	bucketClaims  = []byte("claims")
	bucketMeta    = []byte("meta")
	keyLastSeq    = []byte("last_seq")
	keyFormat     = []byte("format")
)

const (
	// tailCap is how many recent durable events are kept in memory so that
	// clients resuming after a short disconnect never touch the disk.
	tailCap = 8192
	// maxRead bounds one EventsAfter answer, whatever limit was asked.
	maxRead = 10000
	// openTimeout bounds the wait for another process's file lock.
	openTimeout = 2 * time.Second
	// initialMmap is reserved address space, not disk: the file grows as
	// needed, and readers don't block a growing writer until it passes.
	initialMmap = 256 << 20
)

// Options configure a Store. Zero values mean: keep every event, discard
// logs, use the real clock.
type Options struct {
	// Retention is how long events are kept; older ones may be trimmed.
	// 0 keeps every event.
	Retention time.Duration
	// MaxEvents bounds how many events are kept; the oldest beyond it may
	// be trimmed. 0 means no bound.
	MaxEvents int
	// Logger receives start-up, trim and failure messages.
	Logger *slog.Logger
	// Now is the clock for event times and retention; nil means time.Now.
	Now func() time.Time
}

// Store is the embedded dispatch.Store on one bbolt file. It is safe for
// concurrent use.
type Store struct {
	db   *bolt.DB
	log  *slog.Logger
	now  func() time.Time
	opts Options

	// mu guards the commit path: claims, sequence numbers and the queue.
	mu      sync.Mutex
	claims  map[string]string // worker id -> assignment id, as committed
	lastSeq uint64            // last sequence number handed out
	queue   []*pending        // batches not yet written, in seq order
	group   *flushGroup       // what the queued batches wait on
	broken  error             // the first write error; sticky
	closed  bool

	// dmu guards what readers see: only durable events.
	dmu     sync.RWMutex
	durable uint64        // last durable sequence number
	first   uint64        // first retained seq, durable+1 if none
	tail    *tail         // recent durable events, ending at durable
	notify  chan struct{} // closed and replaced when durable moves

	kick     chan struct{}   // wakes the writer; capacity 1
	trimReq  chan chan error // asks the writer for a full trim now
	stop     chan struct{}   // closed by Close
	isClosed atomic.Bool
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	trimDue    bool         // writer-owned: a trim pass is pending
	sinceTrim  int          // writer-owned: events written since the last trim
	failWrites func() error // tests: make the next write transactions fail
}

// pending is one accepted batch waiting for the writer.
type pending struct {
	events   []dispatch.Event // with Seq and Time, for the in-memory tail
	values   [][]byte         // encoded events, same order
	records  []recordOp
	claims   []dispatch.Claim
	releases []string
}

// flushGroup is shared by every batch written in one transaction.
type flushGroup struct {
	done chan struct{}
	err  error // set before done is closed
}

func newFlushGroup() *flushGroup { return &flushGroup{done: make(chan struct{})} }

func (g *flushGroup) wait(ctx context.Context) error {
	select {
	case <-g.done:
		return g.err
	default:
	}
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return fmt.Errorf("commit wait: %w", ctx.Err())
	}
}

func waitNothing(context.Context) error { return nil }

// Open opens or creates the store in dir, restores claims and the sequence
// number from disk, and starts the writer. Close releases it.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Retention < 0 || opts.MaxEvents < 0 {
		return nil, errors.New("open store: negative Retention or MaxEvents")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{
		Timeout:         openTimeout,
		NoSync:          false, // durability is the point; see the package doc
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: initialMmap,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		db:      db,
		log:     opts.Logger,
		now:     opts.Now,
		opts:    opts,
		claims:  make(map[string]string),
		group:   newFlushGroup(),
		notify:  make(chan struct{}),
		tail:    newTail(tailCap),
		kick:    make(chan struct{}, 1),
		trimReq: make(chan chan error),
		stop:    make(chan struct{}),
	}
	if err := s.restore(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.log.Info("event store opened", "dir", dir, "first_seq", s.first,
		"last_seq", s.durable, "claims", len(s.claims))
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// restore creates the buckets and reads the sequence, the claims and the
// recent tail back from disk.
func (s *Store) restore() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEvents, bucketRecords, bucketClaims, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyFormat); {
		case v == nil:
			if err := meta.Put(keyFormat, []byte{formatVersion}); err != nil {
				return err
			}
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("restore: unknown file format %x", v)
		}
		if v := meta.Get(keyLastSeq); v != nil {
			if len(v) != 8 {
				return errors.New("restore: malformed last_seq")
			}
			s.lastSeq = keySeq(v)
		}
		s.durable = s.lastSeq
		s.first = s.lastSeq + 1
		c := tx.Bucket(bucketEvents).Cursor()
		if k, _ := c.First(); k != nil {
			s.first = keySeq(k)
			if k, _ = c.Last(); keySeq(k) != s.lastSeq {
				return fmt.Errorf("restore: log ends at %d but last_seq is %d", keySeq(k), s.lastSeq)
			}
		}
		err := tx.Bucket(bucketClaims).ForEach(func(k, v []byte) error {
			s.claims[string(k)] = string(v)
			return nil
		})
		if err != nil {
			return err
		}
		from := s.first
		if s.durable >= tailCap && s.durable-tailCap+1 > from {
			from = s.durable - tailCap + 1
		}
		for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			s.tail.push(e)
		}
		return nil
	})
}

// Commit validates b, fixes its sequence numbers and times, and queues it
// for the writer. It changes nothing when it returns an error; a claim
// conflict wraps dispatch.ErrClaimed. Committed.Wait reports durability.
//
// Event times are stored in UTC with nanosecond precision. Data must be
// valid JSON and is kept byte for byte. The returned events share Data with
// the store's tail: treat it as read-only.
func (s *Store) Commit(ctx context.Context, b dispatch.Batch) (dispatch.Committed, error) {
	if err := ctx.Err(); err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	p, err := prepare(b)
	if err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return dispatch.Committed{}, fmt.Errorf("commit: %w", ErrClosed)
	case s.broken != nil:
		return dispatch.Committed{}, fmt.Errorf("commit: %w", s.broken)
	}
	for i, e := range p.events {
		if e.Seq != 0 && e.Seq != s.lastSeq+uint64(i)+1 {
			return dispatch.Committed{}, fmt.Errorf("commit: event %d: seq %d given, next is %d",
				i, e.Seq, s.lastSeq+uint64(i)+1)
		}
	}
	if err := s.applyClaimsLocked(p); err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	if len(p.events) == 0 && len(p.records) == 0 && len(p.claims) == 0 && len(p.releases) == 0 {
		return dispatch.Committed{Wait: waitNothing}, nil
	}
	var now time.Time
	for i := range p.events {
		e := &p.events[i]
		s.lastSeq++
		e.Seq = s.lastSeq
		if e.Time.IsZero() {
			if now.IsZero() {
				now = s.now().UTC()
			}
			e.Time = now
		}
		putTime(p.values[i], e.Time)
	}
	s.queue = append(s.queue, p)
	g := s.group
	select {
	case s.kick <- struct{}{}:
	default: // the writer is already due to look at the queue
	}
	return dispatch.Committed{Events: append([]dispatch.Event(nil), p.events...), Wait: g.wait}, nil
}

// prepare validates and encodes a batch outside the lock, so concurrent
// committers do that work in parallel.
func prepare(b dispatch.Batch) (*pending, error) {
	p := &pending{
		events:   append([]dispatch.Event(nil), b.Events...),
		values:   make([][]byte, len(b.Events)),
		records:  make([]recordOp, len(b.Records)),
		claims:   append([]dispatch.Claim(nil), b.Claims...),
		releases: append([]string(nil), b.Releases...),
	}
	for i := range p.events {
		e := &p.events[i]
		if !e.Time.IsZero() {
			if !validTime(e.Time) {
				return nil, fmt.Errorf("event %d: time out of range", i)
			}
			e.Time = e.Time.UTC()
		}
		v, err := encodeBody(e)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		p.values[i] = v
	}
	for i, r := range b.Records {
		op, err := makeRecordOp(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		p.records[i] = op
	}
	for i, c := range p.claims {
		if c.WorkerID == "" || c.AssignmentID == "" {
			return nil, fmt.Errorf("claim %d: empty worker or assignment id", i)
		}
		if len(c.WorkerID) > bolt.MaxKeySize {
			return nil, fmt.Errorf("claim %d: worker id too long", i)
		}
	}
	for i, w := range p.releases {
		if w == "" {
			return nil, fmt.Errorf("release %d: empty worker id", i)
		}
	}
	return p, nil
}

// applyClaimsLocked checks p's claims against the claim table with p's
// releases applied first, and updates the table only if all of them hold.
func (s *Store) applyClaimsLocked(p *pending) error {
	if len(p.claims) == 0 {
		for _, w := range p.releases {
			delete(s.claims, w)
		}
		return nil
	}
	released := make(map[string]bool, len(p.releases))
	for _, w := range p.releases {
		released[w] = true
	}
	staged := make(map[string]string, len(p.claims))
	for _, c := range p.claims {
		held, ok := staged[c.WorkerID]
		if !ok && !released[c.WorkerID] {
			held, ok = s.claims[c.WorkerID]
		}
		if ok && held != c.AssignmentID {
			return fmt.Errorf("claim worker %s for %s: held for %s: %w",
				c.WorkerID, c.AssignmentID, held, dispatch.ErrClaimed)
		}
		staged[c.WorkerID] = c.AssignmentID
	}
	for _, w := range p.releases {
		delete(s.claims, w)
	}
	for w, a := range staged {
		s.claims[w] = a
	}
	return nil
}

// Claims returns a copy of the claim table, worker id to assignment id, as
// committed (queued batches included). It is not part of dispatch.Store; it
// is there for start-up consistency checks and operators.
func (s *Store) Claims() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.claims)
}

// Close writes what is queued, stops the writer and closes the file. It is
// safe to call more than once; later calls return the first result. If a
// write had failed, Close reports that failure.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.isClosed.Store(true)
		close(s.stop)
		s.wg.Wait()
		err := s.db.Close()
		s.mu.Lock()
		broken := s.broken
		s.mu.Unlock()
		if broken != nil {
			err = errors.Join(broken, err)
		}
		if err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}
