package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type decodeTarget struct {
	Name  string    `json:"name"`
	Count int       `json:"count"`
	Needs []decNeed `json:"needs"`
}

type decNeed struct {
	Skill string `json:"skill"`
}

var decodeCases = []struct {
	name, body, ctype string
	status            int
	code, field       string
}{
	{"ok", `{"name":"a","count":1}`, "application/json", 0, "", ""},
	{"ok charset", `{"name":"a"}`, "application/json; charset=utf-8", 0, "", ""},
	{"wrong type", `{"name":"a"}`, "text/plain", 415, CodeUnsupportedMedia, "Content-Type"},
	{"no type", `{"name":"a"}`, "", 415, CodeUnsupportedMedia, "Content-Type"},
	{"empty", ``, "application/json", 400, CodeBadJSON, ""},
	{"syntax", `{"name":`, "application/json", 400, CodeBadJSON, ""},
	{"garbage", `<xml/>`, "application/json", 400, CodeBadJSON, ""},
	{"unknown field", `{"nmae":"a"}`, "application/json", 400, CodeUnknownField, "nmae"},
	{"type", `{"count":"x"}`, "application/json", 400, CodeInvalidField, "count"},
	{"nested type", `{"needs":[{"skill":5}]}`, "application/json", 400, CodeInvalidField, "needs.skill"},
	{"trailing", `{"name":"a"} {}`, "application/json", 400, CodeBadJSON, ""},
	{"array root", `[]`, "application/json", 400, CodeInvalidField, "(root)"},
	{"too large", `{"name":"` + strings.Repeat("x", maxJSONBody) + `"}`, "application/json", 413, CodeTooLarge, ""},
}

func TestDecodeJSONBody(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			var dst decodeTarget
			err := decodeJSONBody(httptest.NewRecorder(), r, &dst)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *APIError", err)
			}
			if ae.Status != tc.status || ae.Code != tc.code || ae.Field != tc.field {
				t.Fatalf("got %d %s %q, want %d %s %q", ae.Status, ae.Code, ae.Field, tc.status, tc.code, tc.field)
			}
		})
	}
}

// FuzzDecodeStrict: any input gives a value or a 4xx *APIError, never a
// panic or a server error.
func FuzzDecodeStrict(f *testing.F) {
	for _, tc := range decodeCases {
		if len(tc.body) < 1000 {
			f.Add([]byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst decodeTarget
		err := decodeStrict(b, &dst)
		if err == nil {
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
			t.Fatalf("got %v, want a 4xx APIError", err)
		}
	})
}
