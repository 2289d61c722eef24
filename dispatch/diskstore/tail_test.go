package diskstore

import (
	"slices"
	"testing"

	"github.com/jjj-social-work/dispatch/dispatch"
)

func TestTail(t *testing.T) {
	seqs := func(evs []dispatch.Event) []uint64 {
		out := make([]uint64, len(evs))
		for i, e := range evs {
			out[i] = e.Seq
		}
		return out
	}
	tests := []struct {
		name      string
		pushed    uint64 // seqs 1..pushed
		dropUpTo  uint64
		from, n   uint64
		wantFirst uint64
		want      []uint64
	}{
		{"empty", 0, 0, 1, 5, 0, nil},
		{"partly full", 3, 0, 2, 5, 1, []uint64{2, 3}},
		{"wrapped", 7, 0, 3, 10, 3, []uint64{3, 4, 5, 6, 7}},
		{"wrapped, limited", 7, 0, 4, 2, 3, []uint64{4, 5}},
		{"dropped", 7, 5, 6, 10, 6, []uint64{6, 7}},
		{"dropped all", 7, 9, 8, 10, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTail(5)
			for s := uint64(1); s <= tt.pushed; s++ {
				tl.push(dispatch.Event{Seq: s})
			}
			tl.dropThrough(tt.dropUpTo)
			if got := tl.firstSeq(); got != tt.wantFirst {
				t.Errorf("firstSeq: got %d, want %d", got, tt.wantFirst)
			}
			if !tl.covers(tt.from) {
				if tt.want != nil {
					t.Fatalf("covers(%d): got false, want true", tt.from)
				}
				return
			}
			if got := seqs(tl.copyFrom(tt.from, tt.n)); !slices.Equal(got, tt.want) {
				t.Errorf("copyFrom(%d, %d): got %v, want %v", tt.from, tt.n, got, tt.want)
			}
		})
	}
}
