package dispatch

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jjj-social-work/dispatch/geo"
)

// Read methods return copies; callers may keep and change them.

func incidentView(inc *Incident) Incident { return *cloneIncident(inc) }

func assignmentView(a *Assignment) Assignment { return *cloneAssignment(a) }

func workerView(w *wstate) Worker {
	v := w.Worker
	v.Skills = slices.Clone(w.Skills)
	v.Languages = slices.Clone(w.Languages)
	v.DutyLog = slices.Clone(w.DutyLog)
	v.Deployments = slices.Clone(w.Deployments)
	if w.hasPos {
		p := w.pos
		v.Position, v.PositionAt = &p, w.posAt
	}
	return v
}

// Incident returns one incident.
func (e *Engine) Incident(id string) (Incident, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	inc := e.incidents[id]
	if inc == nil {
		return Incident{}, wrapOp("get incident", notFound("incident_id", "incident", id))
	}
	return incidentView(inc), nil
}

// Incidents returns the incidents of a region ("" for all), oldest first.
// With activeOnly, closed and cancelled ones are left out.
func (e *Engine) Incidents(region string, activeOnly bool) []Incident {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.incidentsLocked(region, activeOnly)
}

func (e *Engine) incidentsLocked(region string, activeOnly bool) []Incident {
	out := []Incident{}
	for _, inc := range e.incidents {
		if (region == "" || inc.Region == region) && (!activeOnly || !inc.Status.ended()) {
			out = append(out, incidentView(inc))
		}
	}
	slices.SortFunc(out, func(a, b Incident) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Assignment returns one assignment with its full explanation.
func (e *Engine) Assignment(id string) (Assignment, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a := e.assignments[id]
	if a == nil {
		return Assignment{}, wrapOp("get assignment", notFound("assignment_id", "assignment", id))
	}
	return assignmentView(a), nil
}

// IncidentAssignments returns every assignment ever made for an incident,
// oldest first.
func (e *Engine) IncidentAssignments(incidentID string) ([]Assignment, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.incidents[incidentID] == nil {
		return nil, wrapOp("incident assignments", notFound("incident_id", "incident", incidentID))
	}
	return e.assignmentsLocked(e.byIncident[incidentID]), nil
}

// WorkerAssignments returns a worker's assignments, oldest first.
func (e *Engine) WorkerAssignments(workerID string) ([]Assignment, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.workers[workerID] == nil {
		return nil, wrapOp("worker assignments", notFound("worker_id", "worker", workerID))
	}
	return e.assignmentsLocked(e.byWorker[workerID]), nil
}

// assignmentsLocked copies assignments in offer order (ties by id), the
// same before and after a restart.
func (e *Engine) assignmentsLocked(ids []string) []Assignment {
	out := make([]Assignment, 0, len(ids))
	for _, id := range ids {
		out = append(out, assignmentView(e.assignments[id]))
	}
	slices.SortFunc(out, func(a, b Assignment) int {
		return cmp.Or(a.OfferedAt.Compare(b.OfferedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Worker returns one worker, phone and position included: callers decide
// who may see them.
func (e *Engine) Worker(id string) (Worker, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	w := e.workers[id]
	if w == nil {
		return Worker{}, wrapOp("get worker", notFound("worker_id", "worker", id))
	}
	return workerView(w), nil
}

// NearQuery filters WorkersNear. The zero value asks for the 10 nearest
// workers of any kind.
type NearQuery struct {
	K             int     `json:"k"` // how many; 0 means 10, at most 1000
	Skill         string  `json:"skill,omitempty"`
	MinCert       Cert    `json:"min_cert,omitempty"`
	OnlyAvailable bool    `json:"only_available,omitempty"` // on duty and free
	MaxMeters     float64 `json:"max_meters,omitempty"`
	Region        string  `json:"region,omitempty"` // home region
}

// NearWorker is a worker and its distance from the asked point.
type NearWorker struct {
	Worker Worker  `json:"worker"`
	Meters float64 `json:"meters"`
}

// WorkersNear returns the nearest workers to p that pass q, nearest first.
func (e *Engine) WorkersNear(p geo.Point, q NearQuery) ([]NearWorker, error) {
	const op = "workers near"
	if err := p.Validate(); err != nil {
		return nil, wrapOp(op, pointErr("position", err))
	}
	f, k, err := e.nearFilter(q)
	if err != nil {
		return nil, wrapOp(op, err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if q.Region != "" {
		f.Accept = func(id geo.ID) bool { return e.byGID[id].HomeRegion == q.Region }
	}
	nbs, err := e.index.Nearest(p, k, f, nil)
	if err != nil {
		return nil, wrapOp(op, err)
	}
	out := make([]NearWorker, len(nbs))
	for i, nb := range nbs {
		out[i] = NearWorker{Worker: workerView(e.byGID[nb.ID]), Meters: nb.Meters}
	}
	return out, nil
}

func (e *Engine) nearFilter(q NearQuery) (geo.Filter, int, error) {
	k := q.K
	if k == 0 {
		k = 10
	}
	switch {
	case k < 0 || k > 1000:
		return geo.Filter{}, 0, invalid("k", CodeOutOfRange, "must be 1 to 1000")
	case q.MaxMeters < 0 || !(q.MaxMeters == 0 || finitePositive(q.MaxMeters)):
		return geo.Filter{}, 0, invalid("max_meters", CodeOutOfRange, "must be a positive number")
	case q.MinCert > CertSenior:
		return geo.Filter{}, 0, invalid("min_cert", CodeOutOfRange, "unknown certification")
	case q.Region != "" && !e.pol.hasRegion(q.Region):
		return geo.Filter{}, 0, unknownRegion("region", q.Region)
	}
	f := geo.Filter{MinCert: uint8(q.MinCert), OnlyAvailable: q.OnlyAvailable, MaxMeters: q.MaxMeters}
	if q.Skill != "" {
		bit, ok := e.skillBit[q.Skill]
		if !ok {
			return geo.Filter{}, 0, invalid("skill", CodeUnknown, "unknown skill %q", truncate(q.Skill))
		}
		f.Skills = bit
	}
	return f, k, nil
}

// CellCounts counts indexed workers per H3 cell at resolution res, only
// available ones (on duty and free) if onlyAvailable: the live map's
// density layer.
func (e *Engine) CellCounts(res int, onlyAvailable bool) map[geo.Cell]int {
	return e.index.CountByCell(res, geo.Filter{OnlyAvailable: onlyAvailable})
}

// Snapshot is a consistent view of the engine at sequence Seq: a stream
// client loads it and then follows events after Seq.
type Snapshot struct {
	Seq         uint64       `json:"seq"`
	Incidents   []Incident   `json:"incidents"`   // not ended
	Assignments []Assignment `json:"assignments"` // of those incidents
	Workers     []Worker     `json:"workers,omitempty"`
}

// SnapshotOptions narrow a Snapshot.
type SnapshotOptions struct {
	Region  string // "" for all regions
	Workers bool   // include the region's on-duty workers (home region)
}

// Snapshot returns the active incidents, their assignments and optionally
// the on-duty workers, with the sequence number they reflect. It returns
// once everything up to Seq is durable, so a client never sees state that
// a crash could undo.
func (e *Engine) Snapshot(ctx context.Context, o SnapshotOptions) (Snapshot, error) {
	e.mu.RLock()
	s := Snapshot{Seq: e.lastSeq, Incidents: e.incidentsLocked(o.Region, true), Assignments: []Assignment{}}
	for _, inc := range s.Incidents {
		s.Assignments = append(s.Assignments, e.assignmentsLocked(e.byIncident[inc.ID])...)
	}
	if o.Workers {
		for _, w := range e.byGID {
			if w.OnDuty && (o.Region == "" || w.HomeRegion == o.Region) {
				s.Workers = append(s.Workers, workerView(w))
			}
		}
		slices.SortFunc(s.Workers, func(a, b Worker) int { return cmp.Compare(a.ID, b.ID) })
	}
	wait := e.lastWait
	e.mu.RUnlock()
	if err := wait(ctx); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return s, nil
}

// LastSeq is the sequence number of the latest committed event.
func (e *Engine) LastSeq() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.lastSeq
}
