package memstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func TestClaims(t *testing.T) {
	ctx := context.Background()
	s := New()
	commit := func(b dispatch.Batch) error { _, err := s.Commit(ctx, b); return err }
	if err := commit(dispatch.Batch{Claims: []dispatch.Claim{{WorkerID: "w", AssignmentID: "a1"}}}); err != nil {
		t.Fatal(err)
	}
	err := commit(dispatch.Batch{Claims: []dispatch.Claim{{WorkerID: "w", AssignmentID: "a2"}},
		Events: []dispatch.Event{{Type: "x"}}, Records: []dispatch.Record{{Kind: "k", ID: "i", Value: []byte(`1`)}}})
	if !errors.Is(err, dispatch.ErrClaimed) {
		t.Fatalf("got %v, want ErrClaimed", err)
	}
	if evs, _ := s.EventsAfter(ctx, 0, 0); len(evs) != 0 {
		t.Fatalf("got %d events from a refused batch, want 0", len(evs))
	}
	if err := commit(dispatch.Batch{Releases: []string{"w"}, Claims: []dispatch.Claim{{WorkerID: "w", AssignmentID: "a2"}}}); err != nil {
		t.Fatalf("release and claim in one batch: %v", err)
	}
	if got := s.Claims()["w"]; got != "a2" {
		t.Fatalf("got claim %q, want a2", got)
	}
	if s.Refusals() != 1 {
		t.Fatalf("got %d refusals, want 1", s.Refusals())
	}
}

func TestLogFollowAndTruncate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := New()
	for range 5 {
		if _, err := s.Commit(ctx, dispatch.Batch{Events: []dispatch.Event{{Type: "a"}, {Type: "b"}}}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.EventsAfter(ctx, 3, 4)
	if err != nil || len(evs) != 4 || evs[0].Seq != 4 || evs[3].Seq != 7 {
		t.Fatalf("got %v (%v), want seq 4..7", evs, err)
	}
	got := make(chan uint64, 100)
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.Follow(fctx, 8, func(evs []dispatch.Event) {
			for _, e := range evs {
				got <- e.Seq
			}
		})
	}()
	if _, err := s.Commit(ctx, dispatch.Batch{Events: []dispatch.Event{{Type: "c"}}}); err != nil {
		t.Fatal(err)
	}
	for want := uint64(9); want <= 11; want++ {
		if seq := <-got; seq != want {
			t.Fatalf("follow: got seq %d, want %d", seq, want)
		}
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("follow: got %v, want context.Canceled", err)
	}
	s.TruncateBefore(6)
	if _, err := s.EventsAfter(ctx, 4, 0); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Fatalf("got %v, want ErrLogTruncated", err)
	}
	if evs, err := s.EventsAfter(ctx, 5, 0); err != nil || evs[0].Seq != 6 {
		t.Fatalf("got %v (%v), want from seq 6", evs, err)
	}
	if err := s.Follow(ctx, 0, func([]dispatch.Event) {}); !errors.Is(err, dispatch.ErrLogTruncated) {
		t.Fatalf("follow from 0: got %v, want ErrLogTruncated", err)
	}
	last, err := s.Load(ctx, func(dispatch.Record) error { return nil })
	if err != nil || last != 11 {
		t.Fatalf("got last seq %d (%v), want 11", last, err)
	}
}
