package web

import (
	"strings"
	"testing"
)

var messageCases = []struct {
	msg         string
	wantType    string // empty: an error is expected
	code, field string
}{
	{`{"type":"ping","id":"1"}`, msgPing, "", ""},
	{`{"type":"position","id":"a","lat":39.05,"lng":115.87}`, msgPosition, "", ""},
	{`{"type":"position","id":"a","lat":39.05,"lng":115.87,"accuracy_m":12}`, msgPosition, "", ""},
	{`{"type":"duty","id":"d","on_duty":true}`, msgDuty, "", ""},
	{`{"type":"answer","id":"x","assignment_id":"A1","accept":false,"reason":"too far"}`, msgAnswer, "", ""},
	{`{"type":"status","id":"s","assignment_id":"A1","status":"on_scene"}`, msgStatus, "", ""},

	{`{"type":"ping"}`, "", CodeInvalidField, "id"},
	{`{"type":"ping","id":""}`, "", CodeInvalidField, "id"},
	{`{"type":"ping","id":"has space"}`, "", CodeInvalidField, "id"},
	{`{"type":"ping","id":"` + strings.Repeat("x", maxMessageID+1) + `"}`, "", CodeInvalidField, "id"},
	{`{"type":"ping","id":7}`, "", CodeInvalidField, "id"},
	{`{"type":"warp","id":"1"}`, "", CodeInvalidField, "type"},
	{`{"id":"1"}`, "", CodeInvalidField, "type"},
	{`{"type":"ping","id":"1","extra":1}`, "", CodeUnknownField, "extra"},
	{`{"type":"position","id":"a","lng":115}`, "", CodeInvalidField, "lat"},
	{`{"type":"position","id":"a","lat":39}`, "", CodeInvalidField, "lng"},
	{`{"type":"position","id":"a","lat":-90.5,"lng":115}`, "", CodeInvalidField, "lat"},
	{`{"type":"position","id":"a","lat":39,"lng":181}`, "", CodeInvalidField, "lng"},
	{`{"type":"position","id":"a","lat":"NaN","lng":1}`, "", CodeInvalidField, "lat"},
	{`{"type":"position","id":"a","lat":1e999,"lng":1}`, "", CodeInvalidField, "lat"},
	{`{"type":"position","id":"a","lat":39,"lng":115,"accuracy_m":-1}`, "", CodeInvalidField, "accuracy_m"},
	{`{"type":"position","id":"a","lat":39,"lng":115,"on_duty":true}`, "", CodeUnknownField, "on_duty"},
	{`{"type":"duty","id":"d"}`, "", CodeInvalidField, "on_duty"},
	{`{"type":"duty","id":"d","on_duty":"yes"}`, "", CodeInvalidField, "on_duty"},
	{`{"type":"answer","id":"x","accept":true}`, "", CodeInvalidField, "assignment_id"},
	{`{"type":"answer","id":"x","assignment_id":"A1"}`, "", CodeInvalidField, "accept"},
	{`{"type":"answer","id":"x","assignment_id":"A1","accept":false,"reason":"` + strings.Repeat("很", maxReason+1) + `"}`, "", CodeInvalidField, "reason"},
	{`{"type":"status","id":"s","assignment_id":"A1","status":"offered"}`, "", CodeInvalidField, "status"},
	{`{"type":"status","id":"s","status":"en_route"}`, "", CodeInvalidField, "assignment_id"},
	{`[1,2]`, "", CodeInvalidField, "(root)"},
	{`{"type":"ping","id":"1"}{"type":"ping","id":"2"}`, "", CodeBadJSON, ""},
	{``, "", CodeBadJSON, ""},
}

func TestParseClientMessage(t *testing.T) {
	for _, tc := range messageCases {
		m, _, err := parseClientMessage([]byte(tc.msg))
		if tc.wantType != "" {
			if err != nil || m.Type != tc.wantType {
				t.Errorf("%.60s: got %q %v, want %q", tc.msg, m.Type, err, tc.wantType)
			}
			continue
		}
		if err == nil {
			t.Errorf("%.60s: got %+v, want error %s/%s", tc.msg, m, tc.code, tc.field)
			continue
		}
		if err.Code != tc.code || err.Field != tc.field {
			t.Errorf("%.60s: got %s/%s, want %s/%s", tc.msg, err.Code, err.Field, tc.code, tc.field)
		}
	}
}

// FuzzParseClientMessage: every message decodes into a valid command or a
// typed 4xx error; a valid command always satisfies the validation rules.
func FuzzParseClientMessage(f *testing.F) {
	for _, tc := range messageCases {
		f.Add([]byte(tc.msg))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := parseClientMessage(b)
		if err != nil {
			if err.Status < 400 || err.Status >= 500 || err.Code == "" {
				t.Fatalf("got error %+v, want a 4xx with a code", err)
			}
			return
		}
		if !validToken(m.ID, maxMessageID) {
			t.Fatalf("accepted invalid id %q", m.ID)
		}
		switch m.Type {
		case msgPosition:
			if m.Lat < -90 || m.Lat > 90 || m.Lng < -180 || m.Lng > 180 || m.Lat != m.Lat || m.Lng != m.Lng {
				t.Fatalf("accepted position %v,%v", m.Lat, m.Lng)
			}
		case msgAnswer, msgStatus:
			if !validToken(m.AssignmentID, maxIDLen) {
				t.Fatalf("accepted assignment id %q", m.AssignmentID)
			}
		case msgDuty, msgPing:
		default:
			t.Fatalf("accepted type %q", m.Type)
		}
	})
}
