package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// PlannedIncident is one incident of the schedule: when (scenario time
// from the start), which wave, and what the coordinator logs.
type PlannedIncident struct {
	At    time.Duration
	Wave  string
	Input dispatch.IncidentInput
}

// Schedule draws every incident of the scenario, in time order. Each wave
// is a Poisson process whose rate ramps linearly between its two rates;
// the same scenario and seed give the same schedule.
func Schedule(sc *Scenario) []PlannedIncident {
	var out []PlannedIncident
	for i, w := range sc.Incidents.Waves {
		r := newRand(sc.Seed, streamIncidents+uint64(i))
		for _, at := range arrivals(r, w) {
			out = append(out, PlannedIncident{At: at, Wave: w.Name, Input: drawIncident(r, sc, w)})
		}
	}
	slices.SortStableFunc(out, func(a, b PlannedIncident) int { return cmp.Compare(a.At, b.At) })
	return out
}

// arrivals draws a wave's incident times by thinning: candidates at the
// peak rate, each kept with probability rate(t) / peak.
func arrivals(r *rand.Rand, w Wave) []time.Duration {
	start, end := w.Start.D().Hours(), w.End.D().Hours()
	peak := max(w.PerHour[0], w.PerHour[1])
	var out []time.Duration
	for t := start; ; {
		t += r.ExpFloat64() / peak
		if t >= end {
			return out
		}
		frac := (t - start) / (end - start)
		rate := w.PerHour[0] + frac*(w.PerHour[1]-w.PerHour[0])
		if r.Float64()*peak < rate {
			out = append(out, time.Duration(t*float64(time.Hour)))
		}
	}
}

func drawIncident(r *rand.Rand, sc *Scenario, w Wave) dispatch.IncidentInput {
	place := w.Places[pickWeighted(r, placeWeights(w.Places))]
	kinds := sc.Incidents.Kinds
	kw := make([]float64, len(kinds))
	for i, k := range kinds {
		kw[i] = k.Weight
	}
	k := kinds[pickWeighted(r, kw)]
	in := dispatch.IncidentInput{
		Type:            k.Type,
		Severity:        dispatch.Severity(pickKey(r, k.Severity)),
		Position:        around(r, place),
		Region:          place.Region,
		Needs:           drawNeeds(r, k.Needs),
		NeedsSupervisor: r.Float64() < k.Supervisor,
	}
	if len(in.Needs) == 0 {
		in.NeedsSupervisor = true // the engine wants some need; validation allows this only with supervisor 1
	}
	if len(k.Notes) > 0 {
		in.Notes = k.Notes[r.IntN(len(k.Notes))]
	}
	return in
}

func drawNeeds(r *rand.Rand, specs []NeedSpec) []dispatch.NeedInput {
	var out []dispatch.NeedInput
	for _, n := range specs {
		if n.Chance > 0 && r.Float64() >= n.Chance {
			continue
		}
		count := n.Count[0] + r.IntN(n.Count[1]-n.Count[0]+1)
		out = append(out, dispatch.NeedInput{Skill: n.Skill, Count: count, MinCert: n.MinCert})
	}
	if len(out) == 0 && len(specs) > 0 {
		n := specs[0] // every need was left out by chance: keep the first
		out = append(out, dispatch.NeedInput{Skill: n.Skill, Count: n.Count[0], MinCert: n.MinCert})
	}
	return out
}
