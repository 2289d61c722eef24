package dispatch

import (
	"context"
	"slices"
)

// CanMove reports whether the assignment state machine allows from → to:
//
//	offered → accepted → en_route → on_scene → completed
//	offered → declined | expired
//	any active state → cancelled
//
// Final states (completed, declined, expired, cancelled) move nowhere.
func CanMove(from, to State) bool {
	switch from {
	case StateOffered:
		return to == StateAccepted || to == StateDeclined || to == StateExpired || to == StateCancelled
	case StateAccepted:
		return to == StateEnRoute || to == StateCancelled
	case StateEnRoute:
		return to == StateOnScene || to == StateCancelled
	case StateOnScene:
		return to == StateCompleted || to == StateCancelled
	}
	return false
}

func transitionErr(from, to State) error {
	return fieldErr("state", CodeInvalidTransition, ErrInvalidTransition, "cannot move from %s to %s", from, to)
}

// ownAssignment returns the txn copy of a worker's assignment, checking
// that it exists, is theirs and may move to `to`.
func (tx *txn) ownAssignment(workerID, id string, to State) (*Assignment, error) {
	cur := tx.assignment(id)
	if cur == nil {
		return nil, notFound("assignment_id", "assignment", id)
	}
	if cur.WorkerID != workerID {
		return nil, fieldErr("assignment_id", CodeForbidden, ErrForbidden, "assignment %s is not worker %s's", id, workerID)
	}
	if !CanMove(cur.State, to) {
		return nil, transitionErr(cur.State, to)
	}
	return tx.editAssignment(id), nil
}

// Answer is a worker's answer to an offer: accept, or decline with an
// optional reason. A decline moves the slot to the next candidate.
func (e *Engine) Answer(ctx context.Context, workerID, assignmentID string, accept bool, reason string) error {
	const op = "answer offer"
	if err := validText("reason", reason, maxReasonLen, false); err != nil {
		return wrapOp(op, err)
	}
	to := StateDeclined
	if accept {
		to = StateAccepted
	}
	return e.write(ctx, op, func(tx *txn) error {
		a, err := tx.ownAssignment(workerID, assignmentID, to)
		if err != nil {
			return err
		}
		inc := tx.editIncident(a.IncidentID)
		if accept {
			tx.accept(inc, a)
		} else {
			tx.endAssignment(a, StateDeclined, reason)
			tx.missed(inc, a.Slot, a.WorkerID)
		}
		tx.restatus(inc)
		return nil
	})
}

func (tx *txn) accept(inc *Incident, a *Assignment) {
	a.State, a.AcceptedAt, a.UpdatedAt = StateAccepted, tx.now, tx.now
	tx.startDeployment(tx.editWorker(a.WorkerID))
	inc.Slots[a.Slot].Unfilled = false
	inc.UpdatedAt = tx.now
	tx.emitAssignment(EventAccepted, a)
}

// Advance is a worker's progress report: en_route, on_scene or completed,
// in that order.
func (e *Engine) Advance(ctx context.Context, workerID, assignmentID string, to State) error {
	const op = "advance assignment"
	if !slices.Contains([]State{StateEnRoute, StateOnScene, StateCompleted}, to) {
		if slices.Contains(States(), to) {
			return wrapOp(op, fieldErr("state", CodeInvalidTransition, ErrInvalidTransition,
				"a worker reports en_route, on_scene or completed, not %s", to))
		}
		return wrapOp(op, invalid("state", CodeUnknown, "unknown state %q", truncate(string(to))))
	}
	return e.write(ctx, op, func(tx *txn) error {
		a, err := tx.ownAssignment(workerID, assignmentID, to)
		if err != nil {
			return err
		}
		switch to {
		case StateEnRoute:
			a.State, a.EnRouteAt, a.UpdatedAt = to, tx.now, tx.now
			tx.emitAssignment(EventEnRoute, a)
		case StateOnScene:
			a.State, a.OnSceneAt, a.UpdatedAt = to, tx.now, tx.now
			tx.emitAssignment(EventOnScene, a)
		default:
			inc := tx.editIncident(a.IncidentID)
			tx.endAssignment(a, StateCompleted, "")
			tx.restatus(inc)
		}
		return nil
	})
}
