package sim

import (
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
)

// Scenario is a scenario file (configs/scenarios/*.json, documented in
// docs/demo.md): the team, how its members behave, the coordinators, and
// the incidents. Everything random in it follows from Seed.
type Scenario struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Seed makes generation and behaviour repeatable.
	Seed uint64 `json:"seed"`
	// Duration is the scenario's length in scenario time; the incident
	// schedule ends there.
	Duration dispatch.Duration `json:"duration"`
	// Speed is how much faster than the wall clock scenario time runs
	// (default 1); a run may override it.
	Speed        float64           `json:"speed"`
	Team         Team              `json:"team"`
	Behaviour    Behaviour         `json:"behaviour"`
	Coordinators []CoordinatorSpec `json:"coordinators"`
	Incidents    IncidentPlan      `json:"incidents"`
}

// Team describes the synthetic shared team.
type Team struct {
	// Size is the number of workers.
	Size int `json:"size"`
	// Regions split the team by Share (relative weights, e.g. head counts)
	// and place each member near one of the region's places.
	Regions []RegionTeam `json:"regions"`
	// OnDuty is the share of members on duty at the start (and the
	// probability a duty re-draw puts a free member on duty).
	OnDuty float64 `json:"on_duty"`
	// Supervisors is the share of members on the shared supervision team.
	Supervisors float64 `json:"supervisors"`
	// Certs weights the certification levels (none, assistant,
	// intermediate, senior).
	Certs map[string]float64 `json:"certs"`
	// Skills gives the probability that a member has each skill; every
	// member gets at least one.
	Skills map[string]float64 `json:"skills"`
	// IDPrefix starts every member id ("L" makes L-HE-00001), so two
	// synthetic teams on one server do not overwrite each other.
	IDPrefix string `json:"id_prefix,omitempty"`
}

// RegionTeam is one region's part of the team.
type RegionTeam struct {
	Code   string  `json:"code"`
	Share  float64 `json:"share"`
	Places []Place `json:"places"`
}

// Place is a weighted point with a spread: members or incidents are drawn
// around it with a normal offset of SpreadKm in each direction.
type Place struct {
	Name     string  `json:"name"`
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	Weight   float64 `json:"weight"`
	SpreadKm float64 `json:"spread_km"`
	// Agency names members' agency (team places only).
	Agency string `json:"agency,omitempty"`
	// Region, for incident places, is sent with the incident; empty lets
	// the server place it.
	Region string `json:"region,omitempty"`
}

// Behaviour is how simulated workers act, in scenario time.
type Behaviour struct {
	// Accept and Decline are the probabilities of answering an offer so;
	// the rest ignore it until it expires.
	Accept  float64 `json:"accept"`
	Decline float64 `json:"decline"`
	// AnswerAfter is the delay before answering an offer.
	AnswerAfter Span `json:"answer_after"`
	// EnRouteAfter is the delay from accepting to setting off.
	EnRouteAfter Span `json:"en_route_after"`
	// TravelKmh is the speed toward the incident; arrival is on scene.
	TravelKmh float64 `json:"travel_kmh"`
	// OnSceneFor is the time on scene before reporting done.
	OnSceneFor Span `json:"on_scene_for"`
	// MoveEvery is how often an on-duty worker shares its position.
	MoveEvery dispatch.Duration `json:"move_every"`
	// WalkM is the step of a free worker's random walk.
	WalkM float64 `json:"walk_m"`
	// DutyEvery is the mean time between duty re-draws of a free worker
	// (on duty with probability Team.OnDuty); 0 keeps duty fixed.
	DutyEvery dispatch.Duration `json:"duty_every"`
}

// Span is a uniformly drawn duration between Min and Max.
type Span struct {
	Min dispatch.Duration `json:"min"`
	Max dispatch.Duration `json:"max"`
}

// CoordinatorSpec is a simulated desk. The first desk without regions (the
// joint desk) logs incidents; if there is none, the first desk whose
// regions include the incident place's region does.
type CoordinatorSpec struct {
	Name    string   `json:"name"`
	Regions []string `json:"regions,omitempty"`
}

// IncidentPlan is when, where and what incidents arise.
type IncidentPlan struct {
	Waves []Wave `json:"waves"`
	Kinds []Kind `json:"kinds"`
	// CloseWhenDone makes the logging desk close an incident once every
	// worker of it reported done.
	CloseWhenDone bool `json:"close_when_done"`
}

// Wave is a stretch of rising (or falling) incidents around some places,
// e.g. one river: the rate goes linearly from PerHour[0] at Start to
// PerHour[1] at End.
type Wave struct {
	Name    string            `json:"name"`
	Start   dispatch.Duration `json:"start"`
	End     dispatch.Duration `json:"end"`
	PerHour [2]float64        `json:"per_hour"`
	Places  []Place           `json:"places"`
}

// Kind is a weighted incident template.
type Kind struct {
	Type   string  `json:"type"`
	Weight float64 `json:"weight"`
	// Severity weights the levels I to IV.
	Severity map[string]float64 `json:"severity"`
	Needs    []NeedSpec         `json:"needs"`
	// Supervisor is the probability that the incident asks for a
	// supervisor.
	Supervisor float64  `json:"supervisor"`
	Notes      []string `json:"notes,omitempty"`
}

// NeedSpec is a need of a Kind: Count is drawn from [Count[0], Count[1]];
// the need is included with probability Chance (0 or omitted: always).
type NeedSpec struct {
	Skill   string  `json:"skill"`
	Count   [2]int  `json:"count"`
	MinCert string  `json:"min_cert,omitempty"`
	Chance  float64 `json:"chance,omitempty"`
}

// defaultScenario holds the values a file may leave out; decoding starts
// from it, so an absent field keeps its default and an explicit one wins.
func defaultScenario() Scenario {
	return Scenario{
		Speed: 1,
		Team:  Team{OnDuty: 0.8, Supervisors: 0.05},
		Behaviour: Behaviour{
			Accept: 0.75, Decline: 0.15,
			AnswerAfter:  Span{Min: dur(5 * time.Second), Max: dur(40 * time.Second)},
			EnRouteAfter: Span{Min: dur(30 * time.Second), Max: dur(3 * time.Minute)},
			TravelKmh:    40,
			OnSceneFor:   Span{Min: dur(20 * time.Minute), Max: dur(60 * time.Minute)},
			MoveEvery:    dur(30 * time.Second),
			WalkM:        150,
			DutyEvery:    dur(30 * time.Minute),
		},
		Incidents: IncidentPlan{CloseWhenDone: true},
	}
}

func dur(d time.Duration) dispatch.Duration { return dispatch.Duration(d) }

// defaultCerts and defaultSkills apply when a file gives none (maps merge
// when decoded over a default, so they are filled in afterwards instead).
func defaultCerts() map[string]float64 {
	return map[string]float64{"none": 2, "assistant": 4, "intermediate": 3, "senior": 1}
}

func defaultSkillOdds() map[string]float64 {
	m := map[string]float64{}
	for _, s := range dispatch.DefaultSkills() {
		m[s] = 0.3
	}
	return m
}
