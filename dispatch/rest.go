package dispatch

import "time"

// overlap is how much of [start, end) falls inside [from, to).
func overlap(start, end, from, to time.Time) time.Duration {
	if start.Before(from) {
		start = from
	}
	if end.After(to) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start)
}

// within sums the intervals' time inside the window ending at now; an
// interval without an end runs until now.
func within(ivs []Interval, window time.Duration, now time.Time) time.Duration {
	from := now.Add(-window)
	var sum time.Duration
	for _, iv := range ivs {
		end := iv.End
		if end.IsZero() {
			end = now
		}
		sum += overlap(iv.Start, end, from, now)
	}
	return sum
}

// dutyTime is the worker's on-duty time inside the rest window.
func (e *Engine) dutyTime(w *Worker, now time.Time) time.Duration {
	win := e.pol.Rest.Window.D()
	d := within(w.DutyLog, win, now)
	if w.OnDuty {
		d += overlap(w.DutySince, now, now.Add(-win), now)
	}
	return d
}

// restOK reports whether the worker is within the rest limits at now.
func (e *Engine) restOK(w *Worker, now time.Time) bool {
	return !now.Before(w.RestUntil) && e.dutyTime(w, now) < e.pol.Rest.MaxDuty.D()
}

// prune drops intervals that ended before the rest window, so that worker
// records stay small.
func prune(ivs []Interval, window time.Duration, now time.Time) []Interval {
	from := now.Add(-window)
	out := ivs[:0]
	for _, iv := range ivs {
		if iv.End.IsZero() || iv.End.After(from) {
			out = append(out, iv)
		}
	}
	return out
}

// startDeployment opens a deployment interval for w at now.
func (tx *txn) startDeployment(w *wstate) {
	w.Deployments = append(prune(w.Deployments, tx.e.pol.Rest.Window.D(), tx.now), Interval{Start: tx.now})
}

// endDeployment closes w's open deployment; a long one sets RestUntil.
func (tx *txn) endDeployment(w *wstate) {
	for i := range w.Deployments {
		d := &w.Deployments[i]
		if !d.End.IsZero() {
			continue
		}
		d.End = tx.now
		if d.End.Sub(d.Start) >= tx.e.pol.Rest.LongDeployment.D() {
			w.RestUntil = tx.now.Add(tx.e.pol.Rest.RestAfterLong.D())
		}
	}
}
