package web

import (
	"net/http"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// handleListIncidents lists incidents in the caller's scope, oldest first:
// active ones, or all with status=all.
func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	q, err := parseQuery(r, "region", "status")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	narrow, err := q.region(p, "region")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	activeOnly := true
	switch q.str("status") {
	case "", "active":
	case "all":
		activeOnly = false
	default:
		s.fail(w, r, errField("status", "want active or all"))
		return
	}
	incs := incidentsInScope(p, eng.Incidents(narrow, activeOnly), narrow)
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

// incidentBody is an intake. It has no created_by: that comes from the
// credential, not from the client.
type incidentBody struct {
	Type            string               `json:"type"`
	Severity        dispatch.Severity    `json:"severity"`
	Position        *pointBody           `json:"position"`
	Region          string               `json:"region"`
	Needs           []dispatch.NeedInput `json:"needs"`
	NeedsSupervisor bool                 `json:"needs_supervisor"`
	Notes           string               `json:"notes"`
}

// handleCreateIncident logs an incident; the engine offers it at once.
// A region-scoped coordinator may log incidents in its regions only.
func (s *Server) handleCreateIncident(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	var body incidentBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := body.Position.check("position"); err != nil {
		s.fail(w, r, err)
		return
	}
	in := dispatch.IncidentInput{
		Type: body.Type, Severity: body.Severity, Region: body.Region, Needs: body.Needs,
		NeedsSupervisor: body.NeedsSupervisor, Notes: body.Notes, CreatedBy: actor(p),
	}
	in.Position.Lat, in.Position.Lng = *body.Position.Lat, *body.Position.Lng
	if p.Scoped() {
		region := in.Region
		if region == "" {
			pol := s.policy()
			if pl, ok := pol.Locate(in.Position); ok {
				region = pl.Region
			}
		}
		// An unknown region is the engine's 400 to give; only a known
		// one outside the scope is ours to refuse.
		if ValidRegion(region) && !p.SeesRegion(region) {
			s.fail(w, r, errForbiddenField("region", "incident in "+region+" is outside this credential's regions"))
			return
		}
	}
	start := time.Now()
	inc, err := eng.CreateIncident(r.Context(), in)
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	s.metrics.ObserveMatch(time.Since(start))
	w.Header().Set("Location", "/api/v1/incidents/"+inc.ID)
	writeJSON(w, http.StatusCreated, inc)
}

// lookupIncident finds the {id} incident and checks that p may see it.
func (s *Server) lookupIncident(r *http.Request, eng Engine, p *Principal) (dispatch.Incident, error) {
	id, err := pathID(r)
	if err != nil {
		return dispatch.Incident{}, err
	}
	inc, err := eng.Incident(id)
	if err != nil {
		return dispatch.Incident{}, s.engineError(err)
	}
	if !s.canSeeIncident(p, inc) {
		return dispatch.Incident{}, errForbiddenField("id", "this incident is outside this credential's scope")
	}
	return inc, nil
}

type incidentResponse struct {
	dispatch.Incident
	Assignments []dispatch.Assignment `json:"assignments"`
}

// handleGetIncident returns an incident with its assignments and their
// explanations (why each worker was chosen). A worker with an assignment
// on it sees the incident and its own assignments only.
func (s *Server) handleGetIncident(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	inc, err := s.lookupIncident(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	as, err := eng.IncidentAssignments(inc.ID)
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	writeJSON(w, http.StatusOK, incidentResponse{Incident: incidentForCaller(p, inc), Assignments: assignmentsForCaller(p, as)})
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func (s *Server) handleCancelIncident(w http.ResponseWriter, r *http.Request) {
	s.endIncident(w, r, func(eng Engine, r *http.Request, a dispatch.IncidentAction) error {
		return eng.CancelIncident(r.Context(), a)
	})
}

func (s *Server) handleCloseIncident(w http.ResponseWriter, r *http.Request) {
	s.endIncident(w, r, func(eng Engine, r *http.Request, a dispatch.IncidentAction) error {
		return eng.CloseIncident(r.Context(), a)
	})
}

// endIncident cancels or closes an incident in the caller's scope and
// answers with its new state.
func (s *Server) endIncident(w http.ResponseWriter, r *http.Request, end func(Engine, *http.Request, dispatch.IncidentAction) error) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	inc, err := s.lookupIncident(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body reasonBody
	if err := decodeOptionalJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := end(eng, r, dispatch.IncidentAction{IncidentID: inc.ID, By: actor(p), Reason: body.Reason}); err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	if inc, err = eng.Incident(inc.ID); err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

type assignBody struct {
	WorkerID  string `json:"worker_id"`
	NeedIndex *int   `json:"need_index"`
	Reason    string `json:"reason"`
	Force     bool   `json:"force"`
}

// handleAssign is a coordinator's override: this worker for this need.
// Breaking a hard constraint needs force and a reason (409 otherwise,
// listing the violations).
func (s *Server) handleAssign(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	inc, err := s.lookupIncident(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body assignBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if !validToken(body.WorkerID, maxIDLen) {
		s.fail(w, r, errField("worker_id", "required"))
		return
	}
	if body.NeedIndex == nil {
		s.fail(w, r, errField("need_index", "required"))
		return
	}
	a, err := eng.Assign(r.Context(), dispatch.Override{Coordinator: actor(p), IncidentID: inc.ID,
		NeedIndex: *body.NeedIndex, WorkerID: body.WorkerID, Reason: body.Reason, Force: body.Force})
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	w.Header().Set("Location", "/api/v1/assignments/"+a.ID)
	writeJSON(w, http.StatusCreated, a)
}
