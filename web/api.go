package web

import (
	"context"
	"net/http"
)

// Engine is what the API needs from the dispatch engine. It is declared
// here, where it is used, and grows with the API.
type Engine interface{}

// apiRoutes lists the JSON API routes under /api/v1.
func (s *Server) apiRoutes() []route {
	return nil
}

var errNoEngine = &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
	Message: "the dispatch engine is not running"}

// applyWorkerMessage applies a worker's stream message through the engine.
func (s *Server) applyWorkerMessage(ctx context.Context, p *Principal, m clientMsg) (any, error) {
	return nil, errNoEngine
}

// engineError maps an engine error to the client error shape.
func (s *Server) engineError(err error) *APIError {
	return &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}
