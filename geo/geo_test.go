package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"
)

var validateCases = []struct {
	name  string
	p     Point
	field string // "" when valid
}{
	{"beijing", Point{39.904, 116.407}, ""},
	{"origin", Point{0, 0}, ""},
	{"north pole", Point{90, 0}, ""},
	{"south pole", Point{-90, 0}, ""},
	{"antimeridian east", Point{10, 180}, ""},
	{"antimeridian west", Point{10, -180}, ""},
	{"lat NaN", Point{math.NaN(), 116}, "lat"},
	{"lng NaN", Point{39, math.NaN()}, "lng"},
	{"both NaN", Point{math.NaN(), math.NaN()}, "lat"},
	{"lat +Inf", Point{math.Inf(1), 116}, "lat"},
	{"lat -Inf", Point{math.Inf(-1), 116}, "lat"},
	{"lng +Inf", Point{39, math.Inf(1)}, "lng"},
	{"lng -Inf", Point{39, math.Inf(-1)}, "lng"},
	{"lat above 90", Point{90.000001, 0}, "lat"},
	{"lat below -90", Point{-91, 0}, "lat"},
	{"lng above 180", Point{0, 180.0000001}, "lng"},
	{"lng below -180", Point{0, -540}, "lng"},
	{"swapped beijing", Point{116.407, 39.904}, "lat"},
}

func TestValidate(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var pe *PointError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want *PointError", err)
			}
			if pe.Field != tc.field {
				t.Errorf("got field %q, want %q", pe.Field, tc.field)
			}
			if !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("got errors.Is(err, ErrInvalidPoint) false, want true")
			}
		})
	}
}

// TestInvalidPointsNeverIndexed drives every way a point enters the index
// with the invalid table points.
func TestInvalidPointsNeverIndexed(t *testing.T) {
	for _, tc := range validateCases {
		if tc.field == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			ix := NewIndex()
			if err := ix.Upsert(1, Point{39.9, 116.4}, Attrs{}); err != nil {
				t.Fatal(err)
			}
			if err := ix.Upsert(2, tc.p, Attrs{}); !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("Upsert: got %v, want ErrInvalidPoint", err)
			}
			if ok, err := ix.Move(1, tc.p); ok || !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("Move: got %v, %v, want false, ErrInvalidPoint", ok, err)
			}
			if _, err := ix.Nearest(tc.p, 1, Filter{}, nil); !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("Nearest: got %v, want ErrInvalidPoint", err)
			}
			if _, err := CellOf(tc.p, 9); !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("CellOf: got %v, want ErrInvalidPoint", err)
			}
			if got := ix.Len(); got != 1 {
				t.Errorf("Len: got %d, want 1", got)
			}
			if p, _, _ := ix.Get(1); p != (Point{39.9, 116.4}) {
				t.Errorf("Get(1): got %v, want the original point", p)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	for _, tc := range validateCases {
		f.Add(tc.p.Lat, tc.p.Lng)
	}
	f.Fuzz(func(t *testing.T, lat, lng float64) {
		p := Point{lat, lng}
		err := p.Validate()
		finite := !math.IsNaN(lat) && !math.IsNaN(lng) && !math.IsInf(lat, 0) && !math.IsInf(lng, 0)
		want := finite && math.Abs(lat) <= 90 && math.Abs(lng) <= 180
		if (err == nil) != want {
			t.Fatalf("Validate(%v): got %v, want valid=%v", p, err, want)
		}
		if err != nil {
			var pe *PointError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPoint) {
				t.Fatalf("Validate(%v): got %T %v, want *PointError", p, err, err)
			}
			return
		}
		// A valid point must index to a cell that contains it (no wrap).
		c, err := CellOf(p, 5)
		if err != nil || !c.Valid() {
			t.Fatalf("CellOf(%v): got %v, %v, want a valid cell", p, c, err)
		}
		if d := DistanceMeters(p, c.Center()); d > 20_000 {
			t.Fatalf("CellOf(%v): centre %v is %.0f m away, want within a res-5 cell", p, c.Center(), d)
		}
	})
}

func TestDistanceMeters(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64 // metres
		tol  float64
	}{
		{"same point", Point{39.904, 116.407}, Point{39.904, 116.407}, 0, 0},
		{"one degree of latitude", Point{0, 0}, Point{1, 0}, 111195.08, 0.01},
		{"beijing to tianjin", Point{39.904, 116.407}, Point{39.343, 117.362}, 102865.7, 0.1}, // h3 with its radius: 102865.70
		{"antipodes", Point{0, 0}, Point{0, 180}, math.Pi * EarthRadiusMeters, 0.5},
		{"across antimeridian", Point{0, 179.5}, Point{0, -179.5}, 111195.08, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DistanceMeters(tt.a, tt.b)
			if math.Abs(got-tt.want) > tt.tol {
				t.Errorf("got %.2f, want %.2f ± %.2f", got, tt.want, tt.tol)
			}
			if back := DistanceMeters(tt.b, tt.a); math.Abs(back-got) > 1e-6 {
				t.Errorf("reverse: got %.6f, want %.6f", back, got)
			}
		})
	}
}

// TestDistanceMatchesIndependentFormula compares DistanceMeters (haversine
// with the angle-sum cosine and a series sine) with h3's own great-circle
// distance, scaled to our radius, over short and long pairs.
func TestDistanceMatchesIndependentFormula(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 100_000 {
		a := genPoint(r, 5)
		b := genPoint(r, 5)
		if i%2 == 0 {
			b = moveBy(r, a, 10_000*r.Float64())
		}
		got := DistanceMeters(a, b)
		want := h3.GreatCircleDistanceRads(h3.LatLng{Lat: a.Lat, Lng: a.Lng}, h3.LatLng{Lat: b.Lat, Lng: b.Lng}) * EarthRadiusMeters
		if math.Abs(got-want) > 1e-9*want+1e-6 {
			t.Fatalf("%v to %v: got %.9f, want %.9f", a, b, got, want)
		}
	}
}

func TestSinHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1_000_000 {
		x := (r.Float64()*2 - 1) * math.Pow(2, -30*r.Float64()) // many scales up to 1
		if r.IntN(10) == 0 {
			x *= 7
		}
		got, want := sinHalf(x), math.Sin(x/2)
		ulp := math.Nextafter(math.Abs(want), 2) - math.Abs(want)
		if math.Abs(got-want) > 2*ulp {
			t.Fatalf("sinHalf(%g): got %.17g, want %.17g", x, got, want)
		}
	}
}
