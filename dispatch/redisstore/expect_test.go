package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func sum(v string) string {
	h := sha1.Sum([]byte(v))
	return hex.EncodeToString(h[:])
}

// TestExpect: a batch commits only if every expected record holds what the
// writer saw (or is absent when it expects absence); a refused batch
// writes nothing. Records reads what Commit wrote.
func TestExpect(t *testing.T) {
	e, _ := standalone(t)
	s := e.open(t, e.fresh(Options{}))
	ctx := context.Background()
	w1 := dispatch.RecordRef{Kind: dispatch.KindWorker, ID: "w1"}
	mustCommit(t, s, dispatch.Batch{
		Events:  events(1),
		Records: []dispatch.Record{{Kind: w1.Kind, ID: w1.ID, Value: []byte(`{"v":1}`)}},
		Expect:  []dispatch.Expect{{RecordRef: w1}},
	})
	for _, tc := range []struct {
		name   string
		expect []dispatch.Expect
		want   error
	}{
		{"absent but exists", []dispatch.Expect{{RecordRef: w1}}, dispatch.ErrStale},
		{"other value", []dispatch.Expect{{RecordRef: w1, SHA1: sum(`{"v":0}`)}}, dispatch.ErrStale},
		{"missing record", []dispatch.Expect{{RecordRef: w1, SHA1: sum(`{"v":1}`)},
			{RecordRef: dispatch.RecordRef{Kind: dispatch.KindIncident, ID: "i1"}, SHA1: sum(`{}`)}}, dispatch.ErrStale},
		{"as seen", []dispatch.Expect{{RecordRef: w1, SHA1: sum(`{"v":1}`)},
			{RecordRef: dispatch.RecordRef{Kind: dispatch.KindIncident, ID: "i1"}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := allEvents(t, s, 0)
			_, err := s.Commit(ctx, dispatch.Batch{
				Events:  events(1),
				Claims:  []dispatch.Claim{claim("w1", "a-"+tc.name)},
				Records: []dispatch.Record{{Kind: w1.Kind, ID: w1.ID, Value: []byte(`{"v":2}`)}},
				Expect:  tc.expect,
			})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("commit: got %v, want %v", err, tc.want)
			}
			after := allEvents(t, s, 0)
			if tc.want != nil && (len(after) != len(before) || len(claimsOf(t, s)) != 0) {
				t.Fatalf("refused commit wrote: got %d events and claims %v, want %d and none", len(after), claimsOf(t, s), len(before))
			}
		})
	}
	recs, err := s.Records(ctx, []dispatch.RecordRef{w1, {Kind: dispatch.KindIncident, ID: "i1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != "w1" || string(recs[0].Value) != `{"v":2}` {
		t.Fatalf("records: got %+v, want w1 only, as last written", recs)
	}
	if _, err := s.Commit(ctx, dispatch.Batch{Events: events(1), Expect: []dispatch.Expect{{RecordRef: w1, SHA1: "xyz"}}}); err == nil {
		t.Fatal("commit with a malformed sha1: got nil, want an error")
	}
}
