package web

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// Engine is what the API needs from the dispatch engine (*dispatch.Engine
// satisfies it). Declared here, where it is used, as the writes and the
// reads the handlers call.
type Engine interface {
	EngineWrites
	EngineReads
}

// EngineWrites are the engine's changes; each returns once durable.
type EngineWrites interface {
	UpsertWorkers(ctx context.Context, in []dispatch.WorkerInput) error
	SetDuty(ctx context.Context, workerID string, on bool) error
	UpdatePosition(ctx context.Context, workerID string, p geo.Point) error
	CreateIncident(ctx context.Context, in dispatch.IncidentInput) (dispatch.Incident, error)
	CancelIncident(ctx context.Context, a dispatch.IncidentAction) error
	CloseIncident(ctx context.Context, a dispatch.IncidentAction) error
	Answer(ctx context.Context, workerID, assignmentID string, accept bool, reason string) error
	Advance(ctx context.Context, workerID, assignmentID string, to dispatch.State) error
	Assign(ctx context.Context, o dispatch.Override) (dispatch.Assignment, error)
	Unassign(ctx context.Context, coordinator, assignmentID, reason string) error
}

// EngineReads are the engine's queries; they return copies.
type EngineReads interface {
	Incident(id string) (dispatch.Incident, error)
	Incidents(region string, activeOnly bool) []dispatch.Incident
	Assignment(id string) (dispatch.Assignment, error)
	IncidentAssignments(incidentID string) ([]dispatch.Assignment, error)
	WorkerAssignments(workerID string) ([]dispatch.Assignment, error)
	Worker(id string) (dispatch.Worker, error)
	WorkersNear(p geo.Point, q dispatch.NearQuery) ([]dispatch.NearWorker, error)
	Snapshot(ctx context.Context, o dispatch.SnapshotOptions) (dispatch.Snapshot, error)
	LastSeq() uint64
	Policy() dispatch.Policy
}

// apiRoutes lists the JSON API under /api/v1 (docs/api.md).
func (s *Server) apiRoutes() []route {
	return []route{
		{"GET", "/api/v1/config", accessAny, s.handleConfig},
		{"GET", "/api/v1/policy", accessAdmin, s.handlePolicy},
		{"GET", "/api/v1/snapshot", accessStaff, s.handleSnapshot},

		{"POST", "/api/v1/workers", accessAdmin, s.handleUpsertWorkers},
		{"POST", "/api/v1/workers/import", accessAdmin, s.handleImportWorkers},
		{"GET", "/api/v1/workers/near", accessStaff, s.handleWorkersNear},
		{"GET", "/api/v1/workers/{id}", accessAny, s.handleGetWorker},
		{"GET", "/api/v1/workers/{id}/view", accessAny, s.handleWorkerView},
		{"PUT", "/api/v1/workers/{id}/duty", accessAny, s.handleSetDuty},
		{"PUT", "/api/v1/workers/{id}/position", accessAny, s.handleSetPosition},

		{"GET", "/api/v1/incidents", accessStaff, s.handleListIncidents},
		{"POST", "/api/v1/incidents", accessStaff, s.handleCreateIncident},
		{"GET", "/api/v1/incidents/{id}", accessAny, s.handleGetIncident},
		{"POST", "/api/v1/incidents/{id}/cancel", accessStaff, s.handleCancelIncident},
		{"POST", "/api/v1/incidents/{id}/close", accessStaff, s.handleCloseIncident},
		{"POST", "/api/v1/incidents/{id}/assignments", accessStaff, s.handleAssign},

		{"GET", "/api/v1/assignments", accessAny, s.handleListAssignments},
		{"GET", "/api/v1/assignments/{id}", accessAny, s.handleGetAssignment},
		{"POST", "/api/v1/assignments/{id}/answer", accessWorker, s.handleAnswer},
		{"POST", "/api/v1/assignments/{id}/status", accessAny, s.handleAdvance},
		{"POST", "/api/v1/assignments/{id}/unassign", accessStaff, s.handleUnassign},
	}
}

var errNoEngine = &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
	Message: "the dispatch engine is not running"}

// eng returns the engine or answers 503.
func (s *Server) eng(w http.ResponseWriter, r *http.Request) (Engine, bool) {
	if s.engine == nil {
		s.fail(w, r, errNoEngine)
		return nil, false
	}
	return s.engine, true
}

// policy is read once: the engine's policy is fixed for its lifetime.
func (s *Server) policy() dispatch.Policy {
	s.policyOnce.Do(func() { s.policyVal = s.engine.Policy() })
	return s.policyVal
}

type policyCache struct {
	policyOnce sync.Once
	policyVal  dispatch.Policy
}

// actor is the name recorded in the audit log for p's changes.
func actor(p *Principal) string {
	if p.Name != "" {
		return p.Name
	}
	return string(p.Role) + " " + p.TokenID
}

// Access to one resource (PRODUCT §9). Refusals are 403 with the field
// that names the resource, after the resource was found, so a caller
// cannot use them to tell existing ids from missing ones beyond its scope
// any better than the 404 already would.

func (s *Server) canSeeIncident(p *Principal, inc dispatch.Incident) bool {
	if p.Role == RoleWorker {
		as, err := s.engine.IncidentAssignments(inc.ID)
		return err == nil && slices.ContainsFunc(as, func(a dispatch.Assignment) bool { return a.WorkerID == p.WorkerID })
	}
	return p.SeesRegion(inc.Region)
}

func canSeeAssignment(p *Principal, a dispatch.Assignment) bool {
	if p.Role == RoleWorker {
		return a.WorkerID == p.WorkerID
	}
	return p.SeesRegion(a.Region)
}

// canSeeWorker: a worker itself; staff when the worker's home region is in
// scope or the worker is deployed (active assignment) in a region in scope
// — mutual aid brings Beijing workers onto the Hebei desk's incidents.
func (s *Server) canSeeWorker(p *Principal, w dispatch.Worker) bool {
	switch p.Role {
	case RoleWorker:
		return p.WorkerID == w.ID
	case RoleAdmin:
		return true
	}
	if p.SeesRegion(w.HomeRegion) {
		return true
	}
	if w.Active == "" {
		return false
	}
	a, err := s.engine.Assignment(w.Active)
	return err == nil && p.SeesRegion(a.Region)
}

// workerForCaller strips what a caller may not see of a worker record.
func workerForCaller(p *Principal, w dispatch.Worker) dispatch.Worker {
	if !p.IsStaff() && p.WorkerID != w.ID {
		w.Phone, w.Position, w.PositionAt = "", nil, time.Time{}
	}
	return w
}

// assignmentForCaller leaves out, for workers, what is about others: the
// runners-up (their costs hint at where they are) and the coordinator's
// override reasoning.
func assignmentForCaller(p *Principal, a dispatch.Assignment) dispatch.Assignment {
	if p.Role == RoleWorker {
		a.Explanation.RunnersUp = nil
		a.Explanation.Violations = nil
		a.Reason = ""
	}
	return a
}

// incidentForCaller leaves out, for workers, which other workers were
// tried for each slot.
func incidentForCaller(p *Principal, inc dispatch.Incident) dispatch.Incident {
	if p.Role == RoleWorker {
		slots := make([]dispatch.Slot, len(inc.Slots))
		for i, sl := range inc.Slots {
			sl.Tried = nil
			slots[i] = sl
		}
		inc.Slots = slots
	}
	return inc
}

func assignmentsForCaller(p *Principal, as []dispatch.Assignment) []dispatch.Assignment {
	out := make([]dispatch.Assignment, 0, len(as))
	for _, a := range as {
		if canSeeAssignment(p, a) {
			out = append(out, assignmentForCaller(p, a))
		}
	}
	return out
}

// applyWorkerMessage applies a worker's stream message through the engine.
func (s *Server) applyWorkerMessage(ctx context.Context, p *Principal, m clientMsg) (any, error) {
	if s.engine == nil {
		return nil, errNoEngine
	}
	switch m.Type {
	case msgPosition:
		return nil, s.engine.UpdatePosition(ctx, p.WorkerID, geo.Point{Lat: m.Lat, Lng: m.Lng})
	case msgDuty:
		return nil, s.engine.SetDuty(ctx, p.WorkerID, m.OnDuty)
	case msgAnswer:
		return nil, s.engine.Answer(ctx, p.WorkerID, m.AssignmentID, m.Accept, m.Reason)
	case msgStatus:
		return nil, s.engine.Advance(ctx, p.WorkerID, m.AssignmentID, dispatch.State(m.Status))
	}
	return nil, errField("type", "unknown message type")
}
