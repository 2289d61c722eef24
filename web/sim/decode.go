package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxScenarioBytes bounds a scenario file: it is configuration, not data.
const maxScenarioBytes = 1 << 20

// FieldError names what is wrong in a scenario file and where, as a path
// such as "team.regions[1].places[0].lat" ("" for the file as a whole).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "scenario: " + e.Msg
	}
	return "scenario: " + e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// LoadScenarioFile reads, decodes and validates a scenario file.
func LoadScenarioFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScenarioBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	sc, err := DecodeScenario(b)
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return sc, nil
}

// DecodeScenario decodes a scenario strictly — unknown fields, wrong
// types, trailing data and out-of-range values are errors naming the field
// (a *FieldError) — fills in defaults and validates it against the
// engine's default skills.
func DecodeScenario(b []byte) (*Scenario, error) {
	if len(b) > maxScenarioBytes {
		return nil, fieldErr("", "file larger than %d bytes", maxScenarioBytes)
	}
	raw, err := decodeGeneric(b)
	if err != nil {
		return nil, err
	}
	if fe := checkShape(raw, scenarioType, ""); fe != nil {
		return nil, fe
	}
	sc := defaultScenario()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		// checkShape has seen every field; this is a safety net.
		return nil, fieldErr("", "%v", err)
	}
	sc.fillDefaults()
	if err := sc.Validate(nil); err != nil {
		return nil, err
	}
	return &sc, nil
}

// decodeGeneric parses b as exactly one JSON object, keeping numbers
// exact, and reports syntax errors with their line and column.
func decodeGeneric(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fieldErr("", "empty file, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxErr(b, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fieldErr("", "unexpected data after the JSON object")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fieldErr("", "want a JSON object")
	}
	return v, nil
}

func syntaxErr(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(b, se.Offset)
		return fieldErr("", "malformed JSON at line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fieldErr("", "truncated JSON")
	}
	return fieldErr("", "invalid JSON: %v", err)
}

func lineCol(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

func (sc *Scenario) fillDefaults() {
	if sc.Team.Certs == nil {
		sc.Team.Certs = defaultCerts()
	}
	if sc.Team.Skills == nil {
		sc.Team.Skills = defaultSkillOdds()
	}
}
