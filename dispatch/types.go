package dispatch

import (
	"fmt"
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// Cert is a certification level (PRODUCT §3); higher is more. It is a
// string in JSON.
type Cert uint8

// The certification levels, in order.
const (
	CertNone         Cert = iota // no certificate
	CertAssistant                // 助理社会工作师
	CertIntermediate             // 社会工作师
	CertSenior                   // 高级社会工作师
)

// certNames lists the level names in order; a function, not a variable,
// so that no package state can be changed.
func certNames() []string { return []string{"none", "assistant", "intermediate", "senior"} }

// ParseCert maps a level name to its Cert; "" means none.
func ParseCert(s string) (Cert, error) {
	if s == "" {
		return CertNone, nil
	}
	for i, n := range certNames() {
		if n == s {
			return Cert(i), nil
		}
	}
	return 0, fmt.Errorf("parse cert %q: %w", s, ErrInvalid)
}

// String returns the level's name.
func (c Cert) String() string {
	if names := certNames(); int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("cert(%d)", uint8(c))
}

// MarshalText writes the level's name.
func (c Cert) MarshalText() ([]byte, error) {
	names := certNames()
	if int(c) >= len(names) {
		return nil, fmt.Errorf("marshal cert %d: %w", uint8(c), ErrInvalid)
	}
	return []byte(names[c]), nil
}

// UnmarshalText reads a level's name.
func (c *Cert) UnmarshalText(b []byte) error {
	v, err := ParseCert(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Severity is China's four-level incident grading: I (特别重大) is the most
// severe, IV (一般) the least.
type Severity string

// The severities.
const (
	SeverityI   Severity = "I"
	SeverityII  Severity = "II"
	SeverityIII Severity = "III"
	SeverityIV  Severity = "IV"
)

// level returns 0 for I to 3 for IV, or -1 if s is not a severity.
func (s Severity) level() int {
	switch s {
	case SeverityI:
		return 0
	case SeverityII:
		return 1
	case SeverityIII:
		return 2
	case SeverityIV:
		return 3
	}
	return -1
}

// IncidentTypes are the accepted incident types (PRODUCT §3).
func IncidentTypes() []string {
	return []string{"flood", "earthquake", "fire", "public_health", "accident", "relocation", "other"}
}

// IncidentStatus is open → staffed → closed, or cancelled.
type IncidentStatus string

// The incident statuses.
const (
	IncidentOpen      IncidentStatus = "open"    // some slot has no accepted worker
	IncidentStaffed   IncidentStatus = "staffed" // every slot has an accepted (or finished) worker
	IncidentClosed    IncidentStatus = "closed"
	IncidentCancelled IncidentStatus = "cancelled"
)

// ended reports whether the incident takes no more changes.
func (s IncidentStatus) ended() bool { return s == IncidentClosed || s == IncidentCancelled }

// Interval is a span of time; a zero End means it is still running.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// Worker is a member of the shared team: roster data (from WorkerInput),
// duty and rest bookkeeping, and the live position. Phone is personal data:
// it is kept in the worker's record and never put into events.
type Worker struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Phone      string   `json:"phone,omitempty"`
	HomeRegion string   `json:"home_region"`
	Agency     string   `json:"agency,omitempty"`
	Cert       Cert     `json:"cert"`
	Skills     []string `json:"skills"`
	Languages  []string `json:"languages,omitempty"`
	Supervisor bool     `json:"supervisor,omitempty"` // member of the shared supervision team

	OnDuty      bool       `json:"on_duty"`
	DutySince   time.Time  `json:"duty_since,omitzero"`   // start of the current duty period
	DutyLog     []Interval `json:"duty_log,omitempty"`    // closed duty periods inside the rest window
	Deployments []Interval `json:"deployments,omitempty"` // accepted assignments inside the rest window
	RestUntil   time.Time  `json:"rest_until,omitzero"`   // not matched before this, after a long deployment
	Active      string     `json:"active_assignment,omitempty"`

	// Position is kept in its own small record (see KindPosition); it is
	// filled in on reads and nil when unknown.
	Position   *geo.Point `json:"position,omitempty"`
	PositionAt time.Time  `json:"position_at,omitzero"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Need asks for Count workers with a skill and a minimum certification.
// A Supervisor need takes members of the supervision team only; its Skill
// may be empty, meaning any.
type Need struct {
	Skill      string `json:"skill,omitempty"`
	Count      int    `json:"count"`
	MinCert    Cert   `json:"min_cert"`
	Supervisor bool   `json:"supervisor,omitempty"`
}

// Slot is one worker place of a need (a need with count 3 has three). It
// remembers the current or last assignment and the escalation state.
type Slot struct {
	Need       int       `json:"need"`
	Assignment string    `json:"assignment,omitempty"` // current or last assignment
	Misses     int       `json:"misses,omitempty"`     // declines and expiries so far
	Unfilled   bool      `json:"unfilled,omitempty"`   // flagged to coordinators
	Widened    bool      `json:"widened,omitempty"`    // search reaches other regions
	Queued     bool      `json:"queued,omitempty"`     // waits for the joint (surge) batch
	RetryAt    time.Time `json:"retry_at,omitzero"`    // no candidate: search again then
	Tried      []string  `json:"tried,omitempty"`      // workers not offered this slot again
}

// Incident is a logged emergency and its team.
type Incident struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Severity        Severity       `json:"severity"`
	Position        geo.Point      `json:"position"`
	Region          string         `json:"region"`
	Zone            string         `json:"zone,omitempty"` // e.g. "xiongan"
	Pilot           bool           `json:"pilot,omitempty"`
	Needs           []Need         `json:"needs"`
	NeedsSupervisor bool           `json:"needs_supervisor,omitempty"`
	Notes           string         `json:"notes,omitempty"`
	Status          IncidentStatus `json:"status"`
	Slots           []Slot         `json:"slots"`
	CreatedBy       string         `json:"created_by,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	EndedAt         time.Time      `json:"ended_at,omitzero"`
}

// State is an assignment's state (PRODUCT §3).
type State string

// The assignment states.
const (
	StateOffered   State = "offered"
	StateAccepted  State = "accepted"
	StateEnRoute   State = "en_route"
	StateOnScene   State = "on_scene"
	StateCompleted State = "completed"
	StateDeclined  State = "declined"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// States lists every assignment state.
func States() []State {
	return []State{StateOffered, StateAccepted, StateEnRoute, StateOnScene,
		StateCompleted, StateDeclined, StateExpired, StateCancelled}
}

// Active reports whether the state holds the worker (claims them).
func (s State) Active() bool {
	return s == StateOffered || s == StateAccepted || s == StateEnRoute || s == StateOnScene
}

// deployed reports whether the worker has committed to the incident.
func (s State) deployed() bool {
	return s == StateAccepted || s == StateEnRoute || s == StateOnScene
}

// ChosenByMatcher is Assignment.ChosenBy for automatic offers.
const ChosenByMatcher = "matcher"

// Match modes of an Explanation.
const (
	ModeSingle   = "single"   // cheapest eligible worker at once
	ModeJoint    = "joint"    // one minimum-cost assignment over a surge batch
	ModeOverride = "override" // chosen by a coordinator
)

// CostTerms break down a worker's cost for an incident, in seconds of
// travel-time equivalent: Total = SeverityWeight*TravelS + RegionPenaltyS +
// WorkloadPenaltyS.
type CostTerms struct {
	DistanceM        float64 `json:"distance_m"`
	TravelS          float64 `json:"travel_s"`
	SeverityWeight   float64 `json:"severity_weight"`
	RegionPenaltyS   float64 `json:"region_penalty_s"`
	WorkloadPenaltyS float64 `json:"workload_penalty_s"`
	TotalS           float64 `json:"total_s"`
	Local            bool    `json:"local"` // home region is the incident's region
}

// Candidate is a worker considered for a slot, with its cost.
type Candidate struct {
	WorkerID string    `json:"worker_id"`
	Cost     CostTerms `json:"cost"`
}

// Explanation says why a worker was chosen: the cost terms, the runners-up
// considered, and how (single, joint or override).
type Explanation struct {
	Mode       string      `json:"mode"`
	Cost       CostTerms   `json:"cost"`
	RunnersUp  []Candidate `json:"runners_up,omitempty"`
	Widened    bool        `json:"widened,omitempty"`     // chosen from the widened (all-region) search
	Violations []Violation `json:"violations,omitempty"`  // forced override: the constraints it broke
	NoPosition bool        `json:"no_position,omitempty"` // override of a worker without a known position
}

// Assignment is one worker for one slot of an incident.
type Assignment struct {
	ID          string      `json:"id"`
	IncidentID  string      `json:"incident_id"`
	Need        int         `json:"need"`
	Slot        int         `json:"slot"`
	WorkerID    string      `json:"worker_id"`
	Region      string      `json:"region"` // the incident's region
	State       State       `json:"state"`
	ChosenBy    string      `json:"chosen_by"` // ChosenByMatcher or a coordinator's name
	Forced      bool        `json:"forced,omitempty"`
	Reason      string      `json:"reason,omitempty"` // the coordinator's reason, for overrides
	Explanation Explanation `json:"explanation"`
	OfferedAt   time.Time   `json:"offered_at"`
	ExpiresAt   time.Time   `json:"expires_at"`
	AcceptedAt  time.Time   `json:"accepted_at,omitzero"`
	EnRouteAt   time.Time   `json:"en_route_at,omitzero"`
	OnSceneAt   time.Time   `json:"on_scene_at,omitzero"`
	EndedAt     time.Time   `json:"ended_at,omitzero"`
	EndReason   string      `json:"end_reason,omitempty"` // why it was declined or cancelled
	UpdatedAt   time.Time   `json:"updated_at"`
}
