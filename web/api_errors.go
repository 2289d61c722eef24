package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// engineError maps an engine error to the client error shape. The
// engine's errors wrap one sentinel each (dispatch/errors.go) and, where a
// field is at fault, a *dispatch.FieldError naming it; its codes are
// stable machine names and pass through unchanged.
func (s *Server) engineError(err error) *APIError {
	return engineErrorAt(err, "", nil)
}

// engineErrorAt is engineError for bulk input: an *ItemError's index
// becomes "prefix[i]." before the field, or a CSV line when lines is set.
func engineErrorAt(err error, prefix string, lines []int) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	out := &APIError{Status: statusOf(err), Code: codeOf(err), Message: err.Error()}
	var ie *dispatch.ItemError
	if errors.As(err, &ie) {
		if lines != nil && ie.Index >= 0 && ie.Index < len(lines) {
			out.Line = lines[ie.Index]
			out.Code = CodeBadCSV
		} else if prefix != "" {
			out.Field = fmt.Sprintf("%s[%d]", prefix, ie.Index)
		}
	}
	var fe *dispatch.FieldError
	if errors.As(err, &fe) {
		if out.Code != CodeBadCSV {
			out.Code = fe.Code
		}
		out.Field = joinField(out.Field, fe.Field)
		out.Message = fe.Msg
	}
	var ce *dispatch.ConstraintError
	if errors.As(err, &ce) {
		out.Field = "worker_id"
		for _, v := range ce.Violations {
			out.Violations = append(out.Violations, string(v))
		}
		out.Message = ce.Error() + "; set force with a reason to override"
	}
	if out.Status >= 500 {
		out.Message = "the dispatch engine cannot take changes now"
		if out.Status == http.StatusInternalServerError {
			out.Message = "internal error"
		}
	}
	return out
}

func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, dispatch.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, dispatch.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, dispatch.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, dispatch.ErrInvalidTransition), errors.Is(err, dispatch.ErrConflict),
		errors.Is(err, dispatch.ErrConstraint), errors.Is(err, dispatch.ErrClaimed):
		return http.StatusConflict
	case errors.Is(err, dispatch.ErrUnavailable), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func codeOf(err error) string {
	switch {
	case errors.Is(err, dispatch.ErrInvalid):
		return CodeInvalidField
	case errors.Is(err, dispatch.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, dispatch.ErrForbidden):
		return CodeForbidden
	case errors.Is(err, dispatch.ErrInvalidTransition):
		return dispatch.CodeInvalidTransition
	case errors.Is(err, dispatch.ErrConstraint):
		return CodeConstraint
	case errors.Is(err, dispatch.ErrConflict):
		return CodeConflict
	case errors.Is(err, dispatch.ErrClaimed):
		return CodeClaimed
	case errors.Is(err, dispatch.ErrUnavailable), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable
	}
	return CodeInternal
}
