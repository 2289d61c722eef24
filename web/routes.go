package web

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// route is one entry of the API. The table is the single source for the
// mux, the access rules and the test that holds docs/openapi.json to it.
type route struct {
	Method  string
	Pattern string // net/http pattern syntax, same as OpenAPI paths
	Access  access
	Handler http.HandlerFunc
}

// routeTable lists every route. Handlers check ownership and region scope
// themselves, once they know the resource.
func (s *Server) routeTable() []route {
	rs := []route{
		{"GET", "/healthz", accessPublic, s.handleHealth},
		{"GET", "/readyz", accessPublic, s.handleReady},
		{"GET", "/metrics", accessAdmin, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP},
		{"GET", "/api/v1/me", accessAny, s.handleMe},
		{"POST", "/api/v1/ws-ticket", accessAny, s.handleTicket},
		// The stream authenticates itself: it also accepts a ticket.
		{"GET", "/api/v1/stream", accessPublic, s.handleStream},
	}
	return append(rs, s.apiRoutes()...)
}

// Routes lists "METHOD pattern" of every route, sorted; for docs and tests.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, r.Method+" "+r.Pattern)
	}
	sort.Strings(out)
	return out
}

func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	paths := http.NewServeMux() // the same paths without methods: tells 405 from 404
	allow := map[string][]string{}
	for _, r := range s.routes {
		mux.Handle(r.Method+" "+r.Pattern, s.instrument(r.Pattern, s.authenticate(r.Access, r.Handler)))
		if allow[r.Pattern] == nil {
			paths.Handle(r.Pattern, http.NotFoundHandler())
		}
		allow[r.Pattern] = append(allow[r.Pattern], r.Method)
	}
	notFound := s.instrument("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.log, errNotFound)
	}))
	// ServeMux answers a wrong method or an unknown path in plain text;
	// this keeps every API answer in the one JSON error shape.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		if _, pattern := paths.Handler(r); pattern != "" {
			methods := strings.Join(allow[pattern], ", ")
			s.instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", methods)
				writeError(w, s.log, &APIError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
					Message: "allowed: " + methods})
			})).ServeHTTP(w, r)
			return
		}
		if s.opts.UI != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			s.opts.UI.ServeHTTP(w, r)
			return
		}
		notFound.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for logs and metrics. It passes
// Hijack through (via Unwrap and http.ResponseController) for websockets.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to the websocket upgrader, which asks for
// http.Hijacker directly.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status = http.StatusSwitchingProtocols
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// instrument adds a per-request logger, panic recovery, security headers
// and metrics. It logs the route pattern, never the URL: query strings may
// carry tickets and paths may carry ids.
func (s *Server) instrument(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		log := s.log.With("req", newRequestID(), "method", r.Method, "route", pattern)
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Content-Type-Options", "nosniff")
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, nil, fmt.Errorf("panic"))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.metrics.requests.WithLabelValues(pattern, fmt.Sprintf("%dxx", status/100)).Inc()
			lvl := slog.LevelDebug
			if status >= 500 {
				lvl = slog.LevelWarn
			}
			log.Log(r.Context(), lvl, "request", "status", status, "ms", time.Since(start).Milliseconds())
		}()
		h.ServeHTTP(sw, r.WithContext(withLogger(r.Context(), log)))
	})
}
