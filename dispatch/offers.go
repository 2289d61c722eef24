package dispatch

import "time"

// offerInput is what an offer needs beyond the slot and the worker.
type offerInput struct {
	cost      CostTerms
	mode      string
	runnersUp []ranked
	chosenBy  string
	// Overrides only.
	reason     string
	violations []Violation
	noPosition bool
}

// offer creates an offered assignment of slot i of inc (a txn copy) to w,
// claims w and emits the offer.
func (tx *txn) offer(inc *Incident, i int, w *wstate, in offerInput) *Assignment {
	s := &inc.Slots[i]
	a := &Assignment{
		ID: newID("asg_", tx.now), IncidentID: inc.ID, Need: s.Need, Slot: i, WorkerID: w.ID,
		Region: inc.Region, State: StateOffered, ChosenBy: in.chosenBy,
		Forced: len(in.violations) > 0, Reason: in.reason,
		Explanation: Explanation{Mode: in.mode, Cost: in.cost, RunnersUp: candidates(in.runnersUp), Widened: s.Widened,
			Violations: in.violations, NoPosition: in.noPosition},
		OfferedAt: tx.now, ExpiresAt: tx.now.Add(tx.e.pol.Offers.Timeout.Get(inc.Severity).D()), UpdatedAt: tx.now,
	}
	tx.addAssignment(a)
	ew := tx.editWorker(w.ID)
	ew.Active, ew.UpdatedAt = a.ID, tx.now
	tx.claim(w.ID, a.ID)
	s.Assignment, s.Queued, s.RetryAt = a.ID, false, time.Time{}
	inc.UpdatedAt = tx.now
	tx.emitAssignment(EventOffered, a)
	return a
}

// slotOpen reports whether slot i needs a worker: no assignment yet, or
// the last one ended without being completed.
func (tx *txn) slotOpen(inc *Incident, i int) bool {
	id := inc.Slots[i].Assignment
	if id == "" {
		return true
	}
	st := tx.assignment(id).State
	return !st.Active() && st != StateCompleted
}

// fill offers slot i of inc (a txn copy) to its cheapest eligible worker,
// or escalates when there is none.
func (tx *txn) fill(inc *Incident, i int) {
	q := tx.e.queryFor(inc, i)
	rs := tx.rank(&q, 1+tx.e.pol.Matching.RunnersUp)
	if len(rs) == 0 {
		tx.noCandidate(inc, i)
		return
	}
	tx.offer(inc, i, rs[0].w, offerInput{cost: rs[0].cost, mode: ModeSingle, runnersUp: rs[1:], chosenBy: ChosenByMatcher})
}

// refill finds a worker for slot i again: in the open joint batch if there
// is one, so that the batch can weigh it, else at once.
func (tx *txn) refill(inc *Incident, i int) {
	if !tx.batchDue.IsZero() {
		inc.Slots[i].Queued = true
		return
	}
	tx.fill(inc, i)
}

// noCandidate flags slot i unfilled, widens the search if policy allows and
// tries once more, else schedules a retry.
func (tx *txn) noCandidate(inc *Incident, i int) {
	s := &inc.Slots[i]
	s.Queued = false
	tx.flagUnfilled(inc, i, "no_candidate")
	if tx.widen(inc, i) {
		tx.fill(inc, i)
		return
	}
	s.RetryAt = tx.now.Add(tx.e.pol.Offers.RetryInterval.D())
	inc.UpdatedAt = tx.now
}

// flagUnfilled marks slot i unfilled once and tells coordinators.
func (tx *txn) flagUnfilled(inc *Incident, i int, reason string) {
	s := &inc.Slots[i]
	if s.Unfilled {
		return
	}
	s.Unfilled = true
	inc.UpdatedAt = tx.now
	tx.emit(Event{Type: EventNeedUnfilled, Region: inc.Region, IncidentID: inc.ID},
		NeedEvent{Need: s.Need, Slot: i, Skill: inc.Needs[s.Need].Skill, Misses: s.Misses, Reason: reason})
}

// widen opens slot i's search to other regions if policy allows it and it
// has not happened yet; it reports whether it did.
func (tx *txn) widen(inc *Incident, i int) bool {
	s := &inc.Slots[i]
	if s.Widened || tx.e.pol.MutualAid != MutualAidAfterUnfilled {
		return false
	}
	s.Widened = true
	tx.emit(Event{Type: EventNeedWidened, Region: inc.Region, IncidentID: inc.ID},
		NeedEvent{Need: s.Need, Slot: i, Skill: inc.Needs[s.Need].Skill, Misses: s.Misses, Reason: "unfilled"})
	return true
}

// missed handles a decline or an expiry of slot i by workerID: count it,
// escalate after MaxMisses, and move on to the next candidate.
func (tx *txn) missed(inc *Incident, i int, workerID string) {
	s := &inc.Slots[i]
	s.Misses++
	s.Tried = append(s.Tried, workerID)
	if s.Misses >= tx.e.pol.Offers.MaxMisses && !s.Unfilled {
		tx.flagUnfilled(inc, i, "misses")
		tx.widen(inc, i)
	}
	tx.refill(inc, i)
}

// endAssignment moves an active assignment to a final state: it releases
// the worker, closes a deployment and records why.
func (tx *txn) endAssignment(a *Assignment, to State, reason string) {
	wasDeployed := a.State.deployed()
	a.State, a.EndedAt, a.UpdatedAt = to, tx.now, tx.now
	if reason != "" {
		a.EndReason = reason
	}
	w := tx.editWorker(a.WorkerID)
	if w != nil && w.Active == a.ID {
		w.Active, w.UpdatedAt = "", tx.now
		tx.release(w.ID)
	}
	if w != nil && wasDeployed {
		tx.endDeployment(w)
	}
	tx.emitAssignment(endEvent(to), a)
}

func endEvent(s State) string {
	switch s {
	case StateCompleted:
		return EventCompleted
	case StateDeclined:
		return EventDeclined
	case StateExpired:
		return EventExpired
	}
	return EventCancelled
}

// restatus sets open/staffed from the slots and emits the change.
func (tx *txn) restatus(inc *Incident) {
	if inc.Status.ended() {
		return
	}
	staffed := true
	for i := range inc.Slots {
		id := inc.Slots[i].Assignment
		if id == "" {
			staffed = false
			break
		}
		if st := tx.assignment(id).State; !st.deployed() && st != StateCompleted {
			staffed = false
			break
		}
	}
	next, typ := IncidentOpen, EventIncidentReopened
	if staffed {
		next, typ = IncidentStaffed, EventIncidentStaffed
	}
	if next == inc.Status {
		return
	}
	inc.Status, inc.UpdatedAt = next, tx.now
	tx.emit(Event{Type: typ, Region: inc.Region, IncidentID: inc.ID}, StatusEvent{Status: next})
}
