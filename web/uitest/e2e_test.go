package uitest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/jjj-social-work/dispatch/web/ui"
)

var screenshotDir = flag.String("screenshots", "", "write screenshots of both pages to this directory (e.g. ../../docs/screenshots)")

const wait = 20 * time.Second

func requireBuiltUI(t *testing.T) {
	t.Helper()
	if !ui.Built() {
		t.Fatal("the web pages are not built into this binary: run `cd web/ui && npm ci && npm run build` before go test")
	}
}

// openDashboard signs a coordinator in through a demo link and waits for
// the live stream.
func openDashboard(t *testing.T, b context.Context, base, token string) *tab {
	t.Helper()
	d := newPage(t, b, "dashboard", 1366, 768, false)
	d.navigate(base + "/#token=" + token)
	d.waitFor("dashboard online", `document.querySelector('#conn')?.dataset.state === 'online'`, wait)
	return d
}

func openWorker(t *testing.T, b context.Context, base, token string) *tab {
	t.Helper()
	w := newPage(t, b, "worker", 390, 844, true)
	w.navigate(base + "/worker#token=" + token)
	w.waitFor("worker page online", `document.querySelector('#conn')?.dataset.state === 'online'`, wait)
	return w
}

// goOnDuty shares the phone's (emulated) position and flips the duty
// switch; it returns once the server acknowledged both.
func goOnDuty(phone *tab, origin string, lat, lng float64) {
	phone.t.Helper()
	phone.setGeolocation(origin, lat, lng)
	phone.click(`label.switch`)
	phone.waitFor("duty and position delivered", `document.querySelector('#duty').checked && /12/.test(document.querySelector('#position').textContent) && document.querySelector('#outbox').dataset.pending === '0'`, wait)
}

func seqOf(p *tab) uint64 {
	p.t.Helper()
	n, err := strconv.ParseUint(eval[string](p, `document.body.dataset.seq || '0'`), 10, 64)
	if err != nil {
		p.t.Fatalf("%s: body data-seq: %v", p.name, err)
	}
	return n
}

// TestDispatchFlow is the whole story in a real browser against dispatchd:
// the coordinator places an incident on the map, the nearest qualified
// worker's phone gets the offer and accepts, and the dashboard's map,
// panel and feed show it.
func TestDispatchFlow(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	b := newBrowser(t)
	dash := openDashboard(t, b, sc.srv.url(), sc.coord)
	phone := openWorker(t, b, sc.srv.url(), sc.w1)

	// The coordinator opens the form and clicks the middle of the map.
	dash.click(`[data-tab=new]`)
	rect := eval[map[string]float64](dash, `(() => { const r = document.querySelector('#map').getBoundingClientRect(); return {x: r.x + r.width/2, y: r.y + r.height/2} })()`)
	dash.mouseClick(rect["x"], rect["y"])
	dash.waitFor("position from the map click", `/\d+\.\d+, \d+\.\d+/.test(document.querySelector('#f-pos').textContent)`, wait)
	var lat, lng float64
	if _, err := fmt.Sscanf(dash.text("#f-pos"), "%f, %f", &lat, &lng); err != nil {
		t.Fatalf("position %q: %v", dash.text("#f-pos"), err)
	}
	if lat < 36 || lat > 42.7 || lng < 113.4 || lng > 119.9 {
		t.Fatalf("clicked position %v,%v: want inside Beijing–Tianjin–Hebei", lat, lng)
	}

	// The worker, two kilometres away, goes on duty and shares position.
	goOnDuty(phone, sc.srv.url(), lat+0.012, lng+0.012)
	dash.waitFor("duty change in the feed", `document.querySelector('#feed li[data-type="worker.duty"]')`, wait)

	// Severity II flood, one crisis-intervention worker, assistant or above.
	dash.setValue(`select[name=severity]`, "II")
	dash.setValue(`.need select[name=skill]`, "crisis_intervention")
	dash.setValue(`.need select[name=min_cert]`, "assistant")
	dash.setValue(`textarea[name=notes]`, "堤坝渗漏，安置点需要心理急救")
	dash.click(`.incident-form button[type=submit]`)
	dash.waitFor("incident panel", `document.querySelector('[data-pane=detail]:not([hidden]) .detail-title')`, wait)
	dash.waitFor("incident marker", `document.querySelector('.leaflet-marker-icon.incident.sev-II')`, wait)
	incID := eval[string](dash, `document.querySelector('.detail-title').dataset.incident`)

	// The phone gets the offer with a countdown and accepts it.
	phone.waitFor("offer", `!document.querySelector('#offer').hidden && /\d/.test(document.querySelector('#countdown-text').textContent)`, wait)
	if got := phone.text("#offer .inc-head"); !strings.Contains(got, "洪涝") {
		t.Errorf("offer heading = %q, want the incident type 洪涝", got)
	}
	if got := phone.text("#offer .notes"); !strings.Contains(got, "心理急救") {
		t.Errorf("offer notes = %q, want the coordinator's notes", got)
	}
	phone.click(`#accept`)
	phone.waitFor("current assignment", `document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)
	phone.waitFor("accept delivered", `document.querySelector('#outbox').dataset.pending === '0'`, wait)

	// The coordinator sees it on the panel, in the feed and on the map.
	dash.waitFor("assignment accepted in the panel", `document.querySelector('.assignment[data-worker=w1]')?.dataset.state === 'accepted'`, wait)
	dash.waitFor("accept in the feed", `document.querySelector('#feed li[data-type="assignment.accepted"]')`, wait)
	dash.waitFor("line from worker to incident", `document.querySelector('path.assign-line.state-accepted')`, wait)
	if got := dash.text(`#feed li[data-type="assignment.accepted"]`); !strings.Contains(got, "李娜") {
		t.Errorf("feed line = %q, want the worker's name", got)
	}
	dash.click(`.assignment[data-worker=w1] details.why summary`)
	dash.waitFor("explanation open", `document.querySelector('.assignment[data-worker=w1] details.why').open`, wait)
	terms := dash.text(`.assignment[data-worker=w1] .terms`)
	for _, want := range []string{"路程时间", "合计"} {
		if !strings.Contains(terms, want) {
			t.Errorf("explanation = %q, want the term %s", terms, want)
		}
	}
	if got := dash.text(`.assignment[data-worker=w1] details.why summary`); !strings.Contains(got, "分钟") {
		t.Errorf("explanation summary = %q, want the total cost in minutes", got)
	}

	// The server agrees: one accepted assignment of w1 on this incident.
	as := sc.assignments("incident=" + incID)
	if len(as) != 1 || as[0].WorkerID != "w1" || as[0].State != "accepted" {
		t.Errorf("server assignments of %s = %+v, want w1 accepted", incID, as)
	}

	// The worker reports progress; the dashboard follows.
	phone.click(`#advance`)
	phone.waitFor("en route", `document.querySelector('#current p.state')?.dataset.state === 'en_route'`, wait)
	dash.waitFor("en route on the dashboard", `document.querySelector('.assignment[data-worker=w1]')?.dataset.state === 'en_route'`, wait)
	dash.waitFor("en route line", `document.querySelector('path.assign-line.state-en_route')`, wait)
	dash.noPageErrors()
	phone.noPageErrors()
}

// TestLanguageSwitch: every label comes from one dictionary, Chinese first.
func TestLanguageSwitch(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	b := newBrowser(t)
	dash := openDashboard(t, b, sc.srv.url(), sc.coord)

	tabs := func() string {
		return dash.text(`[data-tab=incidents]`) + "|" + dash.text(`[data-tab=new]`) + "|" + dash.text(`.feed h2`)
	}
	if got, want := tabs(), "事件|新建事件|实时动态"; got != want {
		t.Fatalf("default labels = %q, want %q", got, want)
	}
	if got := eval[string](dash, `document.documentElement.lang`); got != "zh-CN" {
		t.Errorf("html lang = %q, want zh-CN", got)
	}
	if got := dash.text(`#conn`); got != "在线" {
		t.Errorf("connection label = %q, want 在线", got)
	}
	dash.click(`#lang`)
	dash.waitFor("English labels", `document.querySelector('[data-tab=incidents]').textContent === 'Incidents'`, wait)
	if got, want := tabs(), "Incidents|New incident|Live feed"; got != want {
		t.Errorf("English labels = %q, want %q", got, want)
	}
	if got := eval[string](dash, `document.documentElement.lang`); got != "en" {
		t.Errorf("html lang = %q, want en", got)
	}
	if got := dash.text(`#conn`); got != "Online" {
		t.Errorf("connection label = %q, want Online", got)
	}
	if got := dash.text(`#who`); got != "联合调度台 · Beijing Tianjin Hebei" {
		t.Errorf("desk = %q, want its name and the regions in English", got)
	}
	if got := dash.text(`.map-label.region-label`); got != "Beijing" && got != "Tianjin" && got != "Hebei" {
		t.Errorf("map region label = %q, want an English region name", got)
	}
	if got := dash.text(`#legend .legend-title`); got != "Available workers" {
		t.Errorf("legend = %q, want Available workers", got)
	}
	dash.click(`[data-tab=new]`)
	if got := dash.text(`.incident-form button[type=submit]`); got != "Create incident" {
		t.Errorf("form button = %q, want Create incident", got)
	}
	if got := eval[string](dash, `document.querySelector('.need select[name=skill] option[value=crisis_intervention]').textContent`); !strings.Contains(strings.ToLower(got), "crisis") {
		t.Errorf("skill option = %q, want the English skill name", got)
	}
	// No label of the page's own is left in Chinese (names and notes are
	// data, the map's attribution is bilingual on purpose, and the switch
	// names the other language).
	if got := dash.hanText(`.topbar h1, #conn, #seq, #logout, .tabs, .mapbar, #legend, .map-label, #pane-new, .feed h2`); got != "" {
		t.Errorf("untranslated dashboard labels: %q", got)
	}
	phone := openWorker(t, b, sc.srv.url(), sc.w1)
	phone.click(`#lang`)
	phone.waitFor("English worker page", `document.querySelector('#duty-label').textContent === 'Off duty'`, wait)
	if got := phone.hanText(`.topbar h1, #conn, #duty-label, #position, #idle, #outbox`); got != "" {
		t.Errorf("untranslated worker page labels: %q", got)
	}

	// The choice is remembered, and switching back restores Chinese.
	dash.navigate(sc.srv.url() + "/")
	dash.waitFor("English after reload", `document.querySelector('[data-tab=incidents]').textContent === 'Incidents'`, wait)
	dash.click(`#lang`)
	dash.waitFor("Chinese again", `document.querySelector('[data-tab=incidents]').textContent === '事件'`, wait)
	dash.noPageErrors()
	phone.noPageErrors()
}

// TestDashboardSurvivesRestart: the server is killed and started again on
// the same address with the same data; meanwhile an incident is logged.
// The dashboard shows it is offline, reconnects by itself and catches up
// from its last sequence: its feed holds every event the server logged
// since the page loaded, each once.
func TestDashboardSurvivesRestart(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	b := newBrowser(t)
	dash := openDashboard(t, b, sc.srv.url(), sc.coord)
	seq0 := seqOf(dash)
	sc.createIncident(39.05, 115.87, "I", "elderly_care", "none", "") // Xiong'an (Rongcheng)
	dash.waitFor("first incident", `document.querySelectorAll('.incident-list li').length === 1`, wait)

	// Cut the page off, kill the server, start it again on the same
	// address and data, and log a second incident the page cannot see yet.
	setOffline(t, dash, true)
	dash.waitFor("offline indicator", `document.querySelector('#conn').dataset.state === 'offline' && !document.querySelector('#offline-banner').hidden`, wait)
	seqBefore := seqOf(dash)
	sc.srv.kill()
	sc.srv.start()
	sc.createIncident(39.486, 115.974, "II", "elderly_care", "none", "") // Zhuozhou
	if got := eval[int](dash, `document.querySelectorAll('.incident-list li').length`); got != 1 {
		t.Fatalf("incidents while offline = %d, want 1", got)
	}

	setOffline(t, dash, false)
	dash.waitFor("online again", `document.querySelector('#conn').dataset.state === 'online'`, 30*time.Second)
	dash.waitFor("caught-up incident", `document.querySelectorAll('.incident-list li').length === 2`, wait)
	if got := eval[bool](dash, `document.querySelector('#offline-banner').hidden`); !got {
		t.Error("offline banner still shown after reconnecting")
	}

	// The feed against the server's log: the same sequence numbers, none
	// twice, none missing.
	logged := sc.events(seq0)
	last := logged[len(logged)-1].Seq
	dash.waitFor("page at the server's sequence", fmt.Sprintf(`Number(document.body.dataset.seq) >= %d`, last), wait)
	if last <= seqBefore {
		t.Fatalf("server's last seq %d, want past %d (the incident logged while the page was away)", last, seqBefore)
	}
	var want []uint64
	for _, ev := range logged {
		if feedShows(ev.Type) {
			want = append(want, ev.Seq)
		}
	}
	var got []uint64
	for _, s := range eval[[]uint64](dash, `[...document.querySelectorAll('#feed li[data-seq]')].map((li) => Number(li.dataset.seq))`) {
		if s > seq0 && s <= last {
			got = append(got, s)
		}
	}
	slices.Reverse(got) // newest first on the page
	if !slices.Equal(got, want) {
		t.Errorf("feed seqs = %v, want %v (every logged event once, in order)", got, want)
	}
	if got := eval[int](dash, `document.querySelectorAll('#feed li[data-type="incident.created"]').length`); got != 2 {
		t.Errorf("incident.created feed lines = %d, want 2", got)
	}
	dash.noPageErrors()
}

// setOffline cuts the page's network (requests and websockets fail) and
// tells the page through navigator.onLine, as a lost signal would.
func setOffline(t *testing.T, p *tab, offline bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network enable: %v", err)
	}
	cond := &network.Conditions{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{cond},
	}); err != nil {
		t.Fatalf("network offline=%v: %v", offline, err)
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{
		Offline: offline, DownloadThroughput: -1, UploadThroughput: -1,
	}); err != nil {
		t.Fatalf("navigator offline=%v: %v", offline, err)
	}
}

// blockAPI makes the page's API calls (and so its stream tickets) fail
// while its pages and assets still load.
func blockAPI(t *testing.T, p *tab, block bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	params := network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{}}
	if block {
		params.URLPatterns = append(params.URLPatterns, &network.BlockPattern{URLPattern: "*://*:*/api/*", Block: true})
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, params); err != nil {
		t.Fatalf("%s: block API=%v: %v", p.name, block, err)
	}
}

// TestBusyDesk builds a busy night against dispatchd (incidents of every
// severity solved as one joint batch, a need nobody can fill, workers
// assigned and on their way) and checks what the coordinator must notice
// stands out; with -screenshots it also writes the pictures in docs/ui.md.
func TestBusyDesk(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, true)
	b := newBrowser(t)
	phone := openWorker(t, b, sc.srv.url(), sc.w1)
	goOnDuty(phone, sc.srv.url(), 39.72, 116.22) // Daxing, north-east of Zhuozhou
	dash := openDashboard(t, b, sc.srv.url(), sc.coord)

	notes := "转移安置点需要社工支援"
	zhuozhou := sc.createIncident(39.486, 115.974, "I", "crisis_intervention", "assistant", notes) // w1 gets it
	sc.createIncident(38.883, 115.500, "II", "grief_support", "senior", notes)                     // Baoding: nobody qualifies
	tianjin := sc.createIncident(39.343, 117.362, "III", "elderly_care", "none", notes)            // Tianjin
	sc.createIncident(40.767, 114.886, "IV", "community_mobilisation", "none", notes)              // Zhangjiakou

	phone.waitFor("offer", `!document.querySelector('#offer').hidden`, wait)
	dash.waitFor("four incidents", `document.querySelectorAll('.incident-list li').length === 4`, wait)
	dash.waitFor("unfilled incident pulses", `document.querySelector('.leaflet-marker-icon.incident.sev-II.unfilled .badge')`, wait)
	dash.waitFor("unfilled row", `document.querySelector('.incident-list li.has-unfilled .unfilled-badge')`, wait)
	if got := eval[int](dash, `document.querySelectorAll('.leaflet-marker-icon.incident').length`); got != 4 {
		t.Errorf("incident markers = %d, want 4", got)
	}
	if got := eval[[]string](dash, `[...document.querySelectorAll('.incident-list li .sev')].map((e) => e.textContent)`); !slices.Equal(got, []string{"I", "II", "III", "IV"}) {
		t.Errorf("incident list severities = %v, want I, II, III, IV (most severe first)", got)
	}
	dash.waitFor("hexagons of available workers", `Number(document.querySelector('#map').dataset.hexCells) > 5`, wait)
	dash.waitFor("offer lines", `document.querySelectorAll('path.assign-line.state-offered').length >= 2`, wait)

	phone.waitFor("countdown", `/\d/.test(document.querySelector('#countdown-text').textContent)`, wait)
	if *screenshotDir != "" {
		phone.screenshot(filepath.Join(*screenshotDir, "worker.png"))
	}

	// w1 accepts on the phone; the Tianjin worker accepts from theirs.
	phone.click(`#accept`)
	phone.waitFor("accepted", `document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)
	sc.acceptAs(sc.waitOffer(tianjin.ID))
	dash.waitFor("two accepted lines", `document.querySelectorAll('path.assign-line.state-accepted').length === 2`, wait)
	dash.waitFor("staffed incidents", `document.querySelectorAll('.incident-list .status-staffed').length === 2`, wait)
	if *screenshotDir != "" {
		dash.screenshot(filepath.Join(*screenshotDir, "dashboard.png"))
	}

	dash.click(fmt.Sprintf(`.incident-list li[data-incident=%q]`, zhuozhou.ID))
	dash.waitFor("panel", `document.querySelector('.assignment[data-worker=w1]')`, wait)
	dash.click(`.assignment[data-worker=w1] details.why summary`)
	dash.waitFor("explanation", `document.querySelector('.assignment[data-worker=w1] .terms')`, wait)

	// A skill filter narrows the hexagons to workers who have it.
	all := eval[int](dash, `Number(document.querySelector('#map').dataset.hexCells)`)
	dash.setValue(`#f-skill`, "child_protection")
	dash.waitFor("filtered hexagons", fmt.Sprintf(`Number(document.querySelector('#map').dataset.hexCells) < %d`, all), wait)
	dash.setValue(`#f-skill`, "")
	dash.waitFor("hexagons back", fmt.Sprintf(`Number(document.querySelector('#map').dataset.hexCells) === %d`, all), wait)

	phone.click(`#advance`)
	phone.waitFor("en route", `document.querySelector('#current p.state')?.dataset.state === 'en_route'`, wait)
	dash.waitFor("en route in the panel", `document.querySelector('.assignment[data-worker=w1]')?.dataset.state === 'en_route'`, wait)
	if *screenshotDir != "" {
		dash.waitFor("map settled", `!document.querySelector('.leaflet-zoom-anim, .leaflet-pan-anim')`, wait)
		dash.screenshot(filepath.Join(*screenshotDir, "dashboard-incident.png"))
		phone.screenshot(filepath.Join(*screenshotDir, "worker-assignment.png"))
	}

	// A dashboard opened now draws the same from the snapshot alone.
	dash.navigate(sc.srv.url() + "/")
	dash.waitFor("online after reload", `document.querySelector('#conn')?.dataset.state === 'online'`, wait)
	dash.waitFor("incidents from the snapshot", `document.querySelectorAll('.leaflet-marker-icon.incident').length === 4`, wait)
	dash.waitFor("unfilled from the snapshot", `document.querySelector('.leaflet-marker-icon.incident.sev-II.unfilled .badge')`, wait)
	dash.waitFor("lines from the snapshot", `document.querySelectorAll('path.assign-line.state-accepted, path.assign-line.state-en_route').length === 2`, wait)
	dash.noPageErrors()
	phone.noPageErrors()
}

// TestWorkerOutbox: on a phone that lost its signal, an answer is queued
// (and kept across a reload), shown at once, and sent exactly once when
// the connection returns; the server acknowledges it by its id. A decline
// asks for a reason, which the server records.
func TestWorkerOutbox(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	b := newBrowser(t)
	phone := openWorker(t, b, sc.srv.url(), sc.w1)
	frames := phone.recordSentFrames()
	goOnDuty(phone, sc.srv.url(), 39.55, 116.70) // Langfang

	// First offer: declined, with a reason.
	first := sc.createIncident(39.538, 116.684, "III", "crisis_intervention", "none", "")
	phone.waitFor("first offer", `!document.querySelector('#offer').hidden`, wait)
	phone.click(`#decline-btn`)
	phone.waitFor("reason sheet", `document.querySelector('#decline').open`, wait)
	phone.click(`#decline input[value=far]`)
	phone.click(`#confirm-decline`)
	phone.waitFor("decline delivered", `document.querySelector('#offer').hidden && document.querySelector('#outbox').dataset.pending === '0'`, wait)

	// Second offer: accepted while offline, then the page is reloaded.
	second := sc.createIncident(39.540, 116.690, "II", "crisis_intervention", "none", "")
	phone.waitFor("second offer", `!document.querySelector('#offer').hidden`, wait)
	setOffline(t, phone, true)
	phone.waitFor("offline", `document.querySelector('#conn').dataset.state === 'offline'`, wait)
	phone.click(`#accept`)
	phone.waitFor("accept queued and shown", `document.querySelector('#outbox').dataset.pending === '1' && document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)
	stored := eval[string](phone, `localStorage.getItem('dispatch.outbox.w1')`)
	if !strings.Contains(stored, `"type":"answer"`) || !strings.Contains(stored, `"accept":true`) {
		t.Fatalf("outbox in localStorage = %s, want the queued accept", stored)
	}
	if got := sc.waitOffer(second.ID); got.WorkerID != "w1" {
		t.Fatalf("second offer went to %s, want w1", got.WorkerID)
	}
	// The signal returns while the server is still out of reach, and the
	// page is reloaded: the accept must come from the outbox kept in
	// localStorage, and nothing could have gone out before.
	blockAPI(t, phone, true)
	setOffline(t, phone, false)
	phone.navigate(sc.srv.url() + "/worker")
	if n := len(frames.matching(`"type":"answer"`, `"accept":true`)); n != 0 {
		t.Fatalf("accept frames sent before the server was reachable = %d, want 0", n)
	}
	blockAPI(t, phone, false)
	phone.waitFor("accept delivered after reload", `document.querySelector('#outbox').dataset.pending === '0' && document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)

	// On the wire: the accept went out once, and the server acked its id.
	accepts := frames.matching(`"type":"answer"`, `"accept":true`)
	if len(accepts) != 1 {
		t.Errorf("accept frames sent = %d, want exactly 1: %v", len(accepts), accepts)
	} else {
		var m struct{ ID string }
		_ = json.Unmarshal([]byte(accepts[0]), &m)
		if acked := eval[bool](phone, `!localStorage.getItem('dispatch.outbox.w1')?.includes('answer')`); !acked || m.ID == "" {
			t.Errorf("accept %s not settled by an ack (outbox %s)", m.ID, eval[string](phone, `localStorage.getItem('dispatch.outbox.w1')`))
		}
	}

	// In the server's log: one decline with its reason, one accept.
	accepted, declined := 0, 0
	for _, ev := range sc.events(0) {
		if ev.WorkerID != "w1" {
			continue
		}
		switch ev.Type {
		case "assignment.accepted":
			accepted++
			if ev.IncidentID != second.ID {
				t.Errorf("accept for incident %s, want %s", ev.IncidentID, second.ID)
			}
		case "assignment.declined":
			declined++
			if ev.IncidentID != first.ID || !strings.Contains(string(ev.Data), "距离太远") {
				t.Errorf("decline event %s for %s, want the reason 距离太远 for %s", ev.Data, ev.IncidentID, first.ID)
			}
		}
	}
	if accepted != 1 || declined != 1 {
		t.Errorf("accepted %d, declined %d times; want exactly 1 each", accepted, declined)
	}
	phone.noPageErrors()
}

// TestRealServerStreams: the embedded pages, sign-in with an issued token
// (which leaves the address bar), the websocket ticket and the stream, and
// the worker page riding out a graceful process restart on the same
// address and data.
func TestRealServerStreams(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	b := newBrowser(t)

	dash := newPage(t, b, "dashboard", 1366, 768, false)
	dash.navigate(sc.srv.url() + "/#token=" + sc.coord)
	dash.waitFor("signed in", `document.querySelector('#who').textContent.includes('联合调度台')`, wait)
	dash.waitFor("map drawn", `document.querySelector('.map-label.region-label')`, wait)
	if got := eval[string](dash, `location.hash`); got != "" {
		t.Errorf("token left in the address bar: %q", got)
	}

	phone := openWorker(t, b, sc.srv.url(), sc.w1)
	if got := phone.text("#worker-id"); got != "w1" {
		t.Errorf("worker id = %q, want w1", got)
	}
	phone.waitFor("worker's name from the view", `document.querySelector('#name').textContent === '李娜'`, wait)
	sc.srv.restart()
	phone.waitFor("online after restart", `document.body.dataset.drops === '1' && document.querySelector('#conn').dataset.state === 'online'`, 30*time.Second)
	dash.waitFor("dashboard online after restart", `document.querySelector('#conn').dataset.state === 'online'`, 30*time.Second)
	phone.noPageErrors()
	dash.noPageErrors()
}

// sentFrames collects the websocket frames a page sends.
type sentFrames struct {
	mu     sync.Mutex
	frames []string
}

// recordSentFrames starts collecting the page's outgoing websocket frames
// (across navigations of the tab).
func (p *tab) recordSentFrames() *sentFrames {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		p.t.Fatalf("%s: network enable: %v", p.name, err)
	}
	f := &sentFrames{}
	if err := chromedp.Listen(p.ctx, func(ev any) {
		if e, ok := ev.(*network.EventWebSocketFrameSent); ok && e.Response != nil {
			f.mu.Lock()
			f.frames = append(f.frames, string(e.Response.PayloadData))
			f.mu.Unlock()
		}
	}); err != nil {
		p.t.Fatalf("%s: listen: %v", p.name, err)
	}
	return f
}

// matching returns the frames that contain every one of parts.
func (f *sentFrames) matching(parts ...string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, fr := range f.frames {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(fr, p)
		}
		if ok {
			out = append(out, fr)
		}
	}
	return out
}

// hanText returns the Chinese characters in the text of the elements sel
// matches, "" when there are none.
func (p *tab) hanText(sel string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((e) => e.innerText).join(' ').match(/\p{Script=Han}+/gu)?.join(' ') || ''`, sel))
}

// TestDashboardReloadsAfterReset: the server comes back with a log that
// does not reach the page's sequence (its store was restored from before
// the page's last event). The server says so with a reset; the page
// reloads the snapshot, drops what the server no longer has, and applies
// the events that follow although their sequence numbers are below the
// ones it saw before.
func TestDashboardReloadsAfterReset(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	b := newBrowser(t)
	dash := openDashboard(t, b, sc.srv.url(), sc.coord)
	for _, p := range [][2]float64{{39.05, 115.87}, {39.486, 115.974}, {38.883, 115.5}} {
		sc.createIncident(p[0], p[1], "III", "elderly_care", "none", "")
	}
	dash.waitFor("three incidents", `document.querySelectorAll('.incident-list li').length === 3`, wait)
	before := seqOf(dash)

	sc.srv.kill()
	if err := os.Remove(filepath.Join(sc.srv.dir, "data", "dispatch.db")); err != nil {
		t.Fatal(err) // the credentials file stays: the tokens still work
	}
	sc.srv.start()
	first := sc.createIncident(39.538, 116.684, "II", "elderly_care", "none", "") // Langfang
	dash.waitFor("snapshot reloaded", fmt.Sprintf(`document.querySelectorAll('.incident-list li').length === 1 && document.querySelector('.incident-list li[data-incident=%q]')`, first.ID), 30*time.Second)
	dash.waitFor("online", `document.querySelector('#conn').dataset.state === 'online'`, wait)

	second := sc.createIncident(39.631, 118.18, "I", "elderly_care", "none", "") // Tangshan
	dash.waitFor("event after the reset applied", fmt.Sprintf(`document.querySelector('.incident-list li[data-incident=%q]')`, second.ID), wait)
	logged := sc.events(0)
	last := logged[len(logged)-1].Seq
	if last >= before {
		t.Fatalf("server's log reached seq %d, want below the page's %d for this test to mean anything", last, before)
	}
	dash.waitFor("page at the server's sequence", fmt.Sprintf(`Number(document.body.dataset.seq) === %d`, last), wait)
	dash.noPageErrors()
}

// TestRevokedCredential: an administrator revokes the desk's credential.
// The server closes the dashboard's stream at its next heartbeat (4001)
// and refuses a new ticket; the page then asks for a credential instead
// of retrying for ever, and forgets the revoked one.
func TestRevokedCredential(t *testing.T) {
	requireBuiltUI(t)
	// A short heartbeat, so the server rechecks the credential soon.
	sc := newSceneWith(t, false, map[string]any{"stream": map[string]any{"pong_wait": "2s"}})
	tok, id := sc.srv.tokenID("-role", "coordinator", "-regions", "HE", "-name", "河北调度台")
	sc.waitCredential(tok)
	b := newBrowser(t)
	dash := openDashboard(t, b, sc.srv.url(), tok)
	if got := dash.text("#who"); !strings.Contains(got, "河北调度台") || strings.Contains(got, "北京") {
		t.Errorf("who = %q, want the Hebei desk and its one region", got)
	}
	sc.srv.revoke(id)
	dash.waitFor("sign-in asked for", `document.querySelector('#login').open && document.querySelector('#login input[name=token]')`, wait)
	if got := eval[string](dash, `sessionStorage.getItem('dispatch.token') || ''`); got != "" {
		t.Errorf("revoked token still kept by the page")
	}
	dash.noPageErrors()
}

// TestManualOverride: a coordinator assigns by hand from the incident
// panel. The server refuses a worker who breaks a hard constraint and the
// panel names the constraints; with the box ticked and a reason the
// assignment is made, credited to the coordinator, and audited in the feed.
func TestManualOverride(t *testing.T) {
	requireBuiltUI(t)
	sc := newScene(t, false)
	inc := sc.createIncident(39.912, 116.366, "II", "crisis_intervention", "assistant", "") // Xicheng; nobody on duty
	b := newBrowser(t)
	dash := openDashboard(t, b, sc.srv.url(), sc.coord)
	dash.waitFor("unfilled incident", `document.querySelector('.incident-list li.has-unfilled')`, wait)
	dash.click(fmt.Sprintf(`.incident-list li[data-incident=%q]`, inc.ID))
	dash.waitFor("assign form", `document.querySelector('.assign-form input[name=worker_id]')`, wait)

	// w2 is off duty: refused, with the reason in the coordinator's words.
	dash.setValue(`.assign-form input[name=worker_id]`, "w2")
	dash.click(`.assign-form button[type=submit]`)
	dash.waitFor("refusal", `document.querySelector('.assign-form .error').dataset.code === 'constraint_violated'`, wait)
	if got := dash.text(`.assign-form .error`); !strings.Contains(got, "不在岗") {
		t.Errorf("refusal = %q, want the broken constraint 不在岗", got)
	}

	// Forced, with a reason: made, and shown as the coordinator's choice.
	dash.setValue(`.assign-form input[name=reason]`, "电话确认可以出发")
	dash.click(`.assign-form input[name=override]`)
	dash.click(`.assign-form button[type=submit]`)
	dash.waitFor("manual offer in the panel", `document.querySelector('.assignment[data-worker=w2]')?.dataset.state === 'offered'`, wait)
	if got := dash.text(`.assignment[data-worker=w2] .small`); !strings.Contains(got, "联合调度台") || !strings.Contains(got, "电话确认可以出发") {
		t.Errorf("chosen by = %q, want the coordinator's name and reason", got)
	}
	dash.waitFor("audit line in the feed", `document.querySelector('#feed li[data-type="override.assigned"]')`, wait)
	if got := dash.text(`#feed li[data-type="override.assigned"]`); !strings.Contains(got, "联合调度台") || !strings.Contains(got, "王强") || !strings.Contains(got, "违反硬性约束") {
		t.Errorf("feed line = %q, want who, whom and that it was forced", got)
	}
	as := sc.assignments("incident=" + inc.ID)
	if len(as) != 1 || as[0].WorkerID != "w2" || as[0].State != "offered" {
		t.Errorf("server assignments = %+v, want one offer to w2", as)
	}
	dash.noPageErrors()
}
