package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestCellOf(t *testing.T) {
	tests := []struct {
		name    string
		p       Point
		res     int
		want    string
		wantErr error
	}{
		{"beijing res 8", Point{39.904, 116.407}, 8, "8831aa4283fffff", nil},
		{"beijing res 0", Point{39.904, 116.407}, 0, "8031fffffffffff", nil},
		{"res 15", Point{39.904, 116.407}, 15, "", nil},
		{"res too fine", Point{39.904, 116.407}, 16, "", ErrInvalidResolution},
		{"negative res", Point{39.904, 116.407}, -1, "", ErrInvalidResolution},
		{"NaN", Point{0, 0 / zero}, 5, "", ErrInvalidPoint},
		{"lat out of range", Point{91, 0}, 5, "", ErrInvalidPoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CellOf(tt.p, tt.res)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !c.Valid() || c.Res() != tt.res {
				t.Errorf("got cell %v res %d valid %v, want a valid res-%d cell", c, c.Res(), c.Valid(), tt.res)
			}
			if tt.want != "" && c.String() != tt.want {
				t.Errorf("got %s, want %s", c, tt.want)
			}
		})
	}
}

var zero float64

func TestCellParseAndText(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"8831aa4283fffff", false},
		{"8031fffffffffff", false},
		{"", true},
		{"0", true},
		{"zz", true},
		{"8831aa4283ffff", true},   // resolution digits do not match
		{"ffffffffffffffff", true}, // not a cell
		{"0x8831aa4283fffff", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseCell(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, %v, want error %v", c, err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidCell) {
					t.Errorf("got %v, want ErrInvalidCell", err)
				}
				return
			}
			if c.String() != tt.in {
				t.Errorf("round trip: got %s, want %s", c, tt.in)
			}
		})
	}
	// A map[Cell]int encodes with H3 strings as keys and decodes back.
	m := map[Cell]int{mustCell(t, Point{39.904, 116.407}, 5): 3}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"8531aa43fffffff":3}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back map[Cell]int
	if err := json.Unmarshal(b, &back); err != nil || back[mustCell(t, Point{39.904, 116.407}, 5)] != 3 {
		t.Errorf("got %v, %v, want the same map", back, err)
	}
	if err := json.Unmarshal([]byte(`{"nope":1}`), &back); !errors.Is(err, ErrInvalidCell) {
		t.Errorf("got %v, want ErrInvalidCell", err)
	}
}

func FuzzParseCell(f *testing.F) {
	for _, s := range []string{"8831aa4283fffff", "8031fffffffffff", "", "0", "zz", "ffffffffffffffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCell(s)
		if err != nil {
			return
		}
		if !c.Valid() {
			t.Fatalf("ParseCell(%q) accepted invalid %v", s, c)
		}
		// Everything a valid cell offers must work without panicking.
		if b := c.Boundary(); len(b) < 5 {
			t.Fatalf("ParseCell(%q): boundary %v, want 5 or more vertices", s, b)
		}
		if p := c.Center(); p.Validate() != nil {
			t.Fatalf("ParseCell(%q): centre %v invalid", s, p)
		}
		if c.Parent(0).Res() != 0 {
			t.Fatalf("ParseCell(%q): parent res %d, want 0", s, c.Parent(0).Res())
		}
	})
}

func mustCell(t *testing.T, p Point, res int) Cell {
	t.Helper()
	c, err := CellOf(p, res)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestParentBits checks the cgo-free parent against h3 itself.
func TestParentBits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		p := genPoint(r, 5)
		res := r.IntN(16)
		c := mustCell(t, p, res)
		for pr := 0; pr <= res; pr++ {
			want := Cell(h3.Cell(int64(c)).Parent(pr))
			if got := c.Parent(pr); got != want {
				t.Fatalf("Parent(%v, %d): got %v, want %v", c, pr, got, want)
			}
		}
	}
	if got := Cell(0).Parent(3); got != 0 {
		t.Errorf("invalid cell: got %v, want 0", got)
	}
	if c := mustCell(t, Point{39.9, 116.4}, 5); c.Parent(9) != c {
		t.Errorf("finer parent: got %v, want %v", c.Parent(9), c)
	}
}

func TestCellBoundary(t *testing.T) {
	c := mustCell(t, Point{39.904, 116.407}, 9)
	b := c.Boundary()
	if len(b) != 6 {
		t.Fatalf("got %d vertices, want 6", len(b))
	}
	ctr := c.Center()
	for _, v := range b {
		// A res-9 edge is about 200 m; every vertex is that far from the centre.
		if d := DistanceMeters(ctr, v); d < 150 || d > 250 {
			t.Errorf("vertex %v: got %.0f m from centre, want 150..250", v, d)
		}
	}
	if got := Cell(0).Boundary(); got != nil {
		t.Errorf("invalid cell: got %v, want nil", got)
	}
	if got := Cell(12345).Center(); got != (Point{}) {
		t.Errorf("invalid cell centre: got %v, want zero", got)
	}
}

func TestCountByCell(t *testing.T) {
	ix := NewIndex()
	r := rand.New(rand.NewPCG(5, 5))
	ref := make(map[ID]refWorker)
	for id := range ID(3000) {
		w := refWorker{clusteredPoint(r), randomAttrs(r)}
		ref[id] = w
		ix.Upsert(id, w.p, w.a)
	}
	for id := range ID(500) {
		w := ref[id]
		w.p = moveBy(r, w.p, 200)
		ref[id] = w
		ix.Move(id, w.p)
	}
	filters := map[string]Filter{
		"all":       {},
		"skill":     {Skills: 1},
		"available": {OnlyAvailable: true, MinCert: 2},
		"accept":    {Accept: func(id ID) bool { return id%3 == 0 }},
		"nobody":    {MinCert: 9},
	}
	for _, res := range []int{0, 3, 5, 6, 7, 8, 9, 11} {
		for name, f := range filters {
			t.Run(fmt.Sprintf("%s/res=%d", name, res), func(t *testing.T) {
				want := make(map[Cell]int)
				for id, w := range ref {
					if f.Match(w.a) && (f.Accept == nil || f.Accept(id)) {
						want[mustCell(t, w.p, res)]++
					}
				}
				got := ix.CountByCell(res, f)
				if len(got) != len(want) {
					t.Fatalf("got %d cells, want %d", len(got), len(want))
				}
				for c, n := range want {
					if got[c] != n {
						t.Fatalf("cell %v: got %d, want %d", c, got[c], n)
					}
				}
			})
		}
	}
	for _, res := range []int{-1, 16} {
		if got := ix.CountByCell(res, Filter{}); got != nil {
			t.Errorf("res %d: got %v, want nil", res, got)
		}
	}
}
