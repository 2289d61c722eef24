package uitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/jjj-social-work/dispatch/web/ui"
)

// fakeServer stands in for the dispatch server's API while its routes are
// being written: the same wire protocol the pages speak (snapshot, ticket,
// event stream with resume, worker messages with acks), a nearest-worker
// matcher, and state persisted to a file so a restart loses nothing. The
// pages themselves come from the real embedded ui.Handler.
type fakeServer struct {
	dir  string
	addr string
	srv  *http.Server
	ln   net.Listener

	mu          sync.Mutex
	st          fakeState
	subs        map[*fakeSub]struct{}
	tickets     map[string]fakePrincipal
	acks        map[string]json.RawMessage
	nextTicket  int
	offerWindow time.Duration
}

type fakeState struct {
	Seq         uint64                     `json:"seq"`
	Events      []fakeEvent                `json:"events"`
	Workers     map[string]*fakeWorker     `json:"workers"`
	Incidents   map[string]*fakeIncident   `json:"incidents"`
	Assignments map[string]*fakeAssignment `json:"assignments"`
}

type fakeEvent struct {
	Seq          uint64          `json:"seq"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`
	Region       string          `json:"region,omitempty"`
	WorkerID     string          `json:"worker_id,omitempty"`
	IncidentID   string          `json:"incident_id,omitempty"`
	AssignmentID string          `json:"assignment_id,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
}

type fakeWorker struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	HomeRegion    string   `json:"home_region"`
	Certification string   `json:"cert"`
	Skills        []string `json:"skills"`
	Supervisor    bool     `json:"supervisor"`
	OnDuty        bool     `json:"on_duty"`
	Position      *point   `json:"position,omitempty"`
}

type point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

type fakeSlot struct {
	Need       int    `json:"need"`
	Assignment string `json:"assignment,omitempty"`
	Unfilled   bool   `json:"unfilled,omitempty"`
}

type fakeNeed struct {
	Skill   string `json:"skill"`
	Count   int    `json:"count"`
	MinCert string `json:"min_cert"`
}

type fakeIncident struct {
	ID               string     `json:"id"`
	Type             string     `json:"type"`
	Severity         string     `json:"severity"`
	Position         point      `json:"position"`
	Region           string     `json:"region"`
	Needs            []fakeNeed `json:"needs"`
	SupervisorNeeded bool       `json:"needs_supervisor"`
	Notes            string     `json:"notes"`
	Status           string     `json:"status"`
	Slots            []fakeSlot `json:"slots"`
	CreatedAt        time.Time  `json:"created_at"`
}

type fakeCost struct {
	DistanceM        float64 `json:"distance_m"`
	TravelS          float64 `json:"travel_s"`
	SeverityWeight   float64 `json:"severity_weight"`
	RegionPenaltyS   float64 `json:"region_penalty_s"`
	WorkloadPenaltyS float64 `json:"workload_penalty_s"`
	TotalS           float64 `json:"total_s"`
	Local            bool    `json:"local"`
}

type fakeRunner struct {
	WorkerID string   `json:"worker_id"`
	Cost     fakeCost `json:"cost"`
}

type fakeExplanation struct {
	Mode      string       `json:"mode"`
	Cost      fakeCost     `json:"cost"`
	RunnersUp []fakeRunner `json:"runners_up,omitempty"`
}

type fakeAssignment struct {
	ID          string           `json:"id"`
	IncidentID  string           `json:"incident_id"`
	WorkerID    string           `json:"worker_id"`
	NeedIndex   int              `json:"need"`
	Slot        int              `json:"slot"`
	State       string           `json:"state"`
	OfferedAt   time.Time        `json:"offered_at"`
	ExpiresAt   time.Time        `json:"expires_at"`
	ChosenBy    string           `json:"chosen_by"`
	Reason      string           `json:"reason,omitempty"`
	EndReason   string           `json:"end_reason,omitempty"`
	Explanation *fakeExplanation `json:"explanation,omitempty"`
}

type fakePrincipal struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	WorkerID string `json:"worker_id,omitempty"`
}

var fakeTokens = map[string]fakePrincipal{
	"coord-token": {Name: "联合调度台", Role: "coordinator"},
	"w1-token":    {Name: "李娜", Role: "worker", WorkerID: "w1"},
	"w2-token":    {Name: "王强", Role: "worker", WorkerID: "w2"},
}

var certRank = map[string]int{"none": 0, "assistant": 1, "intermediate": 2, "senior": 3}

// startFakeServer serves on addr ("127.0.0.1:0" for a free port) with the
// state kept in dir.
func startFakeServer(t *testing.T, dir, addr string) *fakeServer {
	t.Helper()
	f := &fakeServer{dir: dir, subs: map[*fakeSub]struct{}{}, tickets: map[string]fakePrincipal{},
		acks: map[string]json.RawMessage{}, offerWindow: 90 * time.Second}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
		if err := json.Unmarshal(b, &f.st); err != nil {
			t.Fatalf("fake server: load state: %v", err)
		}
	} else {
		f.st = fakeState{Workers: seedWorkers(), Incidents: map[string]*fakeIncident{}, Assignments: map[string]*fakeAssignment{}}
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("fake server: listen %s: %v", addr, err)
	}
	f.ln = ln
	f.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/me", f.auth(func(w http.ResponseWriter, r *http.Request, p fakePrincipal) { writeJSON(w, 200, p) }))
	mux.HandleFunc("POST /api/v1/ws-ticket", f.auth(f.ticket))
	mux.HandleFunc("GET /api/v1/snapshot", f.auth(f.snapshot))
	mux.HandleFunc("GET /api/v1/workers/{id}/view", f.auth(f.workerView))
	mux.HandleFunc("POST /api/v1/incidents", f.auth(f.createIncident))
	mux.HandleFunc("POST /api/v1/incidents/{id}/assignments", f.auth(f.assign))
	mux.HandleFunc("POST /api/v1/assignments/{id}/unassign", f.auth(f.unassign))
	mux.HandleFunc("GET /api/v1/stream", f.stream)
	mux.Handle("/", ui.Handler())
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go f.srv.Serve(ln)
	t.Cleanup(f.stop)
	return f
}

func (f *fakeServer) url() string { return "http://" + f.addr }

// stop closes the listener and every stream, as a crashing server would.
func (f *fakeServer) stop() {
	f.mu.Lock()
	for s := range f.subs {
		s.conn.Close()
	}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

func seedWorkers() map[string]*fakeWorker {
	m := map[string]*fakeWorker{
		"w1": {ID: "w1", Name: "李娜", HomeRegion: "HE", Certification: "intermediate", Skills: []string{"crisis_intervention", "elderly_care"}},
		"w2": {ID: "w2", Name: "王强", HomeRegion: "BJ", Certification: "assistant", Skills: []string{"crisis_intervention", "child_protection"}},
	}
	// A background of on-duty workers around the reference places so the
	// hexagon layer has something to show; they are far from the test
	// incidents' area or lack its skill, so they never win an offer.
	places := [][2]float64{{39.904, 116.407}, {39.912, 116.366}, {39.910, 116.657}, {39.343, 117.362}, {39.384, 117.044},
		{38.938, 117.357}, {38.043, 114.515}, {38.883, 115.500}, {39.631, 118.180}, {40.767, 114.886}, {40.951, 117.963}, {38.304, 116.839}}
	regions := []string{"BJ", "BJ", "BJ", "TJ", "TJ", "TJ", "HE", "HE", "HE", "HE", "HE", "HE"}
	n := 0
	for i, p := range places {
		for k := 0; k < 3+i%4*3; k++ {
			n++
			pos := &point{Lat: p[0] + 0.05*math.Sin(float64(n)*1.7), Lng: p[1] + 0.06*math.Cos(float64(n)*2.3)}
			id := fmt.Sprintf("b%03d", n)
			m[id] = &fakeWorker{ID: id, Name: fmt.Sprintf("社工%03d", n), HomeRegion: regions[i], Certification: "assistant",
				Skills: []string{"elderly_care", "community_mobilisation"}, OnDuty: true, Position: pos}
		}
	}
	return m
}

func (f *fakeServer) principal(r *http.Request) (fakePrincipal, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return fakePrincipal{}, false
	}
	p, ok := fakeTokens[tok]
	return p, ok
}

func (f *fakeServer) auth(h func(http.ResponseWriter, *http.Request, fakePrincipal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := f.principal(r)
		if !ok {
			writeErr(w, 401, "unauthenticated", "", "a valid bearer token is required")
			return
		}
		h(w, r, p)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "field": field, "message": msg}})
}

func (f *fakeServer) ticket(w http.ResponseWriter, _ *http.Request, p fakePrincipal) {
	f.mu.Lock()
	f.nextTicket++
	tk := "t" + strconv.Itoa(f.nextTicket) + strconv.FormatInt(time.Now().UnixNano(), 36)
	f.tickets[tk] = p
	f.mu.Unlock()
	writeJSON(w, 201, map[string]any{"ticket": tk, "expires": time.Now().Add(30 * time.Second)})
}

func (f *fakeServer) snapshot(w http.ResponseWriter, _ *http.Request, p fakePrincipal) {
	if p.Role == "worker" {
		writeErr(w, 403, "forbidden", "", "coordinators only")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"last_seq": f.st.Seq, "workers": values(f.st.Workers),
		"incidents": values(f.st.Incidents), "assignments": values(f.st.Assignments)})
}

func (f *fakeServer) workerView(w http.ResponseWriter, r *http.Request, p fakePrincipal) {
	id := r.PathValue("id")
	if p.Role == "worker" && p.WorkerID != id {
		writeErr(w, 403, "forbidden", "", "own data only")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	as := []*fakeAssignment{}
	incs := []*fakeIncident{}
	for _, a := range f.st.Assignments {
		if a.WorkerID == id {
			as = append(as, a)
			incs = append(incs, f.st.Incidents[a.IncidentID])
		}
	}
	writeJSON(w, 200, map[string]any{"last_seq": f.st.Seq, "workers": []*fakeWorker{f.st.Workers[id]}, "assignments": as, "incidents": incs})
}

func values[T any](m map[string]*T) []*T {
	out := make([]*T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (f *fakeServer) createIncident(w http.ResponseWriter, r *http.Request, p fakePrincipal) {
	var in struct {
		Type             string     `json:"type"`
		Severity         string     `json:"severity"`
		Position         *point     `json:"position"`
		Needs            []fakeNeed `json:"needs"`
		SupervisorNeeded bool       `json:"needs_supervisor"`
		Notes            string     `json:"notes"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeErr(w, 400, "bad_json", "", err.Error())
		return
	}
	if in.Position == nil {
		writeErr(w, 400, "invalid_field", "position", "required")
		return
	}
	if len(in.Needs) == 0 {
		writeErr(w, 400, "invalid_field", "needs", "at least one need")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	inc := &fakeIncident{ID: fmt.Sprintf("inc-%d", len(f.st.Incidents)+1), Type: in.Type, Severity: in.Severity,
		Position: *in.Position, Region: regionOf(in.Position.Lat, in.Position.Lng), Needs: in.Needs,
		SupervisorNeeded: in.SupervisorNeeded, Notes: in.Notes, Status: "open", CreatedAt: time.Now().UTC()}
	for i, n := range inc.Needs {
		for k := 0; k < n.Count; k++ {
			inc.Slots = append(inc.Slots, fakeSlot{Need: i})
		}
	}
	f.st.Incidents[inc.ID] = inc
	f.emit("incident.created", inc.Region, "", inc.ID, "", inc)
	for i := range inc.Slots {
		f.offerLocked(inc, i)
	}
	f.save()
	writeJSON(w, 201, inc)
}

// regionOf is a crude box test; the real server uses region boundaries.
func regionOf(lat, lng float64) string {
	switch {
	case lat > 39.55 && lng > 115.7 && lng < 117.5 && lat < 41.1:
		return "BJ"
	case lat > 38.55 && lat < 40.25 && lng > 116.7 && lng < 118.1:
		return "TJ"
	}
	return "HE"
}

func (f *fakeServer) offerLocked(inc *fakeIncident, slot int) {
	need := inc.Slots[slot].Need
	n := inc.Needs[need]
	type cand struct {
		w    *fakeWorker
		cost float64
	}
	var cs []cand
	for _, wk := range f.st.Workers {
		if !wk.OnDuty || wk.Position == nil || f.busyLocked(wk.ID) || !slices.Contains(wk.Skills, n.Skill) ||
			certRank[wk.Certification] < certRank[n.MinCert] || f.triedLocked(inc.ID, slot, wk.ID) {
			continue
		}
		cs = append(cs, cand{wk, costOf(wk, inc).TotalS})
	}
	slices.SortFunc(cs, func(a, b cand) int { return int(math.Copysign(1, a.cost-b.cost)) })
	if len(cs) == 0 {
		if !inc.Slots[slot].Unfilled {
			inc.Slots[slot].Unfilled = true
			f.emit("need.unfilled", inc.Region, "", inc.ID, "", map[string]any{"need": need, "slot": slot, "skill": n.Skill, "misses": 0, "reason": "no_candidate"})
		}
		return
	}
	best := cs[0]
	var runners []fakeRunner
	for _, c := range cs[1:min(len(cs), 4)] {
		runners = append(runners, fakeRunner{WorkerID: c.w.ID, Cost: costOf(c.w, inc)})
	}
	now := time.Now().UTC()
	a := &fakeAssignment{ID: fmt.Sprintf("a-%d", len(f.st.Assignments)+1), IncidentID: inc.ID, WorkerID: best.w.ID,
		NeedIndex: need, Slot: slot, State: "offered", OfferedAt: now, ExpiresAt: now.Add(f.offerWindow), ChosenBy: "matcher",
		Explanation: &fakeExplanation{Mode: "single", Cost: costOf(best.w, inc), RunnersUp: runners}}
	f.st.Assignments[a.ID] = a
	inc.Slots[slot].Assignment = a.ID
	ev := *a
	ev.Explanation = &fakeExplanation{Mode: "single", Cost: a.Explanation.Cost} // events leave runners-up out
	f.emit("assignment.offered", inc.Region, a.WorkerID, inc.ID, a.ID, ev)
}

func (f *fakeServer) busyLocked(workerID string) bool {
	for _, a := range f.st.Assignments {
		if a.WorkerID == workerID && slices.Contains([]string{"offered", "accepted", "en_route", "on_scene"}, a.State) {
			return true
		}
	}
	return false
}

// costOf mirrors the engine's terms: travel at 40 km/h over a 1.3 road
// factor, a 10-minute penalty for leaving the home region.
func costOf(w *fakeWorker, inc *fakeIncident) fakeCost {
	m := haversineKm(w.Position.Lat, w.Position.Lng, inc.Position.Lat, inc.Position.Lng) * 1000
	c := fakeCost{DistanceM: m, TravelS: m * 1.3 / (40 / 3.6), SeverityWeight: 1, Local: w.HomeRegion == inc.Region}
	if !c.Local {
		c.RegionPenaltyS = 600
	}
	c.TotalS = c.TravelS*c.SeverityWeight + c.RegionPenaltyS
	return c
}

func (f *fakeServer) triedLocked(incID string, slot int, workerID string) bool {
	for _, a := range f.st.Assignments {
		if a.IncidentID == incID && a.Slot == slot && a.WorkerID == workerID {
			return true
		}
	}
	return false
}

func (f *fakeServer) assign(w http.ResponseWriter, r *http.Request, p fakePrincipal) {
	var in struct {
		WorkerID  string `json:"worker_id"`
		NeedIndex int    `json:"need_index"`
		Reason    string `json:"reason"`
		Override  bool   `json:"override"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, 400, "bad_json", "", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	inc, wk := f.st.Incidents[r.PathValue("id")], f.st.Workers[in.WorkerID]
	if inc == nil || wk == nil {
		writeErr(w, 404, "not_found", "worker_id", "no such incident or worker")
		return
	}
	now := time.Now().UTC()
	a := &fakeAssignment{ID: fmt.Sprintf("a-%d", len(f.st.Assignments)+1), IncidentID: inc.ID, WorkerID: wk.ID, NeedIndex: in.NeedIndex,
		State: "offered", OfferedAt: now, ExpiresAt: now.Add(f.offerWindow), ChosenBy: p.Name, Reason: in.Reason}
	f.st.Assignments[a.ID] = a
	f.emit("assignment.offered", inc.Region, a.WorkerID, inc.ID, a.ID, a)
	f.save()
	writeJSON(w, 201, a)
}

func (f *fakeServer) unassign(w http.ResponseWriter, r *http.Request, p fakePrincipal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.st.Assignments[r.PathValue("id")]
	if a == nil {
		writeErr(w, 404, "not_found", "", "no such assignment")
		return
	}
	a.State = "cancelled"
	f.emit("assignment.cancelled", f.st.Incidents[a.IncidentID].Region, a.WorkerID, a.IncidentID, a.ID, a)
	f.save()
	writeJSON(w, 200, a)
}

// emit appends an event and hands it to every stream that wants it.
func (f *fakeServer) emit(typ, region, worker, incident, assignment string, data any) {
	b, _ := json.Marshal(data)
	f.st.Seq++
	ev := fakeEvent{Seq: f.st.Seq, Time: time.Now().UTC(), Type: typ, Region: region, WorkerID: worker,
		IncidentID: incident, AssignmentID: assignment, Data: b}
	f.st.Events = append(f.st.Events, ev)
	for s := range f.subs {
		if s.wants(ev) {
			select {
			case s.out <- mustFrame(map[string]any{"type": "event", "event": ev}):
			default:
				s.conn.Close() // slow: it will resume
			}
		}
	}
}

func (f *fakeServer) save() {
	b, _ := json.Marshal(f.st)
	_ = os.WriteFile(filepath.Join(f.dir, "state.json"), b, 0o644)
}

func mustFrame(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

type fakeSub struct {
	p    fakePrincipal
	conn *websocket.Conn
	out  chan []byte
}

func (s *fakeSub) wants(ev fakeEvent) bool {
	return s.p.Role != "worker" || ev.WorkerID == s.p.WorkerID
}

var upgrader = websocket.Upgrader{}

func (f *fakeServer) stream(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	p, ok := f.tickets[r.URL.Query().Get("ticket")]
	delete(f.tickets, r.URL.Query().Get("ticket"))
	f.mu.Unlock()
	if !ok {
		writeErr(w, 401, "unauthenticated", "", "ticket")
		return
	}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s := &fakeSub{p: p, conn: conn, out: make(chan []byte, 1024)}
	f.mu.Lock()
	for _, ev := range f.st.Events {
		if ev.Seq > after && s.wants(ev) {
			s.out <- mustFrame(map[string]any{"type": "event", "event": ev})
		}
	}
	s.out <- mustFrame(map[string]any{"type": "live", "seq": f.st.Seq})
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	go func() {
		for b := range s.out {
			if conn.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
		}
	}()
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
		conn.Close()
	}()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if reply := f.workerMessage(p, data); reply != nil {
			select {
			case s.out <- reply:
			default:
			}
		}
	}
}

func (f *fakeServer) workerMessage(p fakePrincipal, data []byte) []byte {
	var m struct {
		Type         string   `json:"type"`
		ID           string   `json:"id"`
		Lat          *float64 `json:"lat"`
		Lng          *float64 `json:"lng"`
		AccuracyM    float64  `json:"accuracy_m"`
		OnDuty       *bool    `json:"on_duty"`
		AssignmentID string   `json:"assignment_id"`
		Accept       *bool    `json:"accept"`
		Reason       string   `json:"reason"`
		Status       string   `json:"status"`
	}
	if err := json.Unmarshal(data, &m); err != nil || p.Role != "worker" {
		return mustFrame(map[string]any{"type": "error", "error": map[string]string{"code": "bad_message", "message": "bad"}})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := p.WorkerID + "/" + m.ID
	if prev, ok := f.acks[key]; ok {
		return prev
	}
	err := f.applyLocked(p.WorkerID, m.Type, m.Lat, m.Lng, m.OnDuty, m.AssignmentID, m.Accept, m.Status, m.Reason)
	var reply []byte
	if err != nil {
		reply = mustFrame(map[string]any{"type": "error", "id": m.ID, "error": map[string]string{"code": "conflict", "message": err.Error()}})
	} else {
		reply = mustFrame(map[string]any{"type": "ack", "id": m.ID})
	}
	f.acks[key] = reply
	f.save()
	return reply
}

func (f *fakeServer) applyLocked(workerID, typ string, lat, lng *float64, onDuty *bool, aid string, accept *bool, status, reason string) error {
	wk := f.st.Workers[workerID]
	switch typ {
	case "duty":
		wk.OnDuty = *onDuty
		f.emit("worker.duty", wk.HomeRegion, wk.ID, "", "", map[string]any{"on_duty": wk.OnDuty})
	case "position":
		wk.Position = &point{Lat: *lat, Lng: *lng}
		f.emit("worker.position", wk.HomeRegion, wk.ID, "", "", map[string]any{"position": wk.Position})
	case "answer", "status":
		a := f.st.Assignments[aid]
		if a == nil || a.WorkerID != workerID {
			return errors.New("no such assignment")
		}
		next := status
		if typ == "answer" {
			next = "declined"
			if *accept {
				next = "accepted"
			}
		}
		a.State = next
		if next == "declined" {
			a.EndReason = reason
		}
		inc := f.st.Incidents[a.IncidentID]
		f.emit("assignment."+next, inc.Region, a.WorkerID, a.IncidentID, a.ID, a)
		if next == "declined" {
			f.offerLocked(inc, a.Slot)
		}
	}
	return nil
}

func haversineKm(lat1, lng1, lat2, lng2 float64) float64 {
	r := math.Pi / 180
	s := math.Pow(math.Sin((lat2-lat1)*r/2), 2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Pow(math.Sin((lng2-lng1)*r/2), 2)
	return 2 * 6371 * math.Asin(math.Min(1, math.Sqrt(s)))
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
