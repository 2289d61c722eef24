package sim

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/web"
	"golang.org/x/sync/errgroup"
)

// loadPlaces are PRODUCT §10's reference places: workers live around
// them (by the regions' head counts) and incidents arise around them.
var loadPlaces = map[string][]Place{
	"BJ": {
		{Name: "Dongcheng", Lat: 39.904, Lng: 116.407, Weight: 1, SpreadKm: 5},
		{Name: "Xicheng", Lat: 39.912, Lng: 116.366, Weight: 1, SpreadKm: 5},
		{Name: "Tongzhou", Lat: 39.910, Lng: 116.657, Weight: 1, SpreadKm: 5},
	},
	"TJ": {
		{Name: "Tianjin", Lat: 39.343, Lng: 117.362, Weight: 1, SpreadKm: 5},
		{Name: "Wuqing", Lat: 39.384, Lng: 117.044, Weight: 1, SpreadKm: 5},
		{Name: "Jinnan", Lat: 38.938, Lng: 117.357, Weight: 1, SpreadKm: 5},
	},
	"HE": {
		{Name: "Shijiazhuang", Lat: 38.043, Lng: 114.515, Weight: 1, SpreadKm: 5},
		{Name: "Baoding", Lat: 38.883, Lng: 115.500, Weight: 1, SpreadKm: 5},
		{Name: "Zhuozhou", Lat: 39.486, Lng: 115.974, Weight: 1, SpreadKm: 5},
		{Name: "Langfang", Lat: 39.538, Lng: 116.684, Weight: 1, SpreadKm: 5},
		{Name: "Rongcheng", Lat: 39.050, Lng: 115.870, Weight: 1, SpreadKm: 5},
		{Name: "Anxin", Lat: 38.930, Lng: 115.930, Weight: 1, SpreadKm: 5},
		{Name: "Tangshan", Lat: 39.631, Lng: 118.180, Weight: 1, SpreadKm: 5},
		{Name: "Zhangjiakou", Lat: 40.767, Lng: 114.886, Weight: 1, SpreadKm: 5},
		{Name: "Chengde", Lat: 40.951, Lng: 117.963, Weight: 1, SpreadKm: 5},
		{Name: "Cangzhou", Lat: 38.304, Lng: 116.839, Weight: 1, SpreadKm: 5},
	},
}

// loadSkill is the one skill every load worker has and every incident
// needs, so each incident is offered at once to its nearest free worker.
const loadSkill = "crisis_intervention"

// loadTeam is the load run's roster: ids L-BJ-00001..., split by PRODUCT
// §1's head counts, all qualified for every load incident.
func loadTeam(n int, seed uint64) []dispatch.WorkerInput {
	sc := &Scenario{Seed: seed, Team: Team{Size: n, OnDuty: 1, IDPrefix: "L",
		Certs: map[string]float64{"intermediate": 1}, Skills: map[string]float64{loadSkill: 1},
		Regions: []RegionTeam{
			{Code: "BJ", Share: 26800, Places: loadPlaces["BJ"]},
			{Code: "TJ", Share: 15800, Places: loadPlaces["TJ"]},
			{Code: "HE", Share: 5000, Places: loadPlaces["HE"]},
		}}}
	out := make([]dispatch.WorkerInput, 0, n)
	for _, m := range GenerateTeam(sc) {
		m.Worker.Name = "负载测试 " + m.Worker.ID
		out = append(out, m.Worker)
	}
	return out
}

func loadTokenRequests(team []dispatch.WorkerInput, desks int) []TokenRequest {
	reqs := make([]TokenRequest, 0, len(team)+desks)
	for i := range desks {
		reqs = append(reqs, TokenRequest{Name: "load desk " + strconv.Itoa(i+1), Role: web.RoleCoordinator})
	}
	for _, w := range team {
		reqs = append(reqs, TokenRequest{Name: w.Name, Role: web.RoleWorker, WorkerID: w.ID})
	}
	return reqs
}

func newWritePool() websocket.BufferPool { return &sync.Pool{} }

// build makes the desks and workers; the first desk is the reference.
func (r *loadRun) build(team []dispatch.WorkerInput, toks []string) {
	index := make(map[string]int, len(team))
	for i, w := range team {
		index[w.ID] = i
	}
	for i := range r.o.Coordinators {
		d := &loadDesk{rec: r.rec, ref: i == 0, index: index}
		if d.ref {
			d.refSeqs, d.types = make([][]uint64, len(team)), map[string]uint64{}
		}
		api := newAPIClient(r.o.BaseURL, toks[i], r.hc)
		d.stream = newStreamConn(streamConfig{api: api, contiguous: true, dialer: r.deskDialer,
			log: r.o.Logger, onEvent: d.onEvent})
		r.desks = append(r.desks, d)
	}
	// The server remembers answers by (worker, message id): ids must not
	// repeat an earlier run's, or it would answer from memory.
	run := runPrefix()
	for i, wi := range team {
		w := &loadWorker{idx: i, id: wi.ID, home: *wi.Position, prefix: run + strconv.Itoa(i) + ".",
			rec: r.rec, errs: &r.errs}
		api := newAPIClient(r.o.BaseURL, toks[r.o.Coordinators+i], r.hc)
		w.stream = newStreamConn(streamConfig{api: api, dialer: r.dialer, log: r.o.Logger,
			onEvent: w.onEvent, onReply: w.onReply, onLive: w.onLive})
		r.workers = append(r.workers, w)
	}
}

// batchWindow reads the server's joint-batching policy: while it batches,
// an offer waits for the batch window, which bounds intake → offer.
func (r *loadRun) batchWindow(ctx context.Context) string {
	var p dispatch.Policy
	if err := r.admin.do(ctx, http.MethodGet, "/api/v1/policy", nil, &p); err != nil {
		return "unknown"
	}
	if p.Batch.MinIncidents == 0 {
		return "off"
	}
	return fmt.Sprintf("%v once %d incidents arrive within it", p.Batch.Window.D(), p.Batch.MinIncidents)
}

// intake logs incidents at the rate through the desks' credentials in
// turn. A fixed pool sends them; when the pool cannot keep up, the missed
// slots are counted as behind rather than queued without bound.
func (r *loadRun) intake(ctx context.Context) error {
	jobs := make(chan int, loadIntakeParallel*4)
	// Requests outlive the drive's deadline so none is cut off midway.
	reqCtx := context.WithoutCancel(ctx)
	var pool errgroup.Group
	for range loadIntakeParallel {
		pool.Go(func() error {
			for k := range jobs {
				r.sendIncident(reqCtx, k)
			}
			return nil
		})
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start, sent := time.Now(), 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			due := int(r.o.Rate * time.Since(start).Seconds())
			for ; sent < due; sent++ {
				select {
				case jobs <- sent:
				default:
					r.report.Behind++
				}
			}
		}
	}
	close(jobs)
	return pool.Wait()
}

// sendIncident logs the k-th incident.
func (r *loadRun) sendIncident(ctx context.Context, k int) {
	rng := newRand(r.o.Seed, streamLoad+uint64(k))
	regions := []string{"BJ", "TJ", "HE"}
	reg := regions[rng.IntN(len(regions))]
	pl := loadPlaces[reg][rng.IntN(len(loadPlaces[reg]))]
	in := dispatch.IncidentInput{Type: "flood", Severity: dispatch.SeverityII, Position: around(rng, pl), Region: reg,
		Needs: []dispatch.NeedInput{{Skill: loadSkill, Count: 1}}}
	api := r.desks[k%len(r.desks)].stream.cfg.api
	start := time.Now()
	inc, err := api.createIncident(ctx, in)
	r.rec.intakeReq.add(time.Since(start))
	r.countSent()
	if err != nil {
		r.rec.intakeFailed()
		r.o.Logger.Debug("incident intake failed", "err", err)
		return
	}
	r.rec.intake(inc.ID, start)
}

func (r *loadRun) countSent() {
	r.rec.mu.Lock()
	r.report.IncidentsSent++
	r.rec.mu.Unlock()
}

// positions has every worker share its position once per interval,
// spread evenly over it.
func (r *loadRun) positions(ctx context.Context) error {
	perSec := float64(len(r.workers)) / r.o.Positions.Seconds()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		due := int(math.Floor(perSec * time.Since(start).Seconds()))
		for ; sent < due; sent++ {
			w := r.workers[sent%len(r.workers)]
			p := offset(w.home, float64(sent%200), 0) // a short walk east and back
			_ = w.stream.send(positionMessage(w.prefix+"p"+strconv.Itoa(sent), p))
		}
	}
}
