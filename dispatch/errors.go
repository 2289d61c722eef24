package dispatch

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the engine returns for a caller's mistake
// wraps exactly one of them, so a server maps it to a status with
// errors.Is: ErrInvalid 400, ErrNotFound 404, ErrForbidden 403,
// ErrInvalidTransition, ErrConflict and ErrConstraint 409, ErrUnavailable 503.
var (
	// ErrInvalid means the input is malformed or out of range.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound means a referenced worker, incident or assignment does not exist.
	ErrNotFound = errors.New("not found")
	// ErrForbidden means the caller acts on something that is not theirs,
	// e.g. a worker answering another worker's offer.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidTransition means the assignment or incident state machine
	// does not allow the asked step from the current state.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrConflict means the request is well formed but clashes with current
	// state: a busy worker, a fully staffed need, a claim held elsewhere.
	ErrConflict = errors.New("conflict")
	// ErrConstraint means an override breaks hard constraints and was not
	// forced; the error is a *ConstraintError listing them.
	ErrConstraint = errors.New("hard constraint violated")
	// ErrUnavailable means the store failed to make a change durable; the
	// engine refuses further writes until it is restarted from the store.
	ErrUnavailable = errors.New("engine unavailable")
)

// Stable machine-readable codes of FieldError.
const (
	CodeRequired          = "required"
	CodeInvalid           = "invalid"
	CodeOutOfRange        = "out_of_range"
	CodeUnknown           = "unknown"
	CodeTooLong           = "too_long"
	CodeDuplicate         = "duplicate"
	CodeNotFound          = "not_found"
	CodeForbidden         = "forbidden"
	CodeInvalidTransition = "invalid_transition"
	CodeConflict          = "conflict"
)

// FieldError names the input field a request got wrong, so a server can
// answer with a 4xx that points at it (PRODUCT §8).
type FieldError struct {
	Field string // JSON path of the field, e.g. "needs[1].skill"
	Code  string // one of the Code constants
	Msg   string // human-readable detail, lowercase
	Err   error  // the sentinel it wraps (ErrInvalid, ErrNotFound, ...)

	missing RecordRef // for ErrNotFound: the record not found, to reread on a shared store
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// ItemError places an error at an index of a bulk input, so an import can
// report its line (PRODUCT §8: all-or-nothing with line numbers).
type ItemError struct {
	Index int // zero-based index of the bad item
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error, usually a *FieldError.
func (e *ItemError) Unwrap() error { return e.Err }

// Violation names one hard constraint (PRODUCT §4) a worker fails for a need.
type Violation string

// The hard constraints.
const (
	ViolOffDuty       Violation = "off_duty"
	ViolBusy          Violation = "busy" // already holds an active assignment; never forceable
	ViolMissingSkill  Violation = "missing_skill"
	ViolCertBelow     Violation = "cert_below_minimum"
	ViolNotSupervisor Violation = "not_supervisor"
	ViolDutyLimit     Violation = "duty_limit" // too many hours on duty in the rest window
	ViolResting       Violation = "resting"    // inside the rest after a long deployment
)

// ConstraintError lists the hard constraints a coordinator's assignment
// breaks. It wraps ErrConstraint; setting Force with a reason overrides it.
type ConstraintError struct {
	WorkerID   string
	Violations []Violation
}

func (e *ConstraintError) Error() string {
	vs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		vs[i] = string(v)
	}
	return fmt.Sprintf("worker %s breaks %s", e.WorkerID, strings.Join(vs, ", "))
}

// Unwrap returns ErrConstraint.
func (e *ConstraintError) Unwrap() error { return ErrConstraint }

func fieldErr(field, code string, sentinel error, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Code: code, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

func invalid(field, code, format string, args ...any) *FieldError {
	return fieldErr(field, code, ErrInvalid, format, args...)
}

func notFound(field, what, id string) *FieldError {
	fe := fieldErr(field, CodeNotFound, ErrNotFound, "%s %q not found", what, id)
	fe.missing = RecordRef{Kind: RecordKind(what), ID: id}
	return fe
}

func conflict(field, format string, args ...any) *FieldError {
	return fieldErr(field, CodeConflict, ErrConflict, format, args...)
}

// wrapOp prefixes err with the operation's name.
func wrapOp(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }
