package dispatch

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/jjj-social-work/dispatch/geo"
)

// Input limits. Bodies larger than these are a caller's mistake, not data.
const (
	maxIDLen        = 64
	maxNameLen      = 200 // bytes of UTF-8
	maxPhoneLen     = 32
	maxLanguages    = 16
	maxNotesLen     = 4000
	maxReasonLen    = 1000
	maxNeeds        = 20
	maxNeedCount    = 100
	maxSlots        = 200
	maxUpsertWorker = 100_000
)

// validID reports whether a worker id (from the roster) is 1 to 64 of
// letters, digits and "_.:-", starting with a letter or digit. Hand-written
// rather than a regexp: bulk imports check a million of them.
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != ':' && c != '-') {
			return false
		}
	}
	return true
}

// WorkerInput is one roster line. Upserting keeps a known worker's duty
// state, position and assignments; only the roster fields change.
type WorkerInput struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Phone      string     `json:"phone,omitempty"`
	HomeRegion string     `json:"home_region"`
	Agency     string     `json:"agency,omitempty"`
	Cert       string     `json:"cert,omitempty"` // none, assistant, intermediate, senior
	Skills     []string   `json:"skills"`
	Languages  []string   `json:"languages,omitempty"`
	Supervisor bool       `json:"supervisor,omitempty"`
	Position   *geo.Point `json:"position,omitempty"` // optional first position
}

// NeedInput asks for Count workers with Skill and at least MinCert.
type NeedInput struct {
	Skill      string `json:"skill,omitempty"` // required unless Supervisor
	Count      int    `json:"count"`
	MinCert    string `json:"min_cert,omitempty"`
	Supervisor bool   `json:"supervisor,omitempty"`
}

// IncidentInput is an incident as logged at intake.
type IncidentInput struct {
	Type     string    `json:"type"`
	Severity Severity  `json:"severity"`
	Position geo.Point `json:"position"`
	// Region is optional: when empty it comes from the policy's region
	// reference points (Policy.Locate).
	Region string      `json:"region,omitempty"`
	Needs  []NeedInput `json:"needs"`
	// NeedsSupervisor adds a need for one member of the supervision team
	// (any skill) unless a need already asks for supervisors.
	NeedsSupervisor bool   `json:"needs_supervisor,omitempty"`
	Notes           string `json:"notes,omitempty"`
	CreatedBy       string `json:"created_by,omitempty"`
}

// validText checks a free-text field's length and encoding.
func validText(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return invalid(field, CodeRequired, "required")
	case len(s) > max:
		return invalid(field, CodeTooLong, "longer than %d bytes", max)
	case !utf8.ValidString(s):
		return invalid(field, CodeInvalid, "not valid UTF-8")
	}
	return nil
}

// validateWorker checks in against the policy and returns the worker's
// roster fields.
func (p *Policy) validateWorker(in WorkerInput) (Worker, error) {
	if !validID(in.ID) {
		if in.ID == "" {
			return Worker{}, invalid("id", CodeRequired, "required")
		}
		return Worker{}, invalid("id", CodeInvalid, "want 1 to %d letters, digits or _.:-", maxIDLen)
	}
	if err := validText("name", in.Name, maxNameLen, true); err != nil {
		return Worker{}, err
	}
	if err := validText("agency", in.Agency, maxNameLen, false); err != nil {
		return Worker{}, err
	}
	if err := validPhone(in.Phone); err != nil {
		return Worker{}, err
	}
	if !p.hasRegion(in.HomeRegion) {
		return Worker{}, unknownRegion("home_region", in.HomeRegion)
	}
	cert, err := ParseCert(in.Cert)
	if err != nil {
		return Worker{}, invalid("cert", CodeUnknown, "unknown certification %q", in.Cert)
	}
	skills, err := p.validSkills(in.Skills)
	if err != nil {
		return Worker{}, err
	}
	langs, err := validLanguages(in.Languages)
	if err != nil {
		return Worker{}, err
	}
	if in.Position != nil {
		if err := in.Position.Validate(); err != nil {
			return Worker{}, pointErr("position", err)
		}
	}
	return Worker{ID: in.ID, Name: in.Name, Phone: in.Phone, HomeRegion: in.HomeRegion, Agency: in.Agency,
		Cert: cert, Skills: skills, Languages: langs, Supervisor: in.Supervisor}, nil
}

func validPhone(s string) error {
	if len(s) > maxPhoneLen {
		return invalid("phone", CodeTooLong, "longer than %d characters", maxPhoneLen)
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == ' ') {
			return invalid("phone", CodeInvalid, "only digits, '+', '-' and spaces")
		}
	}
	return nil
}

func (p *Policy) validSkills(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, s := range in {
		f := fmt.Sprintf("skills[%d]", i)
		if !slices.Contains(p.Skills, s) {
			return nil, invalid(f, CodeUnknown, "unknown skill %q", truncate(s))
		}
		if slices.Contains(out, s) {
			return nil, invalid(f, CodeDuplicate, "skill %q listed twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func validLanguages(in []string) ([]string, error) {
	if len(in) > maxLanguages {
		return nil, invalid("languages", CodeOutOfRange, "at most %d languages", maxLanguages)
	}
	for i, l := range in {
		if err := validText(fmt.Sprintf("languages[%d]", i), l, 32, true); err != nil {
			return nil, err
		}
	}
	return slices.Clone(in), nil
}

func unknownRegion(field, code string) error {
	if code == "" {
		return invalid(field, CodeRequired, "required")
	}
	return invalid(field, CodeUnknown, "unknown region %q", truncate(code))
}

// pointErr names the coordinate of a *geo.PointError under field.
func pointErr(field string, err error) error {
	sub := "lat"
	if pe, ok := err.(*geo.PointError); ok {
		sub = pe.Field
	}
	return invalid(field+"."+sub, CodeOutOfRange, "%v", err)
}

// truncate shortens user strings echoed in messages.
func truncate(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// validateIncident checks in and returns the incident it describes,
// without id, times or slots.
func (p *Policy) validateIncident(in IncidentInput) (Incident, error) {
	if !slices.Contains(IncidentTypes(), in.Type) {
		if in.Type == "" {
			return Incident{}, invalid("type", CodeRequired, "required")
		}
		return Incident{}, invalid("type", CodeUnknown, "unknown type %q", truncate(in.Type))
	}
	if in.Severity.level() < 0 {
		return Incident{}, invalid("severity", CodeUnknown, "want I, II, III or IV")
	}
	if err := in.Position.Validate(); err != nil {
		return Incident{}, pointErr("position", err)
	}
	if err := validText("notes", in.Notes, maxNotesLen, false); err != nil {
		return Incident{}, err
	}
	if err := validText("created_by", in.CreatedBy, maxNameLen, false); err != nil {
		return Incident{}, err
	}
	inc := Incident{Type: in.Type, Severity: in.Severity, Position: in.Position,
		NeedsSupervisor: in.NeedsSupervisor, Notes: in.Notes, CreatedBy: in.CreatedBy}
	if err := p.placeIncident(&inc, in.Region); err != nil {
		return Incident{}, err
	}
	needs, err := p.validNeeds(in.Needs, in.NeedsSupervisor)
	if err != nil {
		return Incident{}, err
	}
	inc.Needs = needs
	return inc, nil
}

func (p *Policy) placeIncident(inc *Incident, region string) error {
	if region != "" {
		if !p.hasRegion(region) {
			return unknownRegion("region", region)
		}
		inc.Region = region
		inc.Zone, inc.Pilot = p.zoneOf(inc.Position, region)
		return nil
	}
	pl, ok := p.Locate(inc.Position)
	if !ok {
		return invalid("position", CodeOutOfRange, "outside every configured region; give the region explicitly")
	}
	inc.Region, inc.Zone, inc.Pilot = pl.Region, pl.Zone, pl.Pilot
	return nil
}

func (p *Policy) validNeeds(in []NeedInput, needsSupervisor bool) ([]Need, error) {
	if len(in) == 0 && !needsSupervisor {
		return nil, invalid("needs", CodeRequired, "at least one need")
	}
	if len(in) > maxNeeds {
		return nil, invalid("needs", CodeOutOfRange, "at most %d needs", maxNeeds)
	}
	out := make([]Need, 0, len(in)+1)
	total, hasSup := 0, false
	for i, n := range in {
		need, err := p.validNeed(fmt.Sprintf("needs[%d]", i), n)
		if err != nil {
			return nil, err
		}
		total += need.Count
		hasSup = hasSup || need.Supervisor
		out = append(out, need)
	}
	if total > maxSlots {
		return nil, invalid("needs", CodeOutOfRange, "at most %d workers in all", maxSlots)
	}
	if needsSupervisor && !hasSup {
		out = append(out, Need{Count: 1, Supervisor: true})
	}
	return out, nil
}

func (p *Policy) validNeed(f string, n NeedInput) (Need, error) {
	if n.Skill != "" || !n.Supervisor {
		if !slices.Contains(p.Skills, n.Skill) {
			if n.Skill == "" {
				return Need{}, invalid(f+".skill", CodeRequired, "required unless supervisor")
			}
			return Need{}, invalid(f+".skill", CodeUnknown, "unknown skill %q", truncate(n.Skill))
		}
	}
	if n.Count < 1 || n.Count > maxNeedCount {
		return Need{}, invalid(f+".count", CodeOutOfRange, "must be 1 to %d", maxNeedCount)
	}
	cert, err := ParseCert(n.MinCert)
	if err != nil {
		return Need{}, invalid(f+".min_cert", CodeUnknown, "unknown certification %q", truncate(n.MinCert))
	}
	return Need{Skill: n.Skill, Count: n.Count, MinCert: cert, Supervisor: n.Supervisor}, nil
}
