// Package web is the dispatch server's HTTP face: the JSON API under
// /api/v1, the live event stream over websockets, health and metrics. It
// authenticates every call (PRODUCT §9), validates every input before the
// engine sees it (§8) and never lets one slow client hold up the rest (§5).
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// Options configures a Server. Auth and Events are required.
type Options struct {
	// Auth resolves bearer tokens (normally *Credentials).
	Auth Authenticator
	// Events is the store's change feed and log (normally the dispatch.Store).
	Events EventLog
	// StartSeq is where the stream hub starts following: the sequence of
	// the engine's state at start-up.
	StartSeq uint64
	// Engine serves the API; nil makes every API route answer 503.
	Engine Engine
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// AllowedOrigins lists extra origins ("https://desk.example.org") whose
	// pages may open the stream; the server's own host is always allowed.
	AllowedOrigins []string
	// Limits bounds each stream connection.
	Limits StreamLimits
	// Ready is asked by /readyz besides the hub; nil means ready.
	Ready func(context.Context) error
	// UI, if set, serves everything outside /api/, /healthz, /readyz and
	// /metrics (the browser UI).
	UI http.Handler
	// Now replaces the clock in tests; nil is time.Now.
	Now func() time.Time
}

// ServeOptions says where and how to listen.
type ServeOptions struct {
	// Addr is the listen address, e.g. 127.0.0.1:8080.
	Addr string
	// CertFile and KeyFile, when both set, make the server speak HTTPS.
	CertFile, KeyFile string
	// Listener, if set, is used instead of listening on Addr.
	Listener net.Listener
	// ShutdownTimeout bounds the drain on exit; default 10 s.
	ShutdownTimeout time.Duration
	// Ready, if set, is called with the bound address once listening.
	Ready func(addr net.Addr)
}

// Server is the HTTP and websocket server.
type Server struct {
	opts     Options
	log      *slog.Logger
	auth     Authenticator
	engine   Engine
	hub      *Hub
	metrics  *Metrics
	tickets  *tickets
	acks     *ackCache
	upgrader websocket.Upgrader
	limits   StreamLimits
	// gapPerDesk is what each desk adds to the flush gap (tests change it).
	gapPerDesk time.Duration
	now        func() time.Time
	handler    http.Handler
	routes     []route
	origins    originSet
	policyCache
	// writePool shares websocket write buffers between connections; one
	// pool per buffer size, as gorilla asks.
	writePool sync.Pool

	baseCtx    context.Context
	baseCancel context.CancelFunc

	mu      sync.Mutex
	clients map[*client]struct{}
	closing bool
	httpSrv *http.Server
	wg      sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds a server. Start its background work with Run (or use
// ListenAndServe, which does both).
func New(o Options) (*Server, error) {
	if o.Auth == nil {
		return nil, errors.New("web: Options.Auth is required")
	}
	if o.Events == nil {
		return nil, errors.New("web: Options.Events is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	origins, err := parseOrigins(o.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: o, log: o.Logger, auth: o.Auth, engine: o.Engine,
		metrics: newMetrics(), tickets: newTickets(o.Now), acks: newAckCache(ackCacheSize),
		limits: o.Limits.withDefaults(), gapPerDesk: gapPerDesk, now: o.Now,
		clients: map[*client]struct{}{},
	}
	s.baseCtx, s.baseCancel = context.WithCancel(context.Background())
	s.hub = newHub(HubOptions{Log: o.Events, After: o.StartSeq, RingSize: s.limits.RingSize,
		Logger: o.Logger, Metrics: s.metrics})
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Small buffers and a shared write pool: tens of thousands of idle
		// phones must not each pin kilobytes they rarely use.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &s.writePool,
		CheckOrigin:     func(r *http.Request) bool { return origins.allowed(r) },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeError(w, nil, &APIError{Status: status, Code: CodeBadHandshake, Message: reason.Error()})
		},
	}
	s.origins = origins
	s.routes = s.routeTable()
	s.handler = s.buildHandler()
	return s, nil
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics exposes the server's metrics (the engine's match-latency hook
// feeds ObserveMatch).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Run follows the store's change feed for the streams until ctx ends. Use
// it with Handler (e.g. under httptest); ListenAndServe runs it itself.
func (s *Server) Run(ctx context.Context) error {
	return s.hub.Run(ctx)
}

// ListenAndServe serves HTTP (or HTTPS, with a certificate) and runs the
// hub until ctx ends, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context, so ServeOptions) error {
	if so.ShutdownTimeout <= 0 {
		so.ShutdownTimeout = 10 * time.Second
	}
	if (so.CertFile == "") != (so.KeyFile == "") {
		return errors.New("web: TLS needs both a certificate and a key file")
	}
	ln := so.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", so.Addr); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // large enough for a roster upload
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	s.httpSrv = hs
	s.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.hub.Run(gctx) })
	g.Go(func() error {
		var err error
		if so.Ready != nil {
			so.Ready(ln.Addr())
		}
		s.log.Info("listening", "addr", ln.Addr().String(), "tls", so.CertFile != "")
		if so.CertFile != "" {
			err = hs.ServeTLS(ln, so.CertFile, so.KeyFile)
		} else {
			err = hs.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		<-gctx.Done()
		// A fresh context: the one we were given is already cancelled.
		sctx, cancel := context.WithTimeout(context.Background(), so.ShutdownTimeout)
		defer cancel()
		return s.Shutdown(sctx)
	})
	return g.Wait()
}

// Shutdown stops accepting, closes every stream with 1001 (going away),
// waits for in-flight requests — whose changes the engine acknowledged only
// once durable — and for the stream connections to finish, until ctx ends.
// It is safe to call more than once; later calls return the first result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		hs := s.httpSrv
		clients := make([]*client, 0, len(s.clients))
		for c := range s.clients {
			clients = append(clients, c)
		}
		s.mu.Unlock()
		for _, c := range clients {
			c.drop(dropShutdown)
		}
		var err error
		if hs != nil {
			if e := hs.Shutdown(ctx); e != nil && !errors.Is(e, http.ErrServerClosed) {
				err = fmt.Errorf("shutdown: %w", e)
			}
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = errors.Join(err, fmt.Errorf("shutdown: streams still open: %w", ctx.Err()))
		}
		s.baseCancel()
		s.shutdownErr = err
	})
	return s.shutdownErr
}

// track registers a new stream client; false if the server is closing.
func (s *Server) track(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) forget(c *client) {
	s.mu.Lock()
	_, ok := s.clients[c]
	delete(s.clients, c)
	s.mu.Unlock()
	if ok {
		s.wg.Done()
	}
}

func newRequestID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
