package web

import (
	"net/http"

	"github.com/jjj-social-work/dispatch/dispatch"
)

type regionInfo struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type configResponse struct {
	Skills        []string     `json:"skills"`
	Regions       []regionInfo `json:"regions"`
	IncidentTypes []string     `json:"incident_types"`
	Severities    []string     `json:"severities"`
	Certs         []string     `json:"certs"`
	States        []string     `json:"states"`
}

// handleConfig tells any signed-in client the vocabularies it needs for
// its forms: skills, regions, incident types, severities, certifications.
func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.eng(w, r); !ok {
		return
	}
	pol := s.policy()
	out := configResponse{
		Skills: pol.Skills, IncidentTypes: dispatch.IncidentTypes(),
		Severities: []string{"I", "II", "III", "IV"},
		Certs:      []string{"none", "assistant", "intermediate", "senior"},
	}
	for _, rd := range pol.Regions {
		out.Regions = append(out.Regions, regionInfo{Code: rd.Code, Name: rd.Name})
	}
	for _, st := range dispatch.States() {
		out.States = append(out.States, string(st))
	}
	writeJSON(w, http.StatusOK, out)
}

// handlePolicy shows administrators the policy in force.
func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.eng(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.policy())
}

type snapshotResponse struct {
	LastSeq     uint64                `json:"last_seq"`
	Incidents   []dispatch.Incident   `json:"incidents"`
	Assignments []dispatch.Assignment `json:"assignments"`
	Workers     []dispatch.Worker     `json:"workers"`
	Skills      []string              `json:"skills"`
}

// handleSnapshot is a coordinator's whole picture at one sequence: active
// incidents, their assignments and on-duty workers, in the caller's scope.
// A stream client loads it and applies events with seq > last_seq.
func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	q, err := parseQuery(r, "region", "workers")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	narrow, err := q.region(p, "region")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	withWorkers, err := q.boolean("workers", true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// One snapshot of everything, filtered here: one consistent sequence
	// even for a coordinator scoped to two regions.
	snap, err := eng.Snapshot(r.Context(), dispatch.SnapshotOptions{Workers: withWorkers})
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	out := snapshotResponse{LastSeq: snap.Seq, Incidents: incidentsInScope(p, snap.Incidents, narrow),
		Assignments: []dispatch.Assignment{}, Workers: []dispatch.Worker{}, Skills: s.policy().Skills}
	for _, a := range snap.Assignments {
		if inScope(p, a.Region, narrow) {
			out.Assignments = append(out.Assignments, a)
		}
	}
	for _, wk := range snap.Workers {
		if inScope(p, wk.HomeRegion, narrow) || (narrow == "" && s.canSeeWorker(p, wk)) {
			out.Workers = append(out.Workers, wk)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
