package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/jjj-social-work/dispatch/geo"
)

// Member is one generated member of the team: the roster line the
// simulator upserts, where they live and whether they start on duty.
type Member struct {
	Index  int
	Worker dispatch.WorkerInput
	Home   geo.Point
	OnDuty bool
}

// GenerateTeam draws the scenario's team. The same scenario and seed give
// the same team, member for member.
func GenerateTeam(sc *Scenario) []Member {
	r := newRand(sc.Seed, streamTeam)
	counts := apportion(sc.Team.Size, regionShares(sc.Team.Regions))
	out := make([]Member, 0, sc.Team.Size)
	for ri, reg := range sc.Team.Regions {
		for n := range counts[ri] {
			out = append(out, newMember(r, sc, reg, n, len(out)))
		}
	}
	return out
}

func regionShares(rs []RegionTeam) []float64 {
	w := make([]float64, len(rs))
	for i, r := range rs {
		w[i] = r.Share
	}
	return w
}

// apportion splits total by weights with the largest-remainder method, so
// the counts add up exactly and follow the weights as closely as whole
// people can.
func apportion(total int, w []float64) []int {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	counts := make([]int, len(w))
	rem := make([]float64, len(w))
	given := 0
	for i, x := range w {
		exact := float64(total) * x / sum
		counts[i] = int(math.Floor(exact))
		rem[i] = exact - float64(counts[i])
		given += counts[i]
	}
	order := make([]int, len(w))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for k := 0; given < total; k++ {
		counts[order[k%len(order)]]++
		given++
	}
	return counts
}

func newMember(r *rand.Rand, sc *Scenario, reg RegionTeam, n, index int) Member {
	place := reg.Places[pickWeighted(r, placeWeights(reg.Places))]
	home := around(r, place)
	supervisor := r.Float64() < sc.Team.Supervisors
	cert := pickKey(r, sc.Team.Certs)
	if supervisor && (cert == "none" || cert == "assistant") {
		cert = "intermediate" // the supervision team is experienced social workers
	}
	agency := place.Agency
	if agency == "" {
		agency = place.Name + "社会工作服务站"
	}
	id := fmt.Sprintf("%s-%05d", reg.Code, n+1)
	if sc.Team.IDPrefix != "" {
		id = sc.Team.IDPrefix + "-" + id
	}
	w := dispatch.WorkerInput{
		ID:         id,
		Name:       syntheticName(r),
		HomeRegion: reg.Code,
		Agency:     agency,
		Cert:       cert,
		Skills:     drawSkills(r, sc.Team.Skills),
		Languages:  []string{"zh"},
		Supervisor: supervisor,
		Position:   &home,
	}
	return Member{Index: index, Worker: w, Home: home, OnDuty: r.Float64() < sc.Team.OnDuty}
}

// drawSkills gives each skill with its probability and at least one.
func drawSkills(r *rand.Rand, odds map[string]float64) []string {
	var out []string
	for _, s := range sortedKeys(odds) {
		if r.Float64() < odds[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = append(out, pickKey(r, odds))
	}
	return out
}

// Synthetic names: common surnames and given names, combined at random.
// They stand for no one.
var (
	surnames   = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗"}
	givenNames = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "文", "晓东", "海燕"}
)

func syntheticName(r *rand.Rand) string {
	return surnames[r.IntN(len(surnames))] + givenNames[r.IntN(len(givenNames))]
}
