package sim

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// simWorker is one simulated field worker: a phone that shares its
// position while on duty, answers offers by chance and reports progress,
// all over its own stream with its own credential. The reader goroutine
// hands events to run, which owns all the worker's state.
type simWorker struct {
	m      Member
	b      Behaviour
	onOdds float64 // Team.OnDuty, for duty re-draws
	speed  scale
	api    *apiClient
	stream *streamConn
	ids    *msgIDs
	stats  *counters
	log    *slog.Logger
	events chan *dispatch.Event
	quit   chan struct{} // closed when run returns: the reader stops handing over

	// run goroutine only.
	rng    *rand.Rand
	pos    geo.Point
	onDuty bool
	task   *task
}

// task is the worker's current assignment and its next step.
type task struct {
	id       string
	state    dispatch.State
	decision string    // accept, decline or ignore (while offered)
	due      time.Time // when the next step is taken; zero: waiting for an event
	target   geo.Point // the incident
	moving   bool
}

const (
	decideAccept  = "accept"
	decideDecline = "decline"
	decideIgnore  = "ignore"
)

// onEvent runs on the stream's reader goroutine: decode, hand over.
func (w *simWorker) onEvent(_ eventHead, raw []byte) {
	f, err := decodeFrame(raw)
	if err != nil || f.Event == nil {
		return
	}
	select {
	case w.events <- f.Event:
	case <-w.quit:
	}
}

// start sends the worker's duty state and position, as a phone does when
// its page opens, and picks up an assignment left from an earlier run.
func (w *simWorker) start(ctx context.Context) {
	w.pos, w.onDuty = w.m.Home, w.m.OnDuty
	w.stream.sendTracked(w.dutyMsg(w.onDuty))
	if w.onDuty {
		_ = w.stream.send(positionMessage(w.ids.next(), w.pos))
	}
	w.resume(ctx)
}

func (w *simWorker) dutyMsg(on bool) (string, []byte) {
	id := w.ids.next()
	return id, dutyMessage(id, on)
}

// resume loads the worker's own view and continues an active assignment.
func (w *simWorker) resume(ctx context.Context) {
	v, err := w.api.workerView(ctx, w.m.Worker.ID)
	if err != nil {
		w.log.Debug("worker view failed", "err", err)
		return
	}
	for _, a := range v.Assignments {
		if a.State.Active() {
			w.task = &task{id: a.ID, state: a.State, decision: decideAccept, target: incidentAt(v, a.IncidentID, w.pos)}
			w.schedule(a.State)
			return
		}
	}
}

func incidentAt(v workerView, id string, fallback geo.Point) geo.Point {
	for _, inc := range v.Incidents {
		if inc.ID == id {
			return inc.Position
		}
	}
	return fallback
}

// run is the worker's life: events from the stream, and its own timers for
// moving, duty changes and the next step of its task.
func (w *simWorker) run(ctx context.Context) error {
	defer close(w.quit)
	w.start(ctx)
	move := time.NewTicker(w.speed.wall(w.b.MoveEvery.D()))
	defer move.Stop()
	step := time.NewTimer(time.Hour)
	defer step.Stop()
	nextDuty := w.nextDutyDraw()
	for {
		step.Reset(w.untilNext(nextDuty))
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.events:
			w.handle(ctx, ev)
		case <-move.C:
			w.move()
		case <-step.C:
			if w.task != nil && !w.task.due.IsZero() && !time.Now().Before(w.task.due) {
				w.act()
			}
			if !nextDuty.IsZero() && !time.Now().Before(nextDuty) {
				w.redrawDuty()
				nextDuty = w.nextDutyDraw()
			}
		}
	}
}

func (w *simWorker) untilNext(nextDuty time.Time) time.Duration {
	next := nextDuty
	if w.task != nil && !w.task.due.IsZero() && (next.IsZero() || w.task.due.Before(next)) {
		next = w.task.due
	}
	if next.IsZero() {
		return time.Hour
	}
	return max(time.Until(next), 0)
}

func (w *simWorker) nextDutyDraw() time.Time {
	if w.b.DutyEvery <= 0 {
		return time.Time{}
	}
	d := time.Duration(w.rng.ExpFloat64() * float64(w.b.DutyEvery.D()))
	return time.Now().Add(w.speed.wall(d))
}

// redrawDuty puts a free worker on or off duty by the team's odds.
func (w *simWorker) redrawDuty() {
	if w.task != nil {
		return // the server refuses going off duty while deployed
	}
	on := w.rng.Float64() < w.onOdds
	if on == w.onDuty {
		return
	}
	w.onDuty = on
	w.stream.sendTracked(w.dutyMsg(on))
}

// handle follows the worker's own assignment events.
func (w *simWorker) handle(ctx context.Context, ev *dispatch.Event) {
	switch ev.Type {
	case dispatch.EventOffered:
		w.offered(ctx, ev)
	case dispatch.EventWorkerDuty:
		var d dispatch.DutyEvent
		if json.Unmarshal(ev.Data, &d) == nil {
			w.onDuty = d.OnDuty
		}
	}
	if w.task == nil || ev.AssignmentID != w.task.id {
		return
	}
	switch ev.Type {
	case dispatch.EventAccepted:
		w.task.state = dispatch.StateAccepted
		w.countAccepted(ev)
		w.schedule(dispatch.StateAccepted)
	case dispatch.EventEnRoute:
		w.task.state, w.task.moving = dispatch.StateEnRoute, true
	case dispatch.EventOnScene:
		w.task.state, w.task.moving = dispatch.StateOnScene, false
		w.schedule(dispatch.StateOnScene)
	case dispatch.EventCompleted:
		w.stats.completed.Add(1)
		w.task = nil
	case dispatch.EventDeclined, dispatch.EventExpired, dispatch.EventCancelled:
		w.task = nil
	}
}

// offered decides what to do with an offer, and when.
func (w *simWorker) offered(ctx context.Context, ev *dispatch.Event) {
	w.stats.offers.Add(1)
	if w.task != nil && w.task.state != dispatch.StateOffered {
		return // the engine never offers a deployed worker; a stale event
	}
	d := decide(w.rng.Float64(), w.b)
	t := &task{id: ev.AssignmentID, state: dispatch.StateOffered, decision: d, target: w.pos}
	if d == decideIgnore {
		w.stats.ignored.Add(1)
	} else {
		t.due = w.after(w.b.AnswerAfter)
	}
	w.task = t
	// The phone reads its view with each new offer: it shows where to go.
	if v, err := w.api.workerView(ctx, w.m.Worker.ID); err == nil {
		t.target = incidentAt(v, ev.IncidentID, w.pos)
	}
}

// decide maps a uniform draw u to accept, decline or ignore by the
// behaviour's probabilities.
func decide(u float64, b Behaviour) string {
	switch {
	case u < b.Accept:
		return decideAccept
	case u < b.Accept+b.Decline:
		return decideDecline
	}
	return decideIgnore
}

func (w *simWorker) countAccepted(ev *dispatch.Event) {
	if ev.Region != "" && ev.Region != w.m.Worker.HomeRegion {
		w.stats.mutualAid.Add(1)
	}
}

// schedule sets when the step after state is taken.
func (w *simWorker) schedule(state dispatch.State) {
	switch state {
	case dispatch.StateAccepted:
		w.task.due = w.after(w.b.EnRouteAfter)
	case dispatch.StateOnScene:
		w.task.due = w.after(w.b.OnSceneFor)
	case dispatch.StateEnRoute:
		w.task.moving = true
	case dispatch.StateOffered:
		w.task.due = w.after(w.b.AnswerAfter)
	}
}

func (w *simWorker) after(s Span) time.Time {
	d := time.Duration(between(w.rng, float64(s.Min), float64(s.Max)))
	return time.Now().Add(w.speed.wall(d))
}

// act takes the task's due step.
func (w *simWorker) act() {
	t := w.task
	t.due = time.Time{}
	id := w.ids.next()
	switch t.state {
	case dispatch.StateOffered:
		accept := t.decision == decideAccept
		if accept {
			w.stats.accepted.Add(1)
		} else {
			w.stats.declined.Add(1)
		}
		w.stream.sendTracked(id, answerMessage(id, t.id, accept, declineReason(accept)))
	case dispatch.StateAccepted:
		w.stream.sendTracked(id, statusMessage(id, t.id, string(dispatch.StateEnRoute)))
	case dispatch.StateOnScene:
		w.stream.sendTracked(id, statusMessage(id, t.id, string(dispatch.StateCompleted)))
	}
}

func declineReason(accept bool) string {
	if accept {
		return ""
	}
	return "暂时无法前往 not available right now"
}

// move shares a new position: toward the incident when en route (and
// reports arrival), otherwise a small random walk.
func (w *simWorker) move() {
	if !w.onDuty {
		return
	}
	if w.task != nil && w.task.moving {
		stepM := w.b.TravelKmh / 3.6 * w.b.MoveEvery.D().Seconds()
		var arrived bool
		w.pos, arrived = toward(w.pos, w.task.target, stepM)
		if arrived {
			w.task.moving = false
			id := w.ids.next()
			w.stream.sendTracked(id, statusMessage(id, w.task.id, string(dispatch.StateOnScene)))
		}
	} else if w.task == nil || w.task.state == dispatch.StateOffered {
		a := w.rng.Float64() * 2 * math.Pi
		w.pos = offset(w.pos, w.b.WalkM*math.Cos(a), w.b.WalkM*math.Sin(a))
	}
	_ = w.stream.send(positionMessage(w.ids.next(), w.pos))
}

// toward moves from p up to stepM metres toward q.
func toward(p, q geo.Point, stepM float64) (geo.Point, bool) {
	d := geo.DistanceMeters(p, q)
	if d <= stepM {
		return q, true
	}
	f := stepM / d
	return geo.Point{Lat: p.Lat + (q.Lat-p.Lat)*f, Lng: p.Lng + (q.Lng-p.Lng)*f}, false
}
