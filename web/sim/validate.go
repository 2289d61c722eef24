package sim

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// Bounds of a scenario: a file is configuration, and a typo must not ask
// for a million workers or a year of incidents.
const (
	maxTeam         = 100_000
	maxDuration     = 7 * 24 * time.Hour
	maxSpeed        = 10_000
	maxPlaces       = 64
	maxWaves        = 100
	maxKinds        = 50
	maxNeedsPerKind = 20
	maxCoordinators = 100
	maxPerHour      = 100_000
	maxIncidents    = 100_000
	maxSpan         = 24 * time.Hour
	maxText         = 4000
)

var (
	severities = []string{"I", "II", "III", "IV"}
	idPrefixRe = regexp.MustCompile(`^[A-Za-z0-9]{0,16}$`)
)

// regionCodes are the regions the engine knows by default.
func regionCodes() []string {
	var out []string
	for _, r := range dispatch.DefaultRegions() {
		out = append(out, r.Code)
	}
	return out
}

// Validate checks the scenario against the engine's skills (nil means
// dispatch.DefaultSkills) and the bounds above, returning the first
// problem as a *FieldError.
func (sc *Scenario) Validate(skills []string) error {
	if skills == nil {
		skills = dispatch.DefaultSkills()
	}
	v := validator{skills: skills, regions: regionCodes()}
	for _, check := range []func(*Scenario) *FieldError{v.top, v.team, v.behaviour, v.coordinators, v.incidents} {
		if fe := check(sc); fe != nil {
			return fe
		}
	}
	return nil
}

type validator struct {
	skills, regions []string
}

func (v validator) top(sc *Scenario) *FieldError {
	switch {
	case sc.Name == "" || len(sc.Name) > 64:
		return fieldErr("name", "want 1 to 64 bytes")
	case !utf8.ValidString(sc.Title) || len(sc.Title) > 200:
		return fieldErr("title", "want up to 200 bytes of text")
	case !utf8.ValidString(sc.Description) || len(sc.Description) > maxText:
		return fieldErr("description", "want up to %d bytes of text", maxText)
	case sc.Duration <= 0 || sc.Duration.D() > maxDuration:
		return fieldErr("duration", "want more than 0 and at most %v", maxDuration)
	case !inRange(sc.Speed, 0, maxSpeed) || sc.Speed == 0:
		return fieldErr("speed", "want more than 0 and at most %d", maxSpeed)
	}
	return nil
}

func (v validator) team(sc *Scenario) *FieldError {
	t := sc.Team
	switch {
	case t.Size < 1 || t.Size > maxTeam:
		return fieldErr("team.size", "want 1 to %d", maxTeam)
	case len(t.Regions) == 0 || len(t.Regions) > len(v.regions):
		return fieldErr("team.regions", "want 1 to %d regions", len(v.regions))
	case !inRange(t.OnDuty, 0, 1):
		return fieldErr("team.on_duty", "want a share from 0 to 1")
	case !inRange(t.Supervisors, 0, 1):
		return fieldErr("team.supervisors", "want a share from 0 to 1")
	case !idPrefixRe.MatchString(t.IDPrefix):
		return fieldErr("team.id_prefix", "want up to 16 letters or digits")
	}
	seen := map[string]bool{}
	for i, r := range t.Regions {
		f := fmt.Sprintf("team.regions[%d]", i)
		switch {
		case !slices.Contains(v.regions, r.Code):
			return fieldErr(f+".code", "unknown region %q, want one of %v", r.Code, v.regions)
		case seen[r.Code]:
			return fieldErr(f+".code", "region %q listed twice", r.Code)
		case !inRange(r.Share, 0, 1e9) || r.Share == 0:
			return fieldErr(f+".share", "want a positive weight up to 1e9")
		}
		seen[r.Code] = true
		if fe := v.places(f+".places", r.Places); fe != nil {
			return fe
		}
	}
	if fe := weights("team.certs", t.Certs, validCert); fe != nil {
		return fe
	}
	return v.skillOdds(t.Skills)
}

func validCert(name string) bool {
	_, err := dispatch.ParseCert(name)
	return err == nil && name != ""
}

func (v validator) skillOdds(m map[string]float64) *FieldError {
	anyPos := false
	for _, k := range sortedKeys(m) {
		f := "team.skills." + k
		if !slices.Contains(v.skills, k) {
			return fieldErr(f, "unknown skill, want one of %v", v.skills)
		}
		if !inRange(m[k], 0, 1) {
			return fieldErr(f, "want a probability from 0 to 1")
		}
		anyPos = anyPos || m[k] > 0
	}
	if !anyPos {
		return fieldErr("team.skills", "at least one skill needs a probability above 0")
	}
	return nil
}

// weights checks a map of non-negative weights with known keys and a
// positive sum.
func weights(field string, m map[string]float64, known func(string) bool) *FieldError {
	sum := 0.0
	for _, k := range sortedKeys(m) {
		if !known(k) {
			return fieldErr(field+"."+k, "unknown key")
		}
		if !inRange(m[k], 0, 1e9) {
			return fieldErr(field+"."+k, "want a weight from 0 to 1e9")
		}
		sum += m[k]
	}
	if sum <= 0 {
		return fieldErr(field, "want at least one positive weight")
	}
	return nil
}

func (v validator) places(field string, ps []Place) *FieldError {
	if len(ps) == 0 || len(ps) > maxPlaces {
		return fieldErr(field, "want 1 to %d places", maxPlaces)
	}
	for i, p := range ps {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case p.Name == "" || len(p.Name) > 200 || !utf8.ValidString(p.Name):
			return fieldErr(f+".name", "want 1 to 200 bytes of text")
		case !inRange(p.Lat, -90, 90):
			return fieldErr(f+".lat", "want a latitude from -90 to 90")
		case !inRange(p.Lng, -180, 180):
			return fieldErr(f+".lng", "want a longitude from -180 to 180")
		case !inRange(p.Weight, 0, 1e9) || p.Weight == 0:
			return fieldErr(f+".weight", "want a positive weight")
		case !inRange(p.SpreadKm, 0, 200):
			return fieldErr(f+".spread_km", "want 0 to 200")
		case len(p.Agency) > 200 || !utf8.ValidString(p.Agency):
			return fieldErr(f+".agency", "want up to 200 bytes of text")
		case p.Region != "" && !slices.Contains(v.regions, p.Region):
			return fieldErr(f+".region", "unknown region %q", p.Region)
		}
	}
	return nil
}

func (v validator) behaviour(sc *Scenario) *FieldError {
	b := sc.Behaviour
	switch {
	case !inRange(b.Accept, 0, 1):
		return fieldErr("behaviour.accept", "want a probability from 0 to 1")
	case !inRange(b.Decline, 0, 1) || b.Accept+b.Decline > 1+1e-9:
		return fieldErr("behaviour.decline", "want a probability from 0 to 1 - accept")
	case !inRange(b.TravelKmh, 0, 300) || b.TravelKmh == 0:
		return fieldErr("behaviour.travel_kmh", "want more than 0 and at most 300")
	case b.MoveEvery.D() < time.Second || b.MoveEvery.D() > time.Hour:
		return fieldErr("behaviour.move_every", "want 1s to 1h")
	case !inRange(b.WalkM, 0, 10_000):
		return fieldErr("behaviour.walk_m", "want 0 to 10000 metres")
	case b.DutyEvery < 0 || b.DutyEvery.D() > maxDuration:
		return fieldErr("behaviour.duty_every", "want 0 (fixed) to %v", maxDuration)
	}
	for _, s := range []struct {
		name string
		span Span
	}{{"answer_after", b.AnswerAfter}, {"en_route_after", b.EnRouteAfter}, {"on_scene_for", b.OnSceneFor}} {
		if s.span.Min < 0 || s.span.Max < s.span.Min || s.span.Max.D() > maxSpan {
			return fieldErr("behaviour."+s.name, "want 0 <= min <= max <= %v", maxSpan)
		}
	}
	return nil
}

func (v validator) coordinators(sc *Scenario) *FieldError {
	if len(sc.Coordinators) == 0 || len(sc.Coordinators) > maxCoordinators {
		return fieldErr("coordinators", "want 1 to %d desks", maxCoordinators)
	}
	for i, c := range sc.Coordinators {
		f := fmt.Sprintf("coordinators[%d]", i)
		if c.Name == "" || len(c.Name) > 200 || !utf8.ValidString(c.Name) {
			return fieldErr(f+".name", "want 1 to 200 bytes of text")
		}
		for j, r := range c.Regions {
			if !slices.Contains(v.regions, r) || slices.Index(c.Regions, r) != j {
				return fieldErr(fmt.Sprintf("%s.regions[%d]", f, j), "unknown or repeated region %q", r)
			}
		}
	}
	return nil
}

func (v validator) incidents(sc *Scenario) *FieldError {
	p := sc.Incidents
	if len(p.Waves) == 0 || len(p.Waves) > maxWaves {
		return fieldErr("incidents.waves", "want 1 to %d waves", maxWaves)
	}
	expected := 0.0
	for i, w := range p.Waves {
		fe := v.wave(sc, fmt.Sprintf("incidents.waves[%d]", i), w)
		if fe != nil {
			return fe
		}
		expected += (w.PerHour[0] + w.PerHour[1]) / 2 * (w.End - w.Start).D().Hours()
	}
	if expected > maxIncidents {
		return fieldErr("incidents.waves", "about %.0f incidents expected, at most %d allowed", expected, maxIncidents)
	}
	if len(p.Kinds) == 0 || len(p.Kinds) > maxKinds {
		return fieldErr("incidents.kinds", "want 1 to %d kinds", maxKinds)
	}
	for i, k := range p.Kinds {
		if fe := v.kind(fmt.Sprintf("incidents.kinds[%d]", i), k); fe != nil {
			return fe
		}
	}
	return nil
}

func (v validator) wave(sc *Scenario, f string, w Wave) *FieldError {
	switch {
	case w.Name == "" || len(w.Name) > 200 || !utf8.ValidString(w.Name):
		return fieldErr(f+".name", "want 1 to 200 bytes of text")
	case w.Start < 0:
		return fieldErr(f+".start", "must not be negative")
	case w.End <= w.Start || w.End > sc.Duration:
		return fieldErr(f+".end", "want after start and at most the scenario's duration")
	case !inRange(w.PerHour[0], 0, maxPerHour) || !inRange(w.PerHour[1], 0, maxPerHour):
		return fieldErr(f+".per_hour", "want two rates from 0 to %d", maxPerHour)
	case w.PerHour[0]+w.PerHour[1] == 0:
		return fieldErr(f+".per_hour", "at least one rate must be positive")
	}
	if fe := v.places(f+".places", w.Places); fe != nil {
		return fe
	}
	for i, p := range w.Places {
		if loggerFor(sc.Coordinators, p.Region) < 0 {
			return fieldErr(fmt.Sprintf("%s.places[%d].region", f, i),
				"no coordinator may log incidents here: add a desk without regions or one with region %q", p.Region)
		}
	}
	return nil
}

func (v validator) kind(f string, k Kind) *FieldError {
	switch {
	case !slices.Contains(dispatch.IncidentTypes(), k.Type):
		return fieldErr(f+".type", "unknown type %q, want one of %v", k.Type, dispatch.IncidentTypes())
	case !inRange(k.Weight, 0, 1e9) || k.Weight == 0:
		return fieldErr(f+".weight", "want a positive weight")
	case !inRange(k.Supervisor, 0, 1):
		return fieldErr(f+".supervisor", "want a probability from 0 to 1")
	case len(k.Needs) > maxNeedsPerKind:
		return fieldErr(f+".needs", "at most %d needs", maxNeedsPerKind)
	case len(k.Needs) == 0 && k.Supervisor < 1:
		return fieldErr(f+".needs", "want at least one need (or supervisor 1)")
	case len(k.Notes) > 20:
		return fieldErr(f+".notes", "at most 20 notes")
	}
	if fe := weights(f+".severity", k.Severity, func(s string) bool { return slices.Contains(severities, s) }); fe != nil {
		return fe
	}
	for i, n := range k.Notes {
		if len(n) > maxText || !utf8.ValidString(n) {
			return fieldErr(fmt.Sprintf("%s.notes[%d]", f, i), "want up to %d bytes of text", maxText)
		}
	}
	slots := 0
	for i, n := range k.Needs {
		nf := fmt.Sprintf("%s.needs[%d]", f, i)
		switch {
		case !slices.Contains(v.skills, n.Skill):
			return fieldErr(nf+".skill", "unknown skill %q, want one of %v", n.Skill, v.skills)
		case n.Count[0] < 1 || n.Count[1] < n.Count[0] || n.Count[1] > 100:
			return fieldErr(nf+".count", "want [min, max] with 1 <= min <= max <= 100")
		case n.MinCert != "" && !validCert(n.MinCert):
			return fieldErr(nf+".min_cert", "unknown certification %q", n.MinCert)
		case !inRange(n.Chance, 0, 1):
			return fieldErr(nf+".chance", "want a probability from 0 to 1 (0: always)")
		}
		slots += n.Count[1]
	}
	if slots > 199 {
		return fieldErr(f+".needs", "at most 199 workers per incident in all")
	}
	return nil
}

// loggerFor returns the index of the desk that logs incidents of region,
// or -1: the first desk without regions, else the first covering region.
func loggerFor(cs []CoordinatorSpec, region string) int {
	for i, c := range cs {
		if len(c.Regions) == 0 {
			return i
		}
	}
	for i, c := range cs {
		if region != "" && slices.Contains(c.Regions, region) {
			return i
		}
	}
	return -1
}

func inRange(f, lo, hi float64) bool {
	return !math.IsNaN(f) && f >= lo && f <= hi
}
