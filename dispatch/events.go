package dispatch

import (
	"time"

	"github.com/jjj-social-work/dispatch/geo"
)

// Event types. Every change the engine makes is one of these; Data is the
// JSON named beside each.
const (
	EventWorkerUpserted = "worker.upserted" // WorkerEvent: roster data, without the phone
	EventWorkerDuty     = "worker.duty"     // DutyEvent
	EventWorkerPosition = "worker.position" // PositionEvent

	EventIncidentCreated   = "incident.created"   // Incident
	EventIncidentStaffed   = "incident.staffed"   // StatusEvent: every slot has an accepted worker
	EventIncidentReopened  = "incident.reopened"  // StatusEvent: a staffed incident lost a worker
	EventIncidentCancelled = "incident.cancelled" // StatusEvent
	EventIncidentClosed    = "incident.closed"    // StatusEvent

	EventOffered   = "assignment.offered"   // Assignment (runners-up left out, see AssignmentEvent)
	EventAccepted  = "assignment.accepted"  // AssignmentChange: the fields the step set
	EventDeclined  = "assignment.declined"  // AssignmentChange
	EventExpired   = "assignment.expired"   // AssignmentChange
	EventEnRoute   = "assignment.en_route"  // AssignmentChange
	EventOnScene   = "assignment.on_scene"  // AssignmentChange
	EventCompleted = "assignment.completed" // AssignmentChange
	EventCancelled = "assignment.cancelled" // AssignmentChange

	EventNeedUnfilled = "need.unfilled" // NeedEvent: coordinators must act
	EventNeedWidened  = "need.widened"  // NeedEvent: the search now reaches other regions

	EventSurgeSolved = "surge.solved" // JointBatchEvent: a joint batch, with its cost against greedy

	EventOverrideAssigned   = "override.assigned"   // OverrideEvent (audit)
	EventOverrideUnassigned = "override.unassigned" // OverrideEvent (audit)
)

// WorkerEvent is a worker's roster data as events carry it: no phone, no
// duty bookkeeping.
type WorkerEvent struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	HomeRegion string   `json:"home_region"`
	Agency     string   `json:"agency,omitempty"`
	Cert       Cert     `json:"cert"`
	Skills     []string `json:"skills"`
	Languages  []string `json:"languages,omitempty"`
	Supervisor bool     `json:"supervisor,omitempty"`
}

// DutyEvent is a duty change.
type DutyEvent struct {
	OnDuty bool `json:"on_duty"`
}

// PositionEvent is a position update.
type PositionEvent struct {
	Position geo.Point `json:"position"`
}

// StatusEvent is an incident status change.
type StatusEvent struct {
	Status IncidentStatus `json:"status"`
	By     string         `json:"by,omitempty"`
	Reason string         `json:"reason,omitempty"`
}

// NeedEvent flags a slot to coordinators.
type NeedEvent struct {
	Need   int    `json:"need"`
	Slot   int    `json:"slot"`
	Skill  string `json:"skill,omitempty"`
	Misses int    `json:"misses"`
	Reason string `json:"reason"` // "misses" or "no_candidate"
}

// JointBatchEvent reports a joint batch: what it cost against first-come greedy
// on the same slots and candidates.
type JointBatchEvent struct {
	Slots        int      `json:"slots"`
	Filled       int      `json:"filled"`
	TotalS       float64  `json:"total_s"`
	GreedyFilled int      `json:"greedy_filled"`
	GreedyTotalS float64  `json:"greedy_total_s"`
	SavedS       float64  `json:"saved_s"` // GreedyTotalS - TotalS when both fill as many slots
	Incidents    []string `json:"incidents"`
}

// OverrideEvent audits a coordinator's assignment or unassignment.
type OverrideEvent struct {
	Coordinator  string      `json:"coordinator"`
	Reason       string      `json:"reason,omitempty"`
	Forced       bool        `json:"forced,omitempty"`
	Violations   []Violation `json:"violations,omitempty"`
	Need         int         `json:"need"`
	Slot         int         `json:"slot"`
	AssignmentID string      `json:"assignment_id"`
}

func workerEvent(w *Worker) WorkerEvent {
	return WorkerEvent{ID: w.ID, Name: w.Name, HomeRegion: w.HomeRegion, Agency: w.Agency,
		Cert: w.Cert, Skills: w.Skills, Languages: w.Languages, Supervisor: w.Supervisor}
}

// assignmentEvent is the assignment as events carry it. Runners-up are
// left out: the event goes to the chosen worker too, and the others' costs
// hint at where they are. Coordinators read them with Engine.Assignment.
func assignmentEvent(a *Assignment) Assignment {
	c := *a
	c.Explanation.RunnersUp = nil
	return c
}

// AssignmentChange is what an assignment event after the offer carries in
// Data: what this step set. The event itself names the assignment, its
// incident, worker and region (AssignmentID, IncidentID, WorkerID,
// Region); the offer carried the rest (explanation, expiry, who chose),
// which never changes afterwards. Every desk receives every event, so the
// bytes count. Applying the changes in order over the offer gives the
// current assignment.
type AssignmentChange struct {
	Need       int       `json:"need"`
	Slot       int       `json:"slot"`
	State      State     `json:"state"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	EnRouteAt  time.Time `json:"en_route_at,omitzero"`
	OnSceneAt  time.Time `json:"on_scene_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	EndReason  string    `json:"end_reason,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func assignmentChange(a *Assignment) AssignmentChange {
	c := AssignmentChange{Need: a.Need, Slot: a.Slot, State: a.State, EndReason: a.EndReason, UpdatedAt: a.UpdatedAt}
	// Only the time this step set: the earlier ones came with earlier steps.
	switch a.State {
	case StateAccepted:
		c.AcceptedAt = a.AcceptedAt
	case StateEnRoute:
		c.EnRouteAt = a.EnRouteAt
	case StateOnScene:
		c.OnSceneAt = a.OnSceneAt
	default:
		c.EndedAt = a.EndedAt
	}
	return c
}

// emitAssignment records an assignment event, addressed to its worker,
// incident and region: the whole assignment for the offer, what changed
// for every later step.
func (tx *txn) emitAssignment(typ string, a *Assignment) {
	ev := Event{Type: typ, Region: a.Region, WorkerID: a.WorkerID, IncidentID: a.IncidentID, AssignmentID: a.ID}
	if typ == EventOffered {
		tx.emit(ev, assignmentEvent(a))
		return
	}
	tx.emit(ev, assignmentChange(a))
}
