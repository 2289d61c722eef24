package dispatch

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("90s", "12h") so that policy files stay readable.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a short string: "12h", "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads a duration string such as "90s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"90s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// PerSeverity holds one value per severity level.
type PerSeverity[T any] struct {
	I   T `json:"I"`
	II  T `json:"II"`
	III T `json:"III"`
	IV  T `json:"IV"`
}

// Get returns the value for s; unknown severities get the value of IV.
func (p PerSeverity[T]) Get(s Severity) T {
	switch s {
	case SeverityI:
		return p.I
	case SeverityII:
		return p.II
	case SeverityIII:
		return p.III
	}
	return p.IV
}

func (p PerSeverity[T]) all() []T { return []T{p.I, p.II, p.III, p.IV} }

// Mutual-aid modes: when the search reaches workers of other regions.
const (
	MutualAidImmediate     = "immediate"      // from the first offer, with the out-of-region penalty
	MutualAidAfterUnfilled = "after_unfilled" // home region first; other regions once a slot is flagged unfilled
	MutualAidOff           = "off"            // home region only
)

// Policy is everything an administrator tunes about matching and offers.
// The zero value is not valid; start from DefaultPolicy. configs/policy.json
// holds the defaults.
type Policy struct {
	// Skills are the machine names of the skills, in bit order: at most 64,
	// and only appending keeps stored workers' skills meaning the same.
	Skills []string `json:"skills"`
	// Regions and Zones place incidents that come without a region.
	Regions []RegionDef `json:"regions"`
	Zones   []ZoneDef   `json:"zones,omitempty"`
	// RegionMaxKm rejects an incident without a region whose position is
	// farther than this from every region reference point.
	RegionMaxKm float64 `json:"region_max_km"`

	Rest     RestPolicy     `json:"rest"`
	Offers   OfferPolicy    `json:"offers"`
	Cost     CostPolicy     `json:"cost"`
	Travel   TravelPolicy   `json:"travel"`
	Batch    BatchPolicy    `json:"batch"`
	Matching MatchingPolicy `json:"matching"`
	// MutualAid is one of the MutualAid constants.
	MutualAid string `json:"mutual_aid"`
}

// RestPolicy are the rest limits (a hard constraint, PRODUCT §4).
type RestPolicy struct {
	Window         Duration `json:"window"`          // the look-back for duty hours and workload: 24h
	MaxDuty        Duration `json:"max_duty"`        // on-duty time allowed inside Window: 12h
	LongDeployment Duration `json:"long_deployment"` // a deployment at least this long needs rest: 6h
	RestAfterLong  Duration `json:"rest_after_long"` // the rest after a long deployment: 8h
}

// OfferPolicy governs offers and escalation.
type OfferPolicy struct {
	Timeout   PerSeverity[Duration] `json:"timeout"`    // how long an offer waits; shortest for I
	MaxMisses int                   `json:"max_misses"` // declines+expiries before a slot is flagged unfilled
	// RetryInterval is how often a slot without any candidate is searched again.
	RetryInterval Duration `json:"retry_interval"`
}

// CostPolicy are the penalty terms of the cost, in travel-time seconds.
type CostPolicy struct {
	// OutOfRegion is added when the worker's home region is not the
	// incident's: a local worker wins unless the other is this much closer.
	OutOfRegion Duration `json:"out_of_region"`
	// WorkloadPerHour is added per hour deployed inside the rest window,
	// capped at WorkloadMax, so work spreads fairly.
	WorkloadPerHour Duration `json:"workload_per_hour"`
	WorkloadMax     Duration `json:"workload_max"`
	// SeverityWeight multiplies travel time: for severe incidents speed
	// counts more against the penalties.
	SeverityWeight PerSeverity[float64] `json:"severity_weight"`
}

// TravelPolicy configures the default ETA: great-circle distance times
// RoadFactor at SpeedKmh.
type TravelPolicy struct {
	RoadFactor float64 `json:"road_factor"`
	SpeedKmh   float64 `json:"speed_kmh"`
	// MaxTravel bounds the candidate search: workers farther than this
	// travel time (by the default ETA's distance) are never offered.
	MaxTravel Duration `json:"max_travel"`
}

// BatchPolicy turns on joint (surge) matching: when MinIncidents incidents
// arrive within Window, their slots are queued and solved together when the
// window closes. MinIncidents 0 turns it off.
type BatchPolicy struct {
	Window       Duration `json:"window"`
	MinIncidents int      `json:"min_incidents"`
}

// MatchingPolicy are matcher details.
type MatchingPolicy struct {
	// RunnersUp is how many next-best candidates an explanation lists.
	RunnersUp int `json:"runners_up"`
	// CandidatePool is how many nearest workers are ranked when the ETA
	// gives no lower bound (a road-network service): then the pick is the
	// cheapest among them, not provably among all.
	CandidatePool int `json:"candidate_pool"`
}

// DefaultSkills are PRODUCT §3's skills with their stable machine names.
func DefaultSkills() []string {
	return []string{
		"crisis_intervention", // crisis intervention / psychological first aid
		"elderly_care",
		"child_protection",
		"disability_support",
		"resettlement", // resettlement and relocation support
		"community_mobilisation",
		"medical_social_work",
		"grief_support",
		"volunteer_coordination",
		"case_management",
	}
}

// DefaultPolicy returns the documented defaults (configs/policy.json).
func DefaultPolicy() Policy {
	return Policy{
		Skills:      DefaultSkills(),
		Regions:     DefaultRegions(),
		Zones:       DefaultZones(),
		RegionMaxKm: 150,
		Rest: RestPolicy{
			Window:         Duration(24 * time.Hour),
			MaxDuty:        Duration(12 * time.Hour),
			LongDeployment: Duration(6 * time.Hour),
			RestAfterLong:  Duration(8 * time.Hour),
		},
		Offers: OfferPolicy{
			Timeout: PerSeverity[Duration]{
				I: Duration(60 * time.Second), II: Duration(90 * time.Second),
				III: Duration(2 * time.Minute), IV: Duration(3 * time.Minute),
			},
			MaxMisses:     3,
			RetryInterval: Duration(30 * time.Second),
		},
		Cost: CostPolicy{
			OutOfRegion:     Duration(10 * time.Minute),
			WorkloadPerHour: Duration(2 * time.Minute),
			WorkloadMax:     Duration(20 * time.Minute),
			SeverityWeight:  PerSeverity[float64]{I: 2, II: 1.5, III: 1.2, IV: 1},
		},
		Travel:    TravelPolicy{RoadFactor: 1.3, SpeedKmh: 50, MaxTravel: Duration(8 * time.Hour)},
		Batch:     BatchPolicy{Window: Duration(2 * time.Second), MinIncidents: 3},
		Matching:  MatchingPolicy{RunnersUp: 3, CandidatePool: 64},
		MutualAid: MutualAidAfterUnfilled,
	}
}

// maxSkills is the width of geo.Attrs.Skills.
const maxSkills = 64

// namePattern is what machine names (skills, region and zone codes) look like.
const namePattern = `^[a-z][a-z0-9_]{0,39}$`

// Validate reports the first field that is missing or out of range, as a
// *FieldError whose Field is the JSON path (e.g. "offers.max_misses").
func (p *Policy) Validate() error {
	for _, check := range []func() error{p.validateSkills, p.validateRegions, p.validateTimes, p.validateCost, p.validateRest} {
		if err := check(); err != nil {
			return fmt.Errorf("validate policy: %w", err)
		}
	}
	return nil
}

func (p *Policy) validateSkills() error {
	if len(p.Skills) == 0 || len(p.Skills) > maxSkills {
		return invalid("skills", CodeOutOfRange, "want 1 to %d skills, got %d", maxSkills, len(p.Skills))
	}
	re := regexp.MustCompile(namePattern)
	seen := make(map[string]bool, len(p.Skills))
	for i, s := range p.Skills {
		f := fmt.Sprintf("skills[%d]", i)
		if !re.MatchString(s) {
			return invalid(f, CodeInvalid, "skill %q is not a machine name (%s)", s, namePattern)
		}
		if seen[s] {
			return invalid(f, CodeDuplicate, "skill %q listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

func (p *Policy) validateTimes() error {
	for i, d := range p.Offers.Timeout.all() {
		if d <= 0 {
			return invalid("offers.timeout."+[]string{"I", "II", "III", "IV"}[i], CodeOutOfRange, "must be positive")
		}
	}
	switch {
	case p.Offers.MaxMisses < 1:
		return invalid("offers.max_misses", CodeOutOfRange, "must be at least 1")
	case p.Offers.RetryInterval <= 0:
		return invalid("offers.retry_interval", CodeOutOfRange, "must be positive")
	case p.Batch.MinIncidents < 0 || p.Batch.MinIncidents == 1:
		return invalid("batch.min_incidents", CodeOutOfRange, "must be 0 (off) or at least 2")
	case p.Batch.MinIncidents > 0 && p.Batch.Window <= 0:
		return invalid("batch.window", CodeOutOfRange, "must be positive when batching is on")
	case p.Matching.RunnersUp < 0 || p.Matching.RunnersUp > 20:
		return invalid("matching.runners_up", CodeOutOfRange, "must be 0 to 20")
	case p.Matching.CandidatePool < 1 || p.Matching.CandidatePool > 10000:
		return invalid("matching.candidate_pool", CodeOutOfRange, "must be 1 to 10000")
	}
	switch p.MutualAid {
	case MutualAidImmediate, MutualAidAfterUnfilled, MutualAidOff:
		return nil
	}
	return invalid("mutual_aid", CodeUnknown, "want %q, %q or %q", MutualAidImmediate, MutualAidAfterUnfilled, MutualAidOff)
}

func (p *Policy) validateCost() error {
	c, t := p.Cost, p.Travel
	switch {
	case c.OutOfRegion < 0:
		return invalid("cost.out_of_region", CodeOutOfRange, "must not be negative")
	case c.WorkloadPerHour < 0:
		return invalid("cost.workload_per_hour", CodeOutOfRange, "must not be negative")
	case c.WorkloadMax < 0:
		return invalid("cost.workload_max", CodeOutOfRange, "must not be negative")
	case !finitePositive(t.RoadFactor) || t.RoadFactor < 1:
		return invalid("travel.road_factor", CodeOutOfRange, "must be a finite number >= 1")
	case !finitePositive(t.SpeedKmh) || t.SpeedKmh > 1000:
		return invalid("travel.speed_kmh", CodeOutOfRange, "must be in (0, 1000]")
	case t.MaxTravel <= 0:
		return invalid("travel.max_travel", CodeOutOfRange, "must be positive")
	}
	for i, w := range c.SeverityWeight.all() {
		if !finitePositive(w) || w > 100 {
			return invalid("cost.severity_weight."+[]string{"I", "II", "III", "IV"}[i], CodeOutOfRange, "must be in (0, 100]")
		}
	}
	return nil
}

func (p *Policy) validateRest() error {
	r := p.Rest
	switch {
	case r.Window <= 0:
		return invalid("rest.window", CodeOutOfRange, "must be positive")
	case r.MaxDuty <= 0 || r.MaxDuty > r.Window:
		return invalid("rest.max_duty", CodeOutOfRange, "must be positive and at most rest.window")
	case r.LongDeployment <= 0:
		return invalid("rest.long_deployment", CodeOutOfRange, "must be positive")
	case r.RestAfterLong < 0:
		return invalid("rest.rest_after_long", CodeOutOfRange, "must not be negative")
	}
	return nil
}

func finitePositive(f float64) bool { return f > 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

// maxMeters is the search radius that MaxTravel allows under the default ETA.
func (p *Policy) maxMeters() float64 {
	return p.Travel.MaxTravel.D().Seconds() * p.Travel.SpeedKmh / 3.6 / p.Travel.RoadFactor
}

// pointsValid checks reference points, naming the first bad one.
func pointsValid(field string, ps []geo.Point) error {
	if len(ps) == 0 {
		return invalid(field, CodeRequired, "at least one point needed")
	}
	for i, pt := range ps {
		if err := pt.Validate(); err != nil {
			return invalid(fmt.Sprintf("%s[%d]", field, i), CodeOutOfRange, "%v", err)
		}
	}
	return nil
}
