package dispatch

import (
	"context"
	"fmt"

	"github.com/jjj-social-work/dispatch/geo"
)

// UpsertWorkers adds or updates roster entries, all or nothing: the first
// bad entry is returned as an *ItemError (wrapping a *FieldError) with its
// index, and nothing changes. Known workers keep their duty state,
// position and assignments.
// At most maxUpsertWorker (100,000) workers per call, so that one batch
// stays a reasonable transaction; a larger import checks the whole file
// with ValidateWorkers first and then upserts it in chunks.
func (e *Engine) UpsertWorkers(ctx context.Context, in []WorkerInput) error {
	const op = "upsert workers"
	if len(in) > maxUpsertWorker {
		return fmt.Errorf("%s: %w", op, invalid("workers", CodeOutOfRange, "at most %d per call", maxUpsertWorker))
	}
	ws, err := e.validateWorkers(in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return e.write(ctx, op, func(tx *txn) error {
		for i := range ws {
			tx.upsertWorker(ws[i], in[i].Position)
		}
		return nil
	})
}

// ValidateWorkers checks a roster of any size without changing anything:
// the first bad entry is an *ItemError with its index, as in UpsertWorkers.
func (e *Engine) ValidateWorkers(in []WorkerInput) error {
	if _, err := e.validateWorkers(in); err != nil {
		return fmt.Errorf("validate workers: %w", err)
	}
	return nil
}

func (e *Engine) validateWorkers(in []WorkerInput) ([]Worker, error) {
	ws := make([]Worker, len(in))
	seen := make(map[string]int, len(in))
	for i, wi := range in {
		w, err := e.pol.validateWorker(wi)
		if err != nil {
			return nil, &ItemError{Index: i, Err: err}
		}
		if j, dup := seen[w.ID]; dup {
			return nil, &ItemError{Index: i, Err: invalid("id", CodeDuplicate, "id %q repeats item %d", w.ID, j)}
		}
		seen[w.ID] = i
		ws[i] = w
	}
	return ws, nil
}

func (tx *txn) upsertWorker(r Worker, pos *geo.Point) {
	w := tx.editWorker(r.ID)
	if w == nil {
		w = &wstate{}
		w.ID = r.ID
		tx.addWorker(w)
	}
	w.Name, w.Phone, w.HomeRegion, w.Agency = r.Name, r.Phone, r.HomeRegion, r.Agency
	w.Cert, w.Skills, w.Languages, w.Supervisor = r.Cert, r.Skills, r.Languages, r.Supervisor
	w.UpdatedAt = tx.now
	w.skills = 0
	for _, s := range w.Skills {
		w.skills |= tx.e.skillBit[s]
	}
	if pos != nil {
		w.pos, w.posAt, w.hasPos = *pos, tx.now, true
		tx.touchPosition(w.ID)
	}
	tx.emit(Event{Type: EventWorkerUpserted, Region: w.HomeRegion, WorkerID: w.ID}, workerEvent(&w.Worker))
}

// SetDuty puts a worker on or off duty. Going off duty declines a pending
// offer; it is refused (ErrConflict) while the worker is deployed.
// Setting the current state again changes nothing.
func (e *Engine) SetDuty(ctx context.Context, workerID string, on bool) error {
	return e.write(ctx, "set duty", func(tx *txn) error {
		cur := tx.worker(workerID)
		if cur == nil {
			return notFound("worker_id", "worker", workerID)
		}
		if cur.OnDuty == on {
			return nil
		}
		if !on && cur.Active != "" {
			if err := tx.leaveOffer(cur.Active); err != nil {
				return err
			}
		}
		w := tx.editWorker(workerID)
		win := e.pol.Rest.Window.D()
		if on {
			w.DutySince = tx.now
		} else {
			w.DutyLog = append(prune(w.DutyLog, win, tx.now), Interval{Start: w.DutySince, End: tx.now})
			w.DutySince = tx.now
		}
		w.OnDuty, w.UpdatedAt = on, tx.now
		tx.emit(Event{Type: EventWorkerDuty, Region: w.HomeRegion, WorkerID: w.ID}, DutyEvent{OnDuty: on})
		return nil
	})
}

// leaveOffer declines an offered assignment because its worker goes off
// duty; a deployed worker cannot go off duty.
func (tx *txn) leaveOffer(id string) error {
	a := tx.editAssignment(id)
	if a.State != StateOffered {
		return conflict("on_duty", "worker is deployed on assignment %s; complete it or ask a coordinator", id)
	}
	inc := tx.editIncident(a.IncidentID)
	tx.endAssignment(a, StateDeclined, "off_duty")
	tx.missed(inc, a.Slot, a.WorkerID)
	tx.restatus(inc)
	return nil
}
