package dispatch

import (
	"cmp"
	"slices"
	"time"
)

// jointRow is one queued slot of a joint batch and the longest candidate
// list the solver asked for, kept for the explanation.
type jointRow struct {
	inc  *Incident // txn copy
	slot int
	q    query
	list []ranked
}

// solveBatch offers every queued slot as one minimum-cost assignment
// (SolveSurge) and reports the result against greedy in a surge.solved
// event. Slots the solver leaves empty escalate like any slot without a
// candidate.
func (tx *txn) solveBatch() {
	tx.batchDue = time.Time{}
	rows := tx.queuedRows()
	if len(rows) == 0 {
		return
	}
	res := SolveSurge(len(rows), func(r, k int) []SurgeEdge {
		row := &rows[r]
		row.list = tx.rank(&row.q, k)
		es := make([]SurgeEdge, len(row.list))
		for i, c := range row.list {
			es[i] = SurgeEdge{Worker: int32(c.w.gid), Cost: c.cost.TotalS}
		}
		return es
	})
	// Offer the solver's picks first: the fallback for empty rows searches
	// single-handed and must not take a worker the solver gave to a later row.
	for r := range rows {
		row := &rows[r]
		if res.Assign[r] < 0 {
			continue
		}
		w := tx.e.byGID[res.Assign[r]]
		cost := tx.e.costOf(w, &row.q, tx.now)
		runners := slices.DeleteFunc(slices.Clone(row.list), func(c ranked) bool { return c.w.ID == w.ID })
		runners = runners[:min(len(runners), tx.e.pol.Matching.RunnersUp)]
		tx.offer(row.inc, row.slot, w, offerInput{cost: cost, mode: ModeJoint, runnersUp: runners, chosenBy: ChosenByMatcher})
	}
	for r := range rows {
		if res.Assign[r] < 0 {
			tx.noCandidate(rows[r].inc, rows[r].slot)
		}
	}
	tx.emitSurge(rows, res)
}

// queuedRows collects the queued slots of open incidents, oldest incident
// first, so that the greedy baseline is first come, first served.
func (tx *txn) queuedRows() []jointRow {
	var incs []*Incident
	for ref := range tx.e.waiting {
		if inc := tx.incident(ref.incident); inc.Slots[ref.slot].Queued && !slices.Contains(incs, inc) {
			incs = append(incs, inc)
		}
	}
	slices.SortFunc(incs, func(a, b *Incident) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	var rows []jointRow
	for _, cur := range incs {
		inc := tx.editIncident(cur.ID)
		for i := range inc.Slots {
			if inc.Slots[i].Queued && tx.slotOpen(inc, i) {
				rows = append(rows, jointRow{inc: inc, slot: i, q: tx.e.queryFor(inc, i)})
			} else {
				inc.Slots[i].Queued = false
			}
		}
	}
	return rows
}

func (tx *txn) emitSurge(rows []jointRow, res SurgeResult) {
	ev := JointBatchEvent{Slots: len(rows), Filled: res.Filled, TotalS: res.Total,
		GreedyFilled: res.GreedyFilled, GreedyTotalS: res.GreedyTotal}
	if res.Filled == res.GreedyFilled {
		ev.SavedS = res.GreedyTotal - res.Total
	}
	region := rows[0].inc.Region
	for _, r := range rows {
		if !slices.Contains(ev.Incidents, r.inc.ID) {
			ev.Incidents = append(ev.Incidents, r.inc.ID)
		}
		if r.inc.Region != region {
			region = "" // a batch across regions is for the joint desk
		}
	}
	tx.emit(Event{Type: EventSurgeSolved, Region: region}, ev)
}
