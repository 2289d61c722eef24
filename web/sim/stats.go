package sim

import "sync/atomic"

// counters are the simulation's running totals, shared by its goroutines.
type counters struct {
	offers, accepted, declined, ignored, completed, mutualAid atomic.Int64
	logged, logFailed, staffed, closed, unfilled              atomic.Int64
}

// Stats is a snapshot of a simulation's totals.
type Stats struct {
	Workers      int
	Coordinators int
	// Worker side: offers received and what was done with them.
	Offers, Accepted, Declined, Ignored, Completed int64
	// MutualAid counts acceptances by workers whose home region is not
	// the incident's.
	MutualAid int64
	// Desk side.
	IncidentsLogged, IncidentsFailed, IncidentsStaffed, IncidentsClosed, Unfilled int64
	// Streams: lost and duplicated events must be zero.
	Lost, Duplicated, Reconnects, Resets uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Offers: c.offers.Load(), Accepted: c.accepted.Load(), Declined: c.declined.Load(),
		Ignored: c.ignored.Load(), Completed: c.completed.Load(), MutualAid: c.mutualAid.Load(),
		IncidentsLogged: c.logged.Load(), IncidentsFailed: c.logFailed.Load(),
		IncidentsStaffed: c.staffed.Load(), IncidentsClosed: c.closed.Load(), Unfilled: c.unfilled.Load(),
	}
}

func (st *Stats) addStream(s *streamStats) {
	st.Lost += s.Gaps.Load()
	st.Duplicated += s.Duplicates.Load()
	st.Reconnects += s.Reconnects.Load()
	st.Resets += s.Resets.Load()
}
