package uitest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
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

// TestDispatchFlow is the whole story in a real browser: the coordinator
// places an incident on the map, the nearest qualified worker's phone gets
// the offer and accepts, and the dashboard's map, panel and feed show it.
func TestDispatchFlow(t *testing.T) {
	requireBuiltUI(t)
	srv := startFakeServer(t, t.TempDir(), "127.0.0.1:0")
	b := newBrowser(t)
	dash := openDashboard(t, b, srv.url(), "coord-token")
	phone := openWorker(t, b, srv.url(), "w1-token")

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
	phone.setGeolocation(srv.url(), lat+0.012, lng+0.012)
	phone.click(`label.switch`)
	phone.waitFor("duty and position delivered", `document.querySelector('#outbox').dataset.pending === '0' && document.querySelector('#duty').checked`, wait)
	phone.waitFor("position shown as shared", `/12/.test(document.querySelector('#position').textContent)`, wait)
	dash.waitFor("duty change in the feed", `document.querySelector('#feed li[data-type="worker.duty"]')`, wait)

	// Severity II flood, one crisis-intervention worker, assistant or above.
	dash.setValue(`select[name=severity]`, "II")
	dash.setValue(`.need select[name=skill]`, "crisis_intervention")
	dash.setValue(`.need select[name=min_cert]`, "assistant")
	dash.setValue(`textarea[name=notes]`, "堤坝渗漏，安置点需要心理急救")
	dash.click(`.incident-form button[type=submit]`)
	dash.waitFor("incident panel", `document.querySelector('[data-pane=detail]:not([hidden]) .detail-title')`, wait)
	dash.waitFor("incident marker", `document.querySelector('.leaflet-marker-icon.incident.sev-II')`, wait)

	// The phone gets the offer with a countdown and accepts it.
	phone.waitFor("offer", `!document.querySelector('#offer').hidden && /\d/.test(document.querySelector('#countdown-text').textContent)`, wait)
	if got := phone.text("#offer .inc-head"); !strings.Contains(got, "洪涝") {
		t.Errorf("offer heading = %q, want the incident type 洪涝", got)
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
	if got := dash.text(`.assignment[data-worker=w1] .terms`); !strings.Contains(got, "路程时间") {
		t.Errorf("explanation = %q, want the travel-time term", got)
	}

	// The worker reports progress; the dashboard follows.
	phone.click(`#advance`)
	phone.waitFor("en route", `document.querySelector('#current p.state')?.dataset.state === 'en_route'`, wait)
	dash.waitFor("en route on the dashboard", `document.querySelector('.assignment[data-worker=w1]')?.dataset.state === 'en_route'`, wait)

	if *screenshotDir != "" {
		dash.screenshot(filepath.Join(*screenshotDir, "dashboard.png"))
		phone.screenshot(filepath.Join(*screenshotDir, "worker.png"))
	}
	dash.noPageErrors()
	phone.noPageErrors()
}

// TestLanguageSwitch: every label comes from one dictionary, Chinese first.
func TestLanguageSwitch(t *testing.T) {
	requireBuiltUI(t)
	srv := startFakeServer(t, t.TempDir(), "127.0.0.1:0")
	b := newBrowser(t)
	dash := openDashboard(t, b, srv.url(), "coord-token")

	tabs := func() string {
		return dash.text(`[data-tab=incidents]`) + "|" + dash.text(`[data-tab=new]`) + "|" + dash.text(`.feed h2`)
	}
	if got, want := tabs(), "事件|新建事件|实时动态"; got != want {
		t.Fatalf("default labels = %q, want %q", got, want)
	}
	if got := eval[string](dash, `document.documentElement.lang`); got != "zh-CN" {
		t.Errorf("html lang = %q, want zh-CN", got)
	}
	dash.click(`#lang`)
	dash.waitFor("English labels", `document.querySelector('[data-tab=incidents]').textContent === 'Incidents'`, wait)
	if got, want := tabs(), "Incidents|New incident|Live feed"; got != want {
		t.Errorf("English labels = %q, want %q", got, want)
	}
	if got := dash.text(`#conn`); got != "Online" {
		t.Errorf("connection label = %q, want Online", got)
	}
	if got := dash.text(`.map-label.region-label`); got != "Beijing" && got != "Tianjin" && got != "Hebei" {
		t.Errorf("map region label = %q, want an English region name", got)
	}
	dash.click(`[data-tab=new]`)
	if got := dash.text(`.incident-form button[type=submit]`); got != "Create incident" {
		t.Errorf("form button = %q, want Create incident", got)
	}
	// The choice is remembered, and switching back restores Chinese.
	dash.navigate(srv.url() + "/")
	dash.waitFor("English after reload", `document.querySelector('[data-tab=incidents]').textContent === 'Incidents'`, wait)
	dash.click(`#lang`)
	dash.waitFor("Chinese again", `document.querySelector('[data-tab=incidents]').textContent === '事件'`, wait)
	dash.noPageErrors()
}

// TestDashboardSurvivesRestart: the server goes away and comes back on the
// same address with the same data; meanwhile an incident is logged. The
// dashboard shows it is offline, reconnects by itself and catches up from
// its last sequence with no gap and no duplicate.
func TestDashboardSurvivesRestart(t *testing.T) {
	requireBuiltUI(t)
	dir := t.TempDir()
	srv := startFakeServer(t, dir, "127.0.0.1:0")
	addr := srv.addr
	b := newBrowser(t)
	dash := openDashboard(t, b, srv.url(), "coord-token")
	postIncident(t, srv.url(), 39.05, 115.87, "I") // Xiong'an (Rongcheng)
	dash.waitFor("first incident", `document.querySelectorAll('.incident-list li').length === 1`, wait)
	seqBefore := eval[string](dash, `document.body.dataset.seq`)

	// Cut the page off, stop the server and start it again on the same
	// address and data, and log a second incident the page cannot see yet.
	setOffline(t, dash, true)
	srv.stop()
	dash.waitFor("offline indicator", `document.querySelector('#conn').dataset.state === 'offline' && !document.querySelector('#offline-banner').hidden`, wait)
	srv = startFakeServer(t, dir, addr)
	postIncident(t, srv.url(), 39.486, 115.974, "II") // Zhuozhou
	time.Sleep(time.Second)
	if got := eval[int](dash, `document.querySelectorAll('.incident-list li').length`); got != 1 {
		t.Fatalf("incidents while offline = %d, want 1", got)
	}

	setOffline(t, dash, false)
	dash.waitFor("online again", `document.querySelector('#conn').dataset.state === 'online'`, 30*time.Second)
	dash.waitFor("caught-up incident", `document.querySelectorAll('.incident-list li').length === 2`, wait)
	if got := eval[int](dash, `document.querySelectorAll('#feed li[data-type="incident.created"]').length`); got != 2 {
		t.Errorf("incident.created feed lines = %d, want 2 (no gap, no duplicate)", got)
	}
	seqAfter := eval[string](dash, `document.body.dataset.seq`)
	before, _ := strconv.Atoi(seqBefore)
	after, _ := strconv.Atoi(seqAfter)
	if after <= before {
		t.Errorf("sequence after catch-up = %d, want past %d", after, before)
	}
	if got := eval[bool](dash, `document.querySelector('#offline-banner').hidden`); !got {
		t.Error("offline banner still shown after reconnecting")
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

func postIncident(t *testing.T, base string, lat, lng float64, sev string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "flood", "severity": sev, "position": map[string]float64{"lat": lat, "lng": lng},
		"needs": []map[string]any{{"skill": "elderly_care", "count": 1, "min_cert": "none"}}})
	req, _ := http.NewRequest("POST", base+"/api/v1/incidents", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer coord-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create incident: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create incident: status %d, want 201", res.StatusCode)
	}
}

// TestBusyDesk builds a busy night (incidents of every severity, one need
// nobody can fill, workers assigned and on their way) and checks what the
// coordinator must notice stands out; with -screenshots it also writes the
// pictures in docs/ui.md.
func TestBusyDesk(t *testing.T) {
	requireBuiltUI(t)
	srv := startFakeServer(t, t.TempDir(), "127.0.0.1:0")
	b := newBrowser(t)
	phone := openWorker(t, b, srv.url(), "w1-token")
	phone.setGeolocation(srv.url(), 39.72, 116.22) // Daxing, north-east of Zhuozhou
	phone.click(`label.switch`)
	phone.waitFor("on duty", `document.querySelector('#outbox').dataset.pending === '0' && document.querySelector('#duty').checked`, wait)

	postIncidentNeeds(t, srv.url(), 39.486, 115.974, "I", "crisis_intervention", "assistant") // Zhuozhou: w1 gets it
	postIncidentNeeds(t, srv.url(), 38.883, 115.500, "II", "grief_support", "senior")         // Baoding: nobody qualifies
	postIncidentNeeds(t, srv.url(), 39.343, 117.362, "III", "elderly_care", "none")           // Tianjin
	postIncidentNeeds(t, srv.url(), 40.767, 114.886, "IV", "community_mobilisation", "none")  // Zhangjiakou

	phone.waitFor("offer", `!document.querySelector('#offer').hidden`, wait)
	dash := openDashboard(t, b, srv.url(), "coord-token")
	dash.waitFor("four incidents", `document.querySelectorAll('.incident-list li').length === 4`, wait)
	dash.waitFor("unfilled incident pulses", `document.querySelector('.leaflet-marker-icon.incident.sev-II.unfilled .badge')`, wait)
	dash.waitFor("unfilled row", `document.querySelector('.incident-list li.has-unfilled .unfilled-badge')`, wait)
	if got := eval[int](dash, `document.querySelectorAll('.leaflet-marker-icon.incident').length`); got != 4 {
		t.Errorf("incident markers = %d, want 4", got)
	}
	if got := eval[string](dash, `document.querySelector('.incident-list li .sev').textContent`); got != "I" {
		t.Errorf("first incident in the list has severity %q, want I (most severe first)", got)
	}
	dash.waitFor("hexagons of available workers", `Number(document.querySelector('#map').dataset.hexCells) > 5`, wait)

	phone.waitFor("countdown", `/\d/.test(document.querySelector('#countdown-text').textContent)`, wait)
	if *screenshotDir != "" {
		phone.screenshot(filepath.Join(*screenshotDir, "worker.png"))
		dash.screenshot(filepath.Join(*screenshotDir, "dashboard.png"))
	}
	phone.click(`#accept`)
	phone.waitFor("accepted", `document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)
	dash.waitFor("line to the incident", `document.querySelector('path.assign-line.state-accepted')`, wait)
	dash.click(`.incident-list li[data-incident="inc-1"]`)
	dash.waitFor("panel", `document.querySelector('.assignment[data-worker=w1]')`, wait)
	dash.click(`.assignment[data-worker=w1] details.why summary`)

	// A skill filter narrows the hexagons to workers who have it.
	all := eval[int](dash, `Number(document.querySelector('#map').dataset.hexCells)`)
	dash.setValue(`#f-skill`, "child_protection")
	dash.waitFor("filtered hexagons", fmt.Sprintf(`Number(document.querySelector('#map').dataset.hexCells) < %d`, all), wait)
	dash.setValue(`#f-skill`, "")

	// Closer in, the hexagons get finer and the worker's line shows.
	dash.click(`.leaflet-control-zoom-in`)
	dash.click(`.leaflet-control-zoom-in`)
	dash.waitFor("zoomed in", `document.querySelector('.leaflet-control-zoom-in') && !document.querySelector('.leaflet-zoom-anim')`, wait)
	time.Sleep(500 * time.Millisecond) // let the zoom animation settle for the picture
	if *screenshotDir != "" {
		dash.screenshot(filepath.Join(*screenshotDir, "dashboard-incident.png"))
		phone.screenshot(filepath.Join(*screenshotDir, "worker-assignment.png"))
	}
	dash.noPageErrors()
	phone.noPageErrors()
}

func postIncidentNeeds(t *testing.T, base string, lat, lng float64, sev, skill, cert string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "flood", "severity": sev, "position": map[string]float64{"lat": lat, "lng": lng},
		"needs": []map[string]any{{"skill": skill, "count": 1, "min_cert": cert}}, "notes": "转移安置点需要社工支援"})
	req, _ := http.NewRequest("POST", base+"/api/v1/incidents", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer coord-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create incident: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create incident: status %d, want 201", res.StatusCode)
	}
}

// TestWorkerOutbox: on a phone that lost its signal, an answer is queued
// (and kept across a reload), shown at once, and delivered exactly once
// when the connection returns; a decline asks for a reason.
func TestWorkerOutbox(t *testing.T) {
	requireBuiltUI(t)
	srv := startFakeServer(t, t.TempDir(), "127.0.0.1:0")
	b := newBrowser(t)
	phone := openWorker(t, b, srv.url(), "w1-token")
	phone.setGeolocation(srv.url(), 39.55, 116.70) // Langfang
	phone.click(`label.switch`)
	phone.waitFor("on duty", `document.querySelector('#outbox').dataset.pending === '0' && document.querySelector('#duty').checked`, wait)

	// First offer: declined, with a reason.
	postIncidentNeeds(t, srv.url(), 39.538, 116.684, "III", "crisis_intervention", "none")
	phone.waitFor("first offer", `!document.querySelector('#offer').hidden`, wait)
	phone.click(`#decline-btn`)
	phone.waitFor("reason sheet", `document.querySelector('#decline').open`, wait)
	phone.click(`#decline input[value=far]`)
	phone.click(`#confirm-decline`)
	phone.waitFor("decline delivered", `document.querySelector('#offer').hidden && document.querySelector('#outbox').dataset.pending === '0'`, wait)

	// Second offer: accepted while offline, then the page is reloaded.
	postIncidentNeeds(t, srv.url(), 39.540, 116.690, "II", "crisis_intervention", "none")
	phone.waitFor("second offer", `!document.querySelector('#offer').hidden`, wait)
	setOffline(t, phone, true)
	phone.waitFor("offline", `document.querySelector('#conn').dataset.state === 'offline'`, wait)
	phone.click(`#accept`)
	phone.waitFor("accept queued and shown", `document.querySelector('#outbox').dataset.pending === '1' && document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)
	stored := eval[string](phone, `localStorage.getItem('dispatch.outbox.w1')`)
	if !strings.Contains(stored, `"type":"answer"`) || !strings.Contains(stored, `"accept":true`) {
		t.Fatalf("outbox in localStorage = %s, want the queued accept", stored)
	}
	setOffline(t, phone, false)
	phone.navigate(srv.url() + "/worker")
	phone.waitFor("accept delivered after reload", `document.querySelector('#outbox').dataset.pending === '0' && document.querySelector('#current p.state')?.dataset.state === 'accepted'`, wait)

	srv.mu.Lock()
	defer srv.mu.Unlock()
	accepted, declined := 0, 0
	for _, ev := range srv.st.Events {
		switch ev.Type {
		case "assignment.accepted":
			accepted++
		case "assignment.declined":
			declined++
			if !strings.Contains(string(ev.Data), "距离太远") {
				t.Errorf("decline event %s lacks the reason", ev.Data)
			}
		}
	}
	if accepted != 1 || declined != 1 {
		t.Errorf("accepted %d, declined %d times; want exactly 1 each", accepted, declined)
	}
	phone.noPageErrors()
}
