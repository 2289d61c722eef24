package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Body size limits. A roster CSV is the only large body; everything else is
// a small JSON object.
const (
	maxJSONBody = 1 << 20  // 1 MiB
	maxCSVBody  = 16 << 20 // 16 MiB: a few hundred thousand roster lines
)

// requireContentType refuses a body of another media type with 415, so a
// form post or a mislabelled upload never reaches a decoder.
func requireContentType(r *http.Request, want ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, w := range want {
			if strings.EqualFold(mt, w) {
				return nil
			}
		}
	}
	return &APIError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
		Field: "Content-Type", Message: fmt.Sprintf("content type must be %s", strings.Join(want, " or "))}
}

// readBody reads at most limit bytes of the request body; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("body larger than %d bytes", mbe.Limit)}
		}
		return nil, errBadRequest(CodeBadJSON, "", "reading body: %v", err)
	}
	return b, nil
}

// decodeJSONBody decodes the request body strictly into dst: JSON content
// type, size limit, no unknown fields, exactly one value.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, dst any) error {
	if err := requireContentType(r, "application/json"); err != nil {
		return err
	}
	b, err := readBody(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	return decodeStrict(b, dst)
}

// decodeStrict is the one JSON decoder for outside input (HTTP bodies and
// websocket messages). Its errors are *APIError naming the field.
func decodeStrict(b []byte, dst any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errBadRequest(CodeBadJSON, "", "empty body, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errBadRequest(CodeBadJSON, "", "unexpected data after the JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadRequest(CodeBadJSON, "", "unexpected data after the JSON value")
	}
	return nil
}

// jsonError turns an encoding/json error into a client error with the field.
func jsonError(err error) *APIError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return errBadRequest(CodeBadJSON, "", "malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return errField(field, "want %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errBadRequest(CodeBadJSON, "", "truncated JSON")
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errBadRequest(CodeUnknownField, strings.Trim(name, `"`), "unknown field")
	}
	return errBadRequest(CodeBadJSON, "", "invalid JSON: %v", err)
}
