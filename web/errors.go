package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// APIError is the one error shape every client sees (PRODUCT §8):
//
//	{"error": {"code": "stable_machine_name", "field": "needs[0].skill", "message": "..."}}
//
// Code is stable and meant for programs; Message is for people and may change.
type APIError struct {
	Status int    `json:"-"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	// Line is the 1-based line of a CSV import the error is about.
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	// Violations lists the hard constraints an override would break.
	Violations []string `json:"violations,omitempty"`
}

func (e *APIError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s: %s", e.Code, e.Line, e.Field, e.Message)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Stable error codes. Clients match on these, so they never change meaning.
const (
	CodeBadJSON          = "bad_json"
	CodeBadCSV           = "bad_csv"
	CodeInvalidField     = "invalid_field"
	CodeUnknownField     = "unknown_field"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeOriginRefused    = "origin_not_allowed"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeTooLarge         = "too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeBadMessage       = "bad_message"
	CodeClaimed          = "worker_claimed"
	CodeConstraint       = "constraint_violated"
	CodeRateLimited      = "rate_limited"
	CodeUpgradeRequired  = "upgrade_required"
	CodeBadHandshake     = "bad_handshake"
)

func errBadRequest(code, field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errField(field, format string, args ...any) *APIError {
	return errBadRequest(CodeInvalidField, field, format, args...)
}

var (
	errUnauthenticated = &APIError{Status: http.StatusUnauthorized, Code: CodeUnauthenticated,
		Message: "a valid bearer token or websocket ticket is required"}
	errForbidden = &APIError{Status: http.StatusForbidden, Code: CodeForbidden,
		Message: "this credential may not do that"}
	errNotFound = &APIError{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such resource"}
)

func errForbiddenField(field, msg string) *APIError {
	return &APIError{Status: http.StatusForbidden, Code: CodeForbidden, Field: field, Message: msg}
}

type errorBody struct {
	Error *APIError `json:"error"`
}

// writeError answers with the JSON error shape. Errors that are not an
// *APIError are the server's own fault: they are logged and the client gets
// a generic 500 without internals.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		if log != nil {
			log.Error("request failed", "err", err)
		}
		ae = &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
	status := ae.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dispatch"`)
	}
	writeJSON(w, status, errorBody{Error: ae})
}

// writeJSON writes v as the response body. Marshal first so an encoding
// failure can still become a clean 500 instead of a half-written body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
