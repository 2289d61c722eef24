package web

import (
	"errors"
	"strings"
	"testing"
)

const csvHeaderLine = "id,name,phone,home_region,agency,cert,skills,languages,supervisor,lat,lng\n"

var csvCases = []struct {
	name  string
	body  string
	rows  int
	line  int
	field string
}{
	{"ok", csvHeaderLine + "W1,李娜,138 0000 0000,HE,保定,intermediate,crisis_intervention;elderly_care,zh,true,38.88,115.5\nW2,Wang,,bj,,,,,,,\n", 2, 0, ""},
	{"bom and reordered", "\xef\xbb\xbfname,id,home_region\nA,W1,TJ\n", 1, 0, ""},
	{"quoted newline", "id,name,home_region\nW1,\"two\nlines\",HE\nW2,B,HE\n", 2, 0, ""},
	{"empty", "", 0, 1, ""},
	{"header only", "id,name,home_region\n", 0, 2, ""},
	{"unknown column", "id,name,home_region,shoe_size\n", 0, 1, "shoe_size"},
	{"duplicate column", "id,name,home_region,id\n", 0, 1, "id"},
	{"missing column", "id,name\nW1,A\n", 0, 1, "home_region"},
	{"wrong field count", "id,name,home_region\nW1,A,HE\nW2,B\n", 0, 3, ""},
	{"bare quote", "id,name,home_region\nW1,A\"b,HE\n", 0, 2, ""},
	{"bad supervisor", "id,name,home_region,supervisor\nW1,A,HE,maybe\n", 0, 2, "supervisor"},
	{"bad lat", "id,name,home_region,lat,lng\nW1,A,HE,north,115\n", 0, 2, "lat"},
	{"lat without lng", "id,name,home_region,lat,lng\nW1,A,HE,39,\n", 0, 2, "lng"},
	{"lat out of range", "id,name,home_region,lat,lng\nW1,A,HE,95,115\n", 0, 2, "lat"},
	{"lng NaN", "id,name,home_region,lat,lng\nW1,A,HE,39,NaN\n", 0, 2, "lng"},
	{"not utf8", "id,name,home_region\nW1,\xff,HE\n", 0, 0, ""},
}

func TestParseRosterCSV(t *testing.T) {
	for _, tc := range csvCases {
		t.Run(tc.name, func(t *testing.T) {
			ws, lines, err := parseRosterCSV([]byte(tc.body))
			if tc.rows > 0 {
				if err != nil || len(ws) != tc.rows || len(lines) != tc.rows {
					t.Fatalf("got %d rows, %v, want %d rows", len(ws), err, tc.rows)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *APIError", err)
			}
			if ae.Line != tc.line || ae.Field != tc.field || ae.Code != CodeBadCSV || ae.Status != 400 {
				t.Fatalf("got %d line %d field %q code %s, want 400 line %d field %q", ae.Status, ae.Line, ae.Field, ae.Code, tc.line, tc.field)
			}
		})
	}
	ws, lines, _ := parseRosterCSV([]byte(csvCases[0].body))
	if w := ws[0]; w.ID != "W1" || w.Phone != "138 0000 0000" || len(w.Skills) != 2 || !w.Supervisor || w.Position == nil || w.Position.Lat != 38.88 {
		t.Errorf("got %+v, want W1 parsed in full", w)
	}
	if ws[1].HomeRegion != "BJ" || lines[1] != 3 {
		t.Errorf("got region %q line %d, want BJ line 3", ws[1].HomeRegion, lines[1])
	}
	_, lines, _ = parseRosterCSV([]byte(csvCases[2].body))
	if lines[1] != 4 {
		t.Errorf("after a quoted newline: got line %d, want 4", lines[1])
	}
}

func TestParseRosterCSVTooMany(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name,home_region\n")
	for i := 0; i <= maxRosterRows; i++ {
		b.WriteString("W,A,HE\n")
	}
	_, _, err := parseRosterCSV([]byte(b.String()))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Line != maxRosterRows+2 {
		t.Fatalf("got %v, want a refusal at line %d", err, maxRosterRows+2)
	}
}

// FuzzParseRosterCSV: any upload gives workers or a 400 naming a line.
func FuzzParseRosterCSV(f *testing.F) {
	for _, tc := range csvCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, lines, err := parseRosterCSV(b)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != CodeBadCSV {
				t.Fatalf("got %v, want a 400 bad_csv", err)
			}
			return
		}
		if len(ws) == 0 || len(ws) != len(lines) {
			t.Fatalf("got %d workers and %d lines", len(ws), len(lines))
		}
		for _, w := range ws {
			if w.Position != nil && w.Position.Validate() != nil {
				t.Fatalf("accepted position %+v", *w.Position)
			}
		}
	})
}
