package web

import (
	"net/http"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// handleListAssignments lists assignments: a worker's own; for staff, a
// worker's (worker=ID) or an incident's (incident=ID), or else every
// assignment of the active incidents in scope.
func (s *Server) handleListAssignments(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	q, err := parseQuery(r, "worker", "incident")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	workerID, incidentID := q.str("worker"), q.str("incident")
	if p.Role == RoleWorker {
		if workerID != "" && workerID != p.WorkerID {
			s.fail(w, r, errForbiddenField("worker", "a worker credential sees its own assignments only"))
			return
		}
		workerID = p.WorkerID
	}
	var as []dispatch.Assignment
	switch {
	case workerID != "" && incidentID != "":
		s.fail(w, r, errField("incident", "give worker or incident, not both"))
		return
	case workerID != "":
		var wk dispatch.Worker
		if wk, err = eng.Worker(workerID); err == nil {
			if !s.canSeeWorker(p, wk) {
				s.fail(w, r, errForbiddenField("worker", "this worker is outside this credential's regions"))
				return
			}
			as, err = eng.WorkerAssignments(workerID)
		}
	case incidentID != "":
		var inc dispatch.Incident
		if inc, err = eng.Incident(incidentID); err == nil {
			if !s.canSeeIncident(p, inc) {
				s.fail(w, r, errForbiddenField("incident", "this incident is outside this credential's scope"))
				return
			}
			as, err = eng.IncidentAssignments(incidentID)
		}
	default:
		var snap dispatch.Snapshot
		snap, err = eng.Snapshot(r.Context(), dispatch.SnapshotOptions{})
		as = snap.Assignments
	}
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"assignments": assignmentsForCaller(p, as)})
}

// lookupAssignment finds the {id} assignment and checks that p may see
// it: its worker, or staff whose scope covers the incident's region.
func (s *Server) lookupAssignment(r *http.Request, eng Engine, p *Principal) (dispatch.Assignment, error) {
	id, err := pathID(r)
	if err != nil {
		return dispatch.Assignment{}, err
	}
	a, err := eng.Assignment(id)
	if err != nil {
		return dispatch.Assignment{}, s.engineError(err)
	}
	if !canSeeAssignment(p, a) {
		return dispatch.Assignment{}, errForbiddenField("id", "this assignment is not this credential's to see")
	}
	return a, nil
}

// handleGetAssignment returns one assignment with its explanation.
func (s *Server) handleGetAssignment(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	a, err := s.lookupAssignment(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, assignmentForCaller(p, a))
}

type answerBody struct {
	Accept *bool  `json:"accept"`
	Reason string `json:"reason"`
}

// handleAnswer is a worker's accept or decline of its own offer.
func (s *Server) handleAnswer(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	a, err := s.lookupAssignment(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body answerBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Accept == nil {
		s.fail(w, r, errField("accept", "required: true or false"))
		return
	}
	if err := eng.Answer(r.Context(), p.WorkerID, a.ID, *body.Accept, body.Reason); err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	s.writeAssignment(w, r, eng, p, a.ID)
}

type statusBody struct {
	Status string `json:"status"`
}

// handleAdvance reports progress: en_route, on_scene, completed. The
// worker itself, or staff in scope on its behalf.
func (s *Server) handleAdvance(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	a, err := s.lookupAssignment(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body statusBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Status == "" {
		s.fail(w, r, errField("status", "required: en_route, on_scene or completed"))
		return
	}
	if err := eng.Advance(r.Context(), a.WorkerID, a.ID, dispatch.State(body.Status)); err != nil {
		ae := s.engineError(err)
		if ae.Field == "state" { // the engine's name for what this API calls status
			ae.Field = "status"
		}
		s.fail(w, r, ae)
		return
	}
	s.writeAssignment(w, r, eng, p, a.ID)
}

// handleUnassign cancels an active assignment by hand.
func (s *Server) handleUnassign(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	a, err := s.lookupAssignment(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body reasonBody
	if err := decodeOptionalJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := eng.Unassign(r.Context(), actor(p), a.ID, body.Reason); err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	s.writeAssignment(w, r, eng, p, a.ID)
}

func (s *Server) writeAssignment(w http.ResponseWriter, r *http.Request, eng Engine, p *Principal, id string) {
	a, err := eng.Assignment(id)
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	writeJSON(w, http.StatusOK, assignmentForCaller(p, a))
}
