package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/redis/go-redis/v9"
)

var _ dispatch.Store = (*Store)(nil)

// DefaultPrefix names the keys when Options.Prefix is empty.
const DefaultPrefix = "dispatch"

// Options configure a Store. Exactly one of Client and URL is set. Zero
// values mean: prefix "dispatch", keep every event, discard logs, use the
// real clock.
type Options struct {
	// Client is a client built by the caller, which keeps owning it:
	// Close does not close it.
	Client redis.UniversalClient
	// URL builds a client that the Store owns; see Open for its forms.
	URL string
	// Prefix names the keys, inside a hash tag: "{Prefix}:seq" and so on.
	Prefix string
	// MaxLen bounds the stream approximately (XADD MAXLEN ~): Redis trims
	// whole stream nodes, so a little more may be kept. 0 means no bound.
	MaxLen int64
	// Retention is how long events are kept; older ones are trimmed
	// every trimInterval. 0 keeps every event.
	Retention time.Duration
	// Logger receives start-up, outage and trim messages.
	Logger *slog.Logger
	// Now is the clock for event times and retention; nil means time.Now.
	Now func() time.Time
}

// keys are the Redis keys of one store; all share one hash tag.
type keys struct {
	seq, events, claims, kinds string
	recPrefix                  string // + kind
}

func newKeys(prefix string) keys {
	tag := "{" + prefix + "}:"
	return keys{
		seq:       tag + "seq",
		events:    tag + "events",
		claims:    tag + "claims",
		kinds:     tag + "kinds",
		recPrefix: tag + "rec:",
	}
}

func (k keys) record(kind string) string { return k.recPrefix + kind }

// Store is the dispatch.Store on Redis. It is safe for concurrent use, and
// any number of Stores, in any number of processes, may share one prefix.
type Store struct {
	rdb   redis.UniversalClient
	owned bool // Close closes rdb
	keys  keys
	log   *slog.Logger
	now   func() time.Time
	opts  Options

	closed    atomic.Bool
	stop      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open connects to Redis, checks that the sequence number and the stream
// agree, and starts the retention trimmer if Retention is set. It fails
// with an error wrapping ErrUnavailable when Redis does not answer.
//
// Options.URL takes these forms (rediss:// for TLS in each):
//
//	redis://[user:pass@]host:port[/db][?option=value...]   one server
//	redis://host:port?addr=host2:port2&addr=host3:port3     Cluster (seed nodes)
//	redis://host:port?cluster=true                          Cluster, one seed
//	redis://host:port?master_name=name&addr=host2:port2     Sentinel (sentinel nodes)
//
// The options are go-redis's own (dial_timeout, pool_size, ...).
func Open(ctx context.Context, opts Options) (*Store, error) {
	switch {
	case opts.Client == nil && opts.URL == "":
		return nil, errors.New("open redis store: neither Client nor URL given")
	case opts.Client != nil && opts.URL != "":
		return nil, errors.New("open redis store: both Client and URL given")
	case opts.MaxLen < 0 || opts.Retention < 0:
		return nil, errors.New("open redis store: negative MaxLen or Retention")
	case strings.ContainsAny(opts.Prefix, "{}"):
		return nil, fmt.Errorf("open redis store: prefix %q: braces would break the hash tag", opts.Prefix)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		rdb:  opts.Client,
		keys: newKeys(opts.Prefix),
		log:  opts.Logger,
		now:  opts.Now,
		opts: opts,
		stop: make(chan struct{}),
	}
	if s.rdb == nil {
		rdb, err := clientFromURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("open redis store: %w", err)
		}
		s.rdb, s.owned = rdb, true
	}
	last, first, err := s.check(ctx)
	if err != nil {
		if s.owned {
			s.rdb.Close()
		}
		return nil, fmt.Errorf("open redis store: %w", err)
	}
	s.log.Info("redis event store opened", "prefix", opts.Prefix,
		"first_seq", first, "last_seq", last)
	s.warnPersistence(ctx)
	if opts.Retention > 0 {
		s.wg.Add(1)
		go s.trimLoop()
	}
	return s, nil
}

// clientFromURL builds a universal client from one of the URL forms of
// Open. go-redis has a parser per client kind; this picks the kind.
func clientFromURL(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	q := u.Query()
	cluster := q.Get("cluster") == "true"
	q.Del("cluster")
	u.RawQuery = q.Encode()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("parse sentinel url: %w", err)
		}
		return redis.NewFailoverClient(o), nil
	case cluster || q.Has("addr"):
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("parse cluster url: %w", err)
		}
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("parse redis url: %w", err)
		}
		return redis.NewClient(o), nil
	}
}

// check reads the sequence number and the ends of the stream and refuses
// a stream that runs past the sequence: the next commit could not append.
func (s *Store) check(ctx context.Context) (last, first uint64, err error) {
	last, err = s.lastSeq(ctx)
	if err != nil {
		return 0, 0, err
	}
	head, tail, err := s.streamEnds(ctx)
	if err != nil {
		return 0, 0, err
	}
	if tail > last {
		return 0, 0, fmt.Errorf("check: stream ends at %d but the sequence is %d", tail, last)
	}
	if head == 0 {
		head = last + 1
	}
	return last, head, nil
}

// warnPersistence logs how the server persists, since that is what an
// acknowledged commit survives. Managed servers often refuse CONFIG; that
// is not an error.
func (s *Store) warnPersistence(ctx context.Context) {
	cfg, err := s.rdb.ConfigGet(ctx, "append*").Result()
	if err != nil {
		s.log.Debug("redis persistence settings unknown", "err", err)
		return
	}
	if cfg["appendonly"] != "yes" {
		s.log.Warn("redis runs without AOF: a restart of redis loses acknowledged commits",
			"appendonly", cfg["appendonly"])
		return
	}
	s.log.Info("redis persistence", "appendonly", cfg["appendonly"], "appendfsync", cfg["appendfsync"])
}

// Ready reports whether Redis answers on the shard that holds the state;
// for readiness probes. The error wraps ErrUnavailable.
func (s *Store) Ready(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("ready: %w", ErrClosed)
	}
	// A keyed command, unlike PING, goes to the shard that holds the
	// state on Cluster, and fails while a restarted server is loading.
	if err := s.rdb.Exists(ctx, s.keys.seq).Err(); err != nil {
		return fmt.Errorf("ready: %w", s.classify(ctx, err))
	}
	return nil
}

// Claims returns the claim table, worker id to assignment id. It is not
// part of dispatch.Store; it is there for consistency checks and operators.
func (s *Store) Claims(ctx context.Context) (map[string]string, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("claims: %w", ErrClosed)
	}
	m, err := s.rdb.HGetAll(ctx, s.keys.claims).Result()
	if err != nil {
		return nil, fmt.Errorf("claims: %w", s.classify(ctx, err))
	}
	return m, nil
}

// Close stops the trimmer and closes the client if the Store built it.
// Followers return ErrClosed. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.wg.Wait()
		if s.owned {
			if err := s.rdb.Close(); err != nil {
				s.closeErr = fmt.Errorf("close redis store: %w", err)
			}
		}
	})
	return s.closeErr
}
