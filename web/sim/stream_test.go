package sim

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
	"github.com/jjj-social-work/dispatch/web"
	"github.com/jjj-social-work/dispatch/web/sim/simtest"
)

// A worker that sends faster than the server allows is told to slow down;
// the stream resends until every message is acknowledged, applying none
// twice.
func TestStreamResendsRateLimited(t *testing.T) {
	srv := simtest.Start(t, simtest.Options{})
	p := geo.Point{Lat: 39, Lng: 116}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Engine.UpsertWorkers(ctx, []dispatch.WorkerInput{{ID: "W1", Name: "w", HomeRegion: "HE",
		Skills: []string{"crisis_intervention"}, Position: &p}}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := srv.Creds.Issue(web.IssueRequest{Name: "w", Role: web.RoleWorker, WorkerID: "W1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := newStreamConn(streamConfig{api: newAPIClient(srv.URL, tok, http.DefaultClient),
		dialer: websocket.DefaultDialer, onEvent: func(eventHead, []byte) {}})
	if err := s.connect(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	ids := &msgIDs{prefix: runPrefix()}
	const n = 30 // the server allows a burst of 20, then 5 a second
	for i := range n {
		id := ids.next()
		s.sendTracked(id, positionMessage(id, geo.Point{Lat: 39, Lng: 116 + float64(i)/1000}))
	}
	for {
		s.wmu.Lock()
		left := len(s.pending)
		s.wmu.Unlock()
		if left == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("got %d messages still unacknowledged, want none", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.stats.Retries.Load() == 0 {
		t.Error("got no resends, want some: the server should have rate-limited 30 messages at once")
	}
	w, _ := srv.Engine.Worker("W1")
	if want := 116 + float64(n-1)/1000; w.Position == nil || w.Position.Lng < 116 {
		t.Errorf("got position %+v, want one of the sent ones (last %.3f)", w.Position, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
