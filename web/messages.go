package web

import (
	"encoding/json"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Messages a worker sends over its stream socket. Each is a JSON object
// {"type": "...", "id": "...", ...}; id is chosen by the client, echoed in
// the ack or error frame, and makes a resend after a reconnect harmless.
const (
	msgPosition = "position" // {lat, lng, accuracy_m?}
	msgDuty     = "duty"     // {on_duty}
	msgAnswer   = "answer"   // {assignment_id, accept, reason?}
	msgStatus   = "status"   // {assignment_id, status: en_route|on_scene|completed}
	msgPing     = "ping"     // {}: an application-level keepalive browsers can send
)

const (
	maxMessageID = 64
	maxReason    = 500
	maxIDLen     = 128
	maxAccuracyM = 100_000
)

// advanceStatuses are the states a worker may move an assignment to.
var advanceStatuses = []string{"en_route", "on_scene", "completed"}

// clientMsg is a decoded, validated worker message.
type clientMsg struct {
	Type         string
	ID           string
	Lat, Lng     float64
	AccuracyM    float64
	OnDuty       bool
	AssignmentID string
	Accept       bool
	Reason       string
	Status       string
}

type envelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type positionWire struct {
	envelope
	Lat       *float64 `json:"lat"`
	Lng       *float64 `json:"lng"`
	AccuracyM *float64 `json:"accuracy_m"`
}

type dutyWire struct {
	envelope
	OnDuty *bool `json:"on_duty"`
}

type answerWire struct {
	envelope
	AssignmentID string `json:"assignment_id"`
	Accept       *bool  `json:"accept"`
	Reason       string `json:"reason"`
}

type statusWire struct {
	envelope
	AssignmentID string `json:"assignment_id"`
	Status       string `json:"status"`
}

// parseClientMessage decodes and validates one worker message. Its errors
// name the field; the id is returned whenever it could be read, so the
// error frame can still be matched to the request.
func parseClientMessage(b []byte) (clientMsg, string, *APIError) {
	var env envelope
	// First pass, lenient: only to learn the type and id.
	if err := json.Unmarshal(b, &env); err != nil {
		return clientMsg{}, "", jsonError(err)
	}
	id := env.ID
	if !validToken(id, maxMessageID) {
		return clientMsg{}, "", errField("id", "want 1 to %d printable characters", maxMessageID)
	}
	m := clientMsg{Type: env.Type, ID: id}
	var err error
	switch env.Type {
	case msgPosition:
		var w positionWire
		if err = decodeStrict(b, &w); err == nil {
			err = m.fromPosition(w)
		}
	case msgDuty:
		var w dutyWire
		if err = decodeStrict(b, &w); err == nil {
			if w.OnDuty == nil {
				err = errField("on_duty", "required")
			} else {
				m.OnDuty = *w.OnDuty
			}
		}
	case msgAnswer:
		var w answerWire
		if err = decodeStrict(b, &w); err == nil {
			err = m.fromAnswer(w)
		}
	case msgStatus:
		var w statusWire
		if err = decodeStrict(b, &w); err == nil {
			err = m.fromStatus(w)
		}
	case msgPing:
		var w envelope
		err = decodeStrict(b, &w)
	default:
		err = errField("type", "want one of position, duty, answer, status, ping")
	}
	if err != nil {
		ae, _ := err.(*APIError)
		if ae == nil {
			ae = errBadRequest(CodeBadMessage, "", "%v", err)
		}
		return clientMsg{}, id, ae
	}
	return m, id, nil
}

func (m *clientMsg) fromPosition(w positionWire) error {
	if err := checkLatLng("lat", "lng", w.Lat, w.Lng); err != nil {
		return err
	}
	m.Lat, m.Lng = *w.Lat, *w.Lng
	if w.AccuracyM != nil {
		a := *w.AccuracyM
		if math.IsNaN(a) || a < 0 || a > maxAccuracyM {
			return errField("accuracy_m", "want 0 to %d metres", maxAccuracyM)
		}
		m.AccuracyM = a
	}
	return nil
}

func (m *clientMsg) fromAnswer(w answerWire) error {
	if !validToken(w.AssignmentID, maxIDLen) {
		return errField("assignment_id", "required, up to %d printable characters", maxIDLen)
	}
	if w.Accept == nil {
		return errField("accept", "required: true or false")
	}
	if utf8.RuneCountInString(w.Reason) > maxReason || !utf8.ValidString(w.Reason) {
		return errField("reason", "up to %d characters of text", maxReason)
	}
	m.AssignmentID, m.Accept, m.Reason = w.AssignmentID, *w.Accept, w.Reason
	return nil
}

func (m *clientMsg) fromStatus(w statusWire) error {
	if !validToken(w.AssignmentID, maxIDLen) {
		return errField("assignment_id", "required, up to %d printable characters", maxIDLen)
	}
	if !slices.Contains(advanceStatuses, w.Status) {
		return errField("status", "want en_route, on_scene or completed")
	}
	m.AssignmentID, m.Status = w.AssignmentID, w.Status
	return nil
}

// checkLatLng validates a WGS-84 coordinate pair given as optional JSON
// numbers (JSON has no NaN or Inf, but a check costs nothing and the same
// helper serves query parameters).
func checkLatLng(latField, lngField string, lat, lng *float64) error {
	if lat == nil {
		return errField(latField, "required")
	}
	if lng == nil {
		return errField(lngField, "required")
	}
	if math.IsNaN(*lat) || math.IsInf(*lat, 0) || *lat < -90 || *lat > 90 {
		return errField(latField, "want a latitude from -90 to 90")
	}
	if math.IsNaN(*lng) || math.IsInf(*lng, 0) || *lng < -180 || *lng > 180 {
		return errField(lngField, "want a longitude from -180 to 180")
	}
	return nil
}

// validToken reports whether s is a non-empty identifier of at most max
// bytes without spaces or control characters.
func validToken(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// messageID reads a message's id, if it has a usable one, for answering
// a message that is refused before it is parsed.
func messageID(b []byte) string {
	var env envelope
	if json.Unmarshal(b, &env) != nil || !validToken(env.ID, maxMessageID) {
		return ""
	}
	return env.ID
}
