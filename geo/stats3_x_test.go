package geo

import (
	"math/rand/v2"
	"testing"
	"os"
	"strconv"
)

func BenchmarkXQuery(b *testing.B) {
	n := benchN()
	r := rand.New(rand.NewPCG(uint64(n), 2017))
	ix := NewIndex()
	for i := range n {
		ix.Upsert(ID(i), clusteredPoint(r), skilledAttrs(r))
	}
	var qs []Point
	for range 4096 {
		qs = append(qs, clusteredPoint(r))
	}
	var buf []Neighbor
	b.ResetTimer()
	for i := range b.N {
		buf, _ = ix.Nearest(qs[i%4096], 10, Filter{Skills: 1}, buf[:0])
	}
}

func BenchmarkXMove(b *testing.B) {
	n := benchN()
	r := rand.New(rand.NewPCG(uint64(n), 2017))
	ix := NewIndex()
	pts := make([]Point, n)
	for i := range n {
		pts[i] = clusteredPoint(r)
		ix.Upsert(ID(i), pts[i], skilledAttrs(r))
	}
	steps := make([]Point, 1<<16)
	for i := range steps {
		q := moveBy(r, Point{39.5, 116}, 50)
		steps[i] = Point{q.Lat - 39.5, q.Lng - 116}
	}
	b.ResetTimer()
	for i := range b.N {
		id := i % n
		st := steps[i&(1<<16-1)]
		pts[id] = Point{pts[id].Lat + st.Lat, pts[id].Lng + st.Lng}
		ix.Move(ID(id), pts[id])
	}
}

func benchN() int {
	if v := os.Getenv("XN"); v != "" {
		n, _ := strconv.Atoi(v)
		return n
	}
	return 100000
}
