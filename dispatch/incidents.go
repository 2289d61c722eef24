package dispatch

import (
	"context"
	"time"
)

// CreateIncident validates and logs an incident, then offers each slot to
// its cheapest eligible worker at once, or, during a surge (many incidents
// inside the batch window), queues the slots for one joint assignment.
// Bad input is a *FieldError and changes nothing.
func (e *Engine) CreateIncident(ctx context.Context, in IncidentInput) (Incident, error) {
	base, err := e.pol.validateIncident(in)
	if err != nil {
		return Incident{}, wrapOp("create incident", err)
	}
	var out *Incident
	err = e.write(ctx, "create incident", func(tx *txn) error {
		out = tx.createIncident(base)
		return nil
	})
	if err != nil {
		return Incident{}, err
	}
	// Installed entities are never changed in place, so out is safe to read.
	return incidentView(out), nil
}

func (tx *txn) createIncident(base Incident) *Incident {
	inc := cloneIncident(&base)
	inc.ID, inc.Status, inc.CreatedAt, inc.UpdatedAt = newID("inc_", tx.now), IncidentOpen, tx.now, tx.now
	for ni, n := range inc.Needs {
		for range n.Count {
			inc.Slots = append(inc.Slots, Slot{Need: ni})
		}
	}
	tx.addIncident(inc)
	tx.emit(Event{Type: EventIncidentCreated, Region: inc.Region, IncidentID: inc.ID}, inc)
	queue := tx.noteCreation()
	for i := range inc.Slots {
		if queue {
			inc.Slots[i].Queued = true
		} else {
			tx.fill(inc, i)
		}
	}
	return inc
}

// noteCreation counts an incident creation inside the batch window and
// reports whether its slots go to a joint batch, opening one if needed.
func (tx *txn) noteCreation() bool {
	b := tx.e.pol.Batch
	if b.MinIncidents == 0 {
		return false
	}
	from := tx.now.Add(-b.Window.D())
	recent := make([]time.Time, 0, len(tx.recent)+1)
	for _, t := range tx.recent {
		if t.After(from) {
			recent = append(recent, t)
		}
	}
	tx.recent = append(recent, tx.now)
	if tx.batchDue.IsZero() && len(tx.recent) < b.MinIncidents {
		return false
	}
	if tx.batchDue.IsZero() {
		tx.batchDue = tx.now.Add(b.Window.D())
	}
	return true
}

// IncidentAction names who ends an incident and why.
type IncidentAction struct {
	IncidentID string `json:"incident_id"`
	By         string `json:"by"` // the coordinator's name, for the log
	Reason     string `json:"reason,omitempty"`
}

// CancelIncident cancels an open or staffed incident and every active
// assignment of it, releasing the workers.
func (e *Engine) CancelIncident(ctx context.Context, a IncidentAction) error {
	return e.endIncident(ctx, "cancel incident", a, IncidentCancelled)
}

// CloseIncident closes an open or staffed incident: workers on scene
// complete, other active assignments are cancelled.
func (e *Engine) CloseIncident(ctx context.Context, a IncidentAction) error {
	return e.endIncident(ctx, "close incident", a, IncidentClosed)
}

func (e *Engine) endIncident(ctx context.Context, op string, act IncidentAction, to IncidentStatus) error {
	if err := validText("by", act.By, maxNameLen, true); err != nil {
		return wrapOp(op, err)
	}
	if err := validText("reason", act.Reason, maxReasonLen, false); err != nil {
		return wrapOp(op, err)
	}
	return e.write(ctx, op, func(tx *txn) error {
		cur := tx.incident(act.IncidentID)
		if cur == nil {
			return notFound("incident_id", "incident", act.IncidentID)
		}
		if cur.Status.ended() {
			return fieldErr("status", CodeInvalidTransition, ErrInvalidTransition, "incident is already %s", cur.Status)
		}
		inc := tx.editIncident(act.IncidentID)
		tx.endActive(inc, to)
		for i := range inc.Slots {
			inc.Slots[i].Queued, inc.Slots[i].RetryAt = false, time.Time{}
		}
		inc.Status, inc.UpdatedAt, inc.EndedAt = to, tx.now, tx.now
		typ := EventIncidentCancelled
		if to == IncidentClosed {
			typ = EventIncidentClosed
		}
		tx.emit(Event{Type: typ, Region: inc.Region, IncidentID: inc.ID}, StatusEvent{Status: to, By: act.By, Reason: act.Reason})
		return nil
	})
}

// endActive ends the incident's active assignments: on closing, workers on
// scene complete; everything else is cancelled.
func (tx *txn) endActive(inc *Incident, to IncidentStatus) {
	for _, s := range inc.Slots {
		if s.Assignment == "" || !tx.assignment(s.Assignment).State.Active() {
			continue
		}
		a := tx.editAssignment(s.Assignment)
		final, reason := StateCancelled, "incident "+string(to)
		if to == IncidentClosed && a.State == StateOnScene {
			final = StateCompleted
		}
		tx.endAssignment(a, final, reason)
	}
}
