package dispatch

import (
	"context"
	"fmt"
	"slices"
)

// Override is a coordinator's hand assignment of a worker to a need.
type Override struct {
	Coordinator string `json:"coordinator"` // name, for the audit log
	IncidentID  string `json:"incident_id"`
	NeedIndex   int    `json:"need_index"`
	WorkerID    string `json:"worker_id"`
	// Reason is required with Force.
	Reason string `json:"reason,omitempty"`
	// Force accepts breaking hard constraints (off duty, skill,
	// certification, supervisor, rest limits). A worker who already holds
	// an active assignment is never assigned twice, forced or not.
	Force bool `json:"force,omitempty"`
}

// Assign offers a need's open slot to the coordinator's choice. If every
// slot of the need is taken, a slot that is only offered (not accepted)
// is taken over, its offer cancelled. Breaking hard constraints without
// Force is a *ConstraintError; every override is audited.
func (e *Engine) Assign(ctx context.Context, o Override) (Assignment, error) {
	const op = "assign"
	if err := validText("coordinator", o.Coordinator, maxNameLen, true); err != nil {
		return Assignment{}, wrapOp(op, err)
	}
	if err := validText("reason", o.Reason, maxReasonLen, o.Force); err != nil {
		return Assignment{}, wrapOp(op, err)
	}
	var out *Assignment
	err := e.write(ctx, op, func(tx *txn) error {
		a, err := tx.override(o)
		out = a
		return err
	})
	if err != nil {
		return Assignment{}, err
	}
	return assignmentView(out), nil
}

func (tx *txn) override(o Override) (*Assignment, error) {
	w, vs, slot, err := tx.checkOverride(o)
	if err != nil {
		return nil, err
	}
	inc := tx.editIncident(o.IncidentID)
	if id := inc.Slots[slot].Assignment; id != "" && tx.assignment(id).State == StateOffered {
		tx.endAssignment(tx.editAssignment(id), StateCancelled, "replaced by "+o.Coordinator)
	}
	in := offerInput{mode: ModeOverride, chosenBy: o.Coordinator, reason: o.Reason, violations: vs, noPosition: !w.hasPos}
	if w.hasPos {
		q := tx.e.queryFor(inc, slot)
		in.cost = tx.e.costOf(w, &q, tx.now)
	}
	a := tx.offer(inc, slot, w, in)
	tx.restatus(inc)
	tx.emit(Event{Type: EventOverrideAssigned, Region: inc.Region, IncidentID: inc.ID, AssignmentID: a.ID},
		OverrideEvent{Coordinator: o.Coordinator, Reason: o.Reason, Forced: a.Forced, Violations: vs,
			Need: o.NeedIndex, Slot: slot, AssignmentID: a.ID})
	return a, nil
}

// checkOverride validates an override against current state and returns
// the worker, the hard constraints it breaks and the slot to use.
func (tx *txn) checkOverride(o Override) (*wstate, []Violation, int, error) {
	cur := tx.incident(o.IncidentID)
	if cur == nil {
		return nil, nil, 0, notFound("incident_id", "incident", o.IncidentID)
	}
	if cur.Status.ended() {
		return nil, nil, 0, fieldErr("incident_id", CodeInvalidTransition, ErrInvalidTransition, "incident is %s", cur.Status)
	}
	if o.NeedIndex < 0 || o.NeedIndex >= len(cur.Needs) {
		return nil, nil, 0, invalid("need_index", CodeOutOfRange, "incident has %d needs", len(cur.Needs))
	}
	w := tx.worker(o.WorkerID)
	if w == nil {
		return nil, nil, 0, notFound("worker_id", "worker", o.WorkerID)
	}
	vs := tx.e.violations(w, cur.Needs[o.NeedIndex], tx.now)
	if slices.Contains(vs, ViolBusy) {
		return nil, nil, 0, conflict("worker_id", "worker %s already holds assignment %s", w.ID, w.Active)
	}
	if len(vs) > 0 && !o.Force {
		return nil, nil, 0, &ConstraintError{WorkerID: w.ID, Violations: vs}
	}
	slot, err := tx.overrideSlot(cur, o.NeedIndex)
	return w, vs, slot, err
}

// overrideSlot picks the need's first open slot, else its first slot whose
// assignment is only offered.
func (tx *txn) overrideSlot(inc *Incident, need int) (int, error) {
	offered := -1
	for i, s := range inc.Slots {
		if s.Need != need {
			continue
		}
		if tx.slotOpen(inc, i) {
			return i, nil
		}
		if offered < 0 && tx.assignment(s.Assignment).State == StateOffered {
			offered = i
		}
	}
	if offered < 0 {
		return 0, conflict("need_index", "every slot of need %d is staffed; unassign someone first", need)
	}
	return offered, nil
}

// Unassign cancels an active assignment by hand. The slot goes back to the
// matcher, which will not offer it to the same worker again.
func (e *Engine) Unassign(ctx context.Context, coordinator, assignmentID, reason string) error {
	const op = "unassign"
	if err := validText("coordinator", coordinator, maxNameLen, true); err != nil {
		return wrapOp(op, err)
	}
	if err := validText("reason", reason, maxReasonLen, false); err != nil {
		return wrapOp(op, err)
	}
	return e.write(ctx, op, func(tx *txn) error {
		cur := tx.assignment(assignmentID)
		if cur == nil {
			return notFound("assignment_id", "assignment", assignmentID)
		}
		if !CanMove(cur.State, StateCancelled) {
			return transitionErr(cur.State, StateCancelled)
		}
		a := tx.editAssignment(assignmentID)
		inc := tx.editIncident(a.IncidentID)
		tx.endAssignment(a, StateCancelled, fmt.Sprintf("unassigned by %s", coordinator))
		s := &inc.Slots[a.Slot]
		s.Tried = append(s.Tried, a.WorkerID)
		tx.emit(Event{Type: EventOverrideUnassigned, Region: inc.Region, IncidentID: inc.ID, AssignmentID: a.ID},
			OverrideEvent{Coordinator: coordinator, Reason: reason, Need: a.Need, Slot: a.Slot, AssignmentID: a.ID})
		tx.refill(inc, a.Slot)
		tx.restatus(inc)
		return nil
	})
}
