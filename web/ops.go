package web

import (
	"context"
	"net/http"
	"time"
)

// fail answers r with err in the JSON error shape, logging server faults
// with the request's logger.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, logFrom(r.Context(), s.log), err)
}

// handleHealth is liveness: the process answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady is readiness: the change feed is followed, the engine (if
// it says) is ready, and the server is not shutting down.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	problem := ""
	switch {
	case closing:
		problem = "shutting down"
	case !s.hub.Live():
		problem = "event feed not followed"
	case s.opts.Ready != nil:
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			problem = "engine not ready"
		}
	}
	if problem != "" {
		s.fail(w, r, &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: problem})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "seq": s.hub.Head()})
}

type meResponse struct {
	TokenID  string   `json:"token_id"`
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	Regions  []string `json:"regions,omitempty"`
	WorkerID string   `json:"worker_id,omitempty"`
}

// handleMe tells a client who its credential says it is (the UI uses it
// to choose between the desk and the phone view).
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	writeJSON(w, http.StatusOK, meResponse{TokenID: p.TokenID, Name: p.Name, Role: p.Role,
		Regions: p.Regions, WorkerID: p.WorkerID})
}

type ticketResponse struct {
	Ticket  string    `json:"ticket"`
	Expires time.Time `json:"expires"`
}

// handleTicket trades the bearer token for a single-use websocket ticket.
func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request) {
	t, exp, err := s.tickets.issue(principalFrom(r.Context()))
	if err != nil {
		s.fail(w, r, &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, ticketResponse{Ticket: t, Expires: exp.UTC()})
}
