package web

import (
	"net/http"
	"slices"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

type upsertWorkersBody struct {
	Workers []dispatch.WorkerInput `json:"workers"`
}

type countResponse struct {
	Count   int    `json:"count"`
	LastSeq uint64 `json:"last_seq"`
}

// handleUpsertWorkers loads roster entries as JSON, all or nothing.
func (s *Server) handleUpsertWorkers(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	var body upsertWorkersBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(body.Workers) == 0 {
		s.fail(w, r, errField("workers", "required: at least one worker"))
		return
	}
	if err := eng.UpsertWorkers(r.Context(), body.Workers); err != nil {
		s.fail(w, r, engineErrorAt(err, "workers", nil))
		return
	}
	writeJSON(w, http.StatusOK, countResponse{Count: len(body.Workers), LastSeq: eng.LastSeq()})
}

// handleImportWorkers loads a roster CSV, all or nothing; errors name the
// line and the column.
func (s *Server) handleImportWorkers(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	if err := requireContentType(r, "text/csv"); err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := readBody(w, r, maxCSVBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	workers, lines, err := parseRosterCSV(b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := eng.UpsertWorkers(r.Context(), workers); err != nil {
		s.fail(w, r, engineErrorAt(err, "", lines))
		return
	}
	writeJSON(w, http.StatusOK, countResponse{Count: len(workers), LastSeq: eng.LastSeq()})
}

type nearResponse struct {
	Workers []dispatch.NearWorker `json:"workers"`
}

// handleWorkersNear lists the workers nearest a point, nearest first.
func (s *Server) handleWorkersNear(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	nq, pt, err := s.nearQuery(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	near, err := eng.WorkersNear(pt, nq)
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	out := nearResponse{Workers: []dispatch.NearWorker{}}
	for _, nw := range near {
		if s.canSeeWorker(p, nw.Worker) {
			out.Workers = append(out.Workers, nw)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) nearQuery(r *http.Request, p *Principal) (dispatch.NearQuery, geo.Point, error) {
	var nq dispatch.NearQuery
	q, err := parseQuery(r, "lat", "lng", "k", "skill", "min_cert", "available", "max_km", "region")
	if err != nil {
		return nq, geo.Point{}, err
	}
	lat, err := q.float("lat", true)
	if err != nil {
		return nq, geo.Point{}, err
	}
	lng, err := q.float("lng", true)
	if err != nil {
		return nq, geo.Point{}, err
	}
	if err := checkLatLng("lat", "lng", lat, lng); err != nil {
		return nq, geo.Point{}, err
	}
	if nq.K, err = q.integer("k", 10, 1, 1000); err != nil {
		return nq, geo.Point{}, err
	}
	nq.Skill = q.str("skill")
	if q.has("min_cert") {
		if nq.MinCert, err = dispatch.ParseCert(q.str("min_cert")); err != nil {
			return nq, geo.Point{}, errField("min_cert", "want none, assistant, intermediate or senior")
		}
	}
	if nq.OnlyAvailable, err = q.boolean("available", false); err != nil {
		return nq, geo.Point{}, err
	}
	km, err := q.float("max_km", false)
	if err != nil {
		return nq, geo.Point{}, err
	}
	if km != nil {
		if !(*km > 0 && *km <= 5000) {
			return nq, geo.Point{}, errField("max_km", "want a distance from 0 to 5000 km")
		}
		nq.MaxMeters = *km * 1000
	}
	if nq.Region, err = q.region(p, "region"); err != nil {
		return nq, geo.Point{}, err
	}
	if nq.Region == "" && p.Scoped() && len(p.Regions) == 1 {
		nq.Region = p.Regions[0]
	}
	return nq, geo.Point{Lat: *lat, Lng: *lng}, nil
}

// lookupWorker finds the {id} worker and checks that p may see it.
func (s *Server) lookupWorker(r *http.Request, eng Engine, p *Principal) (dispatch.Worker, error) {
	id, err := pathID(r)
	if err != nil {
		return dispatch.Worker{}, err
	}
	// A worker asking about someone else is refused before the lookup:
	// whether that id exists is none of its business.
	if p.Role == RoleWorker && id != p.WorkerID {
		return dispatch.Worker{}, errForbiddenField("id", "a worker credential sees its own worker only")
	}
	wk, err := eng.Worker(id)
	if err != nil {
		return dispatch.Worker{}, s.engineError(err)
	}
	if !s.canSeeWorker(p, wk) {
		return dispatch.Worker{}, errForbiddenField("id", "this worker is outside this credential's regions")
	}
	return wk, nil
}

// handleGetWorker returns one worker. Phone and position only for staff
// and for the worker itself.
func (s *Server) handleGetWorker(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	wk, err := s.lookupWorker(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, workerForCaller(p, wk))
}

type workerViewResponse struct {
	LastSeq     uint64                `json:"last_seq"`
	Workers     []dispatch.Worker     `json:"workers"`
	Assignments []dispatch.Assignment `json:"assignments"`
	Incidents   []dispatch.Incident   `json:"incidents"`
}

// handleWorkerView is a worker's own picture (the phone page's snapshot):
// itself, its assignments and their incidents. last_seq is read first, so
// applying events after it never misses a change.
func (s *Server) handleWorkerView(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	seq := eng.LastSeq()
	wk, err := s.lookupWorker(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	as, err := eng.WorkerAssignments(wk.ID)
	if err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	out := workerViewResponse{LastSeq: seq, Workers: []dispatch.Worker{workerForCaller(p, wk)},
		Assignments: make([]dispatch.Assignment, 0, len(as)), Incidents: []dispatch.Incident{}}
	var seen []string
	for _, a := range as {
		out.Assignments = append(out.Assignments, assignmentForCaller(p, a))
		if slices.Contains(seen, a.IncidentID) {
			continue
		}
		seen = append(seen, a.IncidentID)
		if inc, err := eng.Incident(a.IncidentID); err == nil {
			out.Incidents = append(out.Incidents, incidentForCaller(p, inc))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type dutyBody struct {
	OnDuty *bool `json:"on_duty"`
}

// handleSetDuty puts a worker on or off duty: the worker itself, or staff
// whose scope covers it.
func (s *Server) handleSetDuty(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	wk, err := s.lookupWorker(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body dutyBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.OnDuty == nil {
		s.fail(w, r, errField("on_duty", "required: true or false"))
		return
	}
	if err := eng.SetDuty(r.Context(), wk.ID, *body.OnDuty); err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type positionBody struct {
	Lat       *float64 `json:"lat"`
	Lng       *float64 `json:"lng"`
	AccuracyM *float64 `json:"accuracy_m"`
}

// handleSetPosition records a worker's position: the worker itself, or
// staff (a position phoned in).
func (s *Server) handleSetPosition(w http.ResponseWriter, r *http.Request) {
	eng, ok := s.eng(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	wk, err := s.lookupWorker(r, eng, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body positionBody
	if err := decodeJSONBody(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkLatLng("lat", "lng", body.Lat, body.Lng); err != nil {
		s.fail(w, r, err)
		return
	}
	if a := body.AccuracyM; a != nil && !(*a >= 0 && *a <= maxAccuracyM) {
		s.fail(w, r, errField("accuracy_m", "want 0 to %d metres", maxAccuracyM))
		return
	}
	if err := eng.UpdatePosition(r.Context(), wk.ID, geo.Point{Lat: *body.Lat, Lng: *body.Lng}); err != nil {
		s.fail(w, r, s.engineError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
