package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// Pakistan keeps one time zone, UTC+5, without daylight saving. A date is
// "in the future" only once it is past today there.
var pakistan = time.FixedZone("PKT", 5*60*60)

// Crop values, as stored.
const (
	Poppy    = "poppy"
	Cannabis = "cannabis"
)

// Limits on free text (SPEC §3.1).
const (
	maxFieldID = 200
	maxTeam    = 200
	maxMethod  = 50
	maxNotes   = 2000
)

// Defaults hold the values an upload's query string supplies to features
// that lack them (?crop=poppy&cleared_on=2026-03-14&team=...).
type Defaults struct {
	Crop      string
	ClearedOn string // YYYY-MM-DD
	Team      string
}

// Problem is one thing wrong with, or repaired in, a feature.
type Problem struct {
	Index   int    `json:"index"`
	FieldID string `json:"field_id,omitempty"`
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// clearance is a feature that passed every rule that can be checked without
// the database.
type clearance struct {
	index          int
	fieldID        *string
	crop           string
	clearedOn      time.Time
	team           *string
	method         *string
	notes          *string
	reportedArea   *float64
	reportedUnit   *string
	reportedAreaM2 *float64
	props          json.RawMessage
	geometry       orb.MultiPolygon
	geomPointer    string // where the geometry is in the body, for problems found later
}

// Square metres per unit of reported area. A kanal is 1/8 acre (20 marla of
// 272.25 sq ft); an acre is exactly 4046.8564224 m².
var unitM2 = map[string]float64{
	"acre":    4046.8564224,
	"kanal":   4046.8564224 / 8,
	"hectare": 10000,
	"m2":      1,
}

// unitNames maps what teams write to the stored unit name.
var unitNames = map[string]string{
	"acre": "acre", "acres": "acre", "ac": "acre",
	"kanal": "kanal", "kanals": "kanal",
	"hectare": "hectare", "hectares": "hectare", "ha": "hectare",
	"m2": "m2", "m²": "m2", "sqm": "m2", "sq m": "m2", "square metre": "m2", "square meter": "m2",
	"square metres": "m2", "square meters": "m2",
}

// checkFeature applies the rules of SPEC §3.1 that need no database. It
// returns the clearance, or the problems that keep it out, and warnings about
// what was repaired. seenIDs tracks field_ids within the upload.
func checkFeature(f *RawFeature, d Defaults, today time.Time, seenIDs map[string]int) (*clearance, []Problem, []Problem) {
	var problems, warnings []Problem
	add := func(list *[]Problem, pointer, msg string) {
		*list = append(*list, Problem{Index: f.Index, Pointer: f.Pointer + pointer, Message: msg})
	}
	c := &clearance{index: f.Index}

	geomPointer := "/geometry"
	switch f.Type {
	case "Feature":
	case "Polygon", "MultiPolygon":
		geomPointer = ""
	case "":
		add(&problems, "", "not a GeoJSON Feature object")
		return nil, problems, nil
	default:
		add(&problems, "/type", fmt.Sprintf("a %q is not accepted: send Features with Polygon or MultiPolygon geometry", f.Type))
		return nil, problems, nil
	}

	props := map[string]json.RawMessage{}
	if len(f.Properties) > 0 && !bytes.Equal(f.Properties, []byte("null")) {
		if err := json.Unmarshal(f.Properties, &props); err != nil {
			add(&problems, "/properties", "properties must be a JSON object")
			return nil, problems, nil
		}
		c.props = f.Properties
	} else {
		c.props = json.RawMessage("{}")
	}
	if bad := unstorableProperties(f.Properties, props); len(bad) > 0 {
		for _, b := range bad {
			add(&problems, b.pointer, b.message)
		}
		return nil, problems, nil
	}
	prop := func(name string) (json.RawMessage, string) { return lookup(props, name) }

	// field_id first: every later problem names it.
	if raw, key := prop("field_id"); key != "" {
		id, ok := scalarText(raw)
		switch {
		case !ok:
			add(&problems, "/properties/"+key, "field_id must be a string or a number")
		case utf8.RuneCountInString(id) > maxFieldID:
			add(&problems, "/properties/"+key, fmt.Sprintf("field_id is longer than %d characters", maxFieldID))
		case id != "":
			c.fieldID = &id
			if first, dup := seenIDs[id]; dup {
				add(&problems, "/properties/"+key, fmt.Sprintf("field_id %q is used by feature %d too; it must be unique within an upload", id, first))
			} else {
				seenIDs[id] = f.Index
			}
		}
	}

	// crop
	if raw, key := prop("crop"); key != "" {
		s, ok := stringValue(raw)
		crop := strings.ToLower(strings.TrimSpace(s))
		switch {
		case !ok:
			add(&problems, "/properties/"+key, "crop must be a string: poppy or cannabis")
		case crop == Poppy || crop == Cannabis:
			c.crop = crop
		default:
			add(&problems, "/properties/"+key, fmt.Sprintf("crop %q is not poppy or cannabis", strings.TrimSpace(s)))
		}
	} else if d.Crop != "" {
		c.crop = d.Crop
	} else {
		add(&problems, "/properties", `crop is missing: set "crop" to poppy or cannabis, or upload with ?crop=`)
	}

	// cleared_on
	if raw, key := prop("cleared_on"); key != "" {
		date, msg := parseDate(raw)
		if msg != "" {
			add(&problems, "/properties/"+key, msg)
		} else if msg = checkDate(date, today); msg != "" {
			add(&problems, "/properties/"+key, msg)
		}
		c.clearedOn = date
	} else if d.ClearedOn != "" {
		c.clearedOn, _ = time.Parse(time.DateOnly, d.ClearedOn) // checked by ParseDefaults
	} else {
		add(&problems, "/properties", `cleared_on is missing: set "cleared_on" to the date (YYYY-MM-DD), or upload with ?cleared_on=`)
	}

	// free text
	for _, t := range []struct {
		name string
		max  int
		dst  **string
		def  string
	}{
		{"team", maxTeam, &c.team, d.Team},
		{"method", maxMethod, &c.method, ""},
		{"notes", maxNotes, &c.notes, ""},
	} {
		raw, key := prop(t.name)
		if key == "" {
			if t.def != "" {
				v := t.def
				*t.dst = &v
			}
			continue
		}
		s, ok := scalarText(raw)
		switch {
		case !ok:
			add(&problems, "/properties/"+key, t.name+" must be text")
		case utf8.RuneCountInString(s) > t.max:
			add(&problems, "/properties/"+key, fmt.Sprintf("%s is longer than %d characters", t.name, t.max))
		case s != "":
			*t.dst = &s
		}
	}

	// reported area
	areaRaw, areaKey := prop("reported_area")
	unitRaw, unitKey := prop("reported_unit")
	if areaKey != "" || unitKey != "" {
		if msg, pointer := c.setReportedArea(areaRaw, areaKey, unitRaw, unitKey); msg != "" {
			add(&problems, pointer, msg)
		}
	}

	// geometry
	g := f.geometry()
	if g.problem != "" {
		add(&problems, geomPointer, g.problem)
	}
	for _, r := range g.repairs {
		add(&warnings, geomPointer, r)
	}
	c.geometry, c.geomPointer = g.shape, f.Pointer+geomPointer

	if c.fieldID != nil {
		for i := range problems {
			problems[i].FieldID = *c.fieldID
		}
		for i := range warnings {
			warnings[i].FieldID = *c.fieldID
		}
	}
	if len(problems) > 0 {
		return nil, problems, warnings
	}
	return c, nil, warnings
}

func (c *clearance) setReportedArea(areaRaw json.RawMessage, areaKey string, unitRaw json.RawMessage, unitKey string) (msg, pointer string) {
	if areaKey == "" {
		return "reported_unit is given without reported_area", "/properties/" + unitKey
	}
	if unitKey == "" {
		return "reported_area is given without reported_unit (acre, kanal, hectare or m2)", "/properties/" + areaKey
	}
	area, msg := reportedNumber(areaRaw)
	if msg != "" {
		return msg, "/properties/" + areaKey
	}
	s, _ := stringValue(unitRaw)
	unit := strings.ToLower(strings.TrimSpace(s))
	switch unit {
	case "jerib", "jarib", "jirib", "jareeb":
		return unit + " is ambiguous (an Afghan jerib is 2,000 m², a Pakistani one 5 kanal, 2,529 m²): report in acre, kanal, hectare or m2", "/properties/" + unitKey
	}
	name, ok := unitNames[unit]
	if !ok {
		return fmt.Sprintf("reported_unit %q is not acre, kanal, hectare or m2", s), "/properties/" + unitKey
	}
	m2 := area * unitM2[name]
	if m2 > maxReportedM2 {
		return fmt.Sprintf("reported_area %g %s is out of range: a field's reported area must be under 100,000 hectares", area, name), "/properties/" + areaKey
	}
	c.reportedArea, c.reportedUnit, c.reportedAreaM2 = &area, &name, &m2
	return "", ""
}

// maxReportedM2 bounds a reported area: 100,000 hectares, forty times the
// largest field accepted, so a wrong unit still shows but a number past
// every measure (1e308, Infinity in m²) does not.
const maxReportedM2 = 1e9

// reportedNumber reads reported_area: a JSON number, or a string holding
// one, as some tools write numbers. Only JSON's number syntax counts, so
// "5 acres", "0x10" and "NaN" are refused, not read in part.
func reportedNumber(raw json.RawMessage) (float64, string) {
	number := raw
	s, isString := stringValue(raw)
	if isString {
		number = json.RawMessage(strings.TrimSpace(s))
	}
	var area float64
	if err := json.Unmarshal(number, &area); err != nil || area < 0 {
		if isString {
			return 0, fmt.Sprintf("reported_area %q is not a number, zero or more: give the number alone, the unit in reported_unit", s)
		}
		return 0, "reported_area must be a number, zero or more"
	}
	return area, ""
}

// unstorableProblem is a property PostgreSQL cannot hold.
type unstorableProblem struct{ pointer, message string }

// unstorableProperties finds the properties whose text PostgreSQL cannot
// hold (see unstorable), naming each; a property name that holds such text
// is reported without its name, which cannot be shown either.
func unstorableProperties(raw json.RawMessage, props map[string]json.RawMessage) []unstorableProblem {
	what := unstorable(raw)
	if what == "" {
		return nil
	}
	var bad []unstorableProblem
	for _, key := range slices.Sorted(maps.Keys(props)) {
		if w := unstorable(props[key]); w != "" && !strings.ContainsRune(key, 0) {
			bad = append(bad, unstorableProblem{"/properties/" + key, key + " holds " + w})
		}
	}
	if len(bad) == 0 {
		bad = append(bad, unstorableProblem{"/properties", "a property name holds " + what})
	}
	return bad
}

// unstorable finds the first thing in JSON text that PostgreSQL's jsonb
// cannot hold, or would hold only at great cost: an escape it refuses (see
// unstorableEscape), or a number out of range (see unstorableNumber). It
// says what it found, or returns "". raw is valid JSON.
func unstorable(raw []byte) string {
	if what := unstorableEscape(raw); what != "" {
		return what
	}
	return unstorableNumber(raw)
}

// Bounds on the numbers a property may hold. jsonb keeps a number as
// PostgreSQL numeric, written out in full: 1e131071 is stored, and served,
// as 131,072 digits, and a few more digits overflow it (an error, once a
// 500). A number within them is stored as written, at most a few hundred
// digits; a double reaches about 1.8e308 and, unless zero, 4.9e-324.
const (
	maxNumberLength   = 400
	maxNumberExponent = 330
)

// unstorableNumber finds the first number in JSON text that is longer than
// maxNumberLength characters, has an exponent past maxNumberExponent
// either way (0e999999 included), or lies beyond a double's range.
func unstorableNumber(raw []byte) string {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			i = stringEnd(raw, i)
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(raw) && strings.IndexByte("0123456789.eE+-", raw[j]) >= 0 {
				j++
			}
			if !storableNumber(string(raw[i:j])) {
				shown := string(raw[i:j])
				if len(shown) > 40 {
					shown = shown[:38] + "…"
				}
				return fmt.Sprintf("the number %s, out of range: write numbers in at most %d characters, "+
					"with an exponent from -%d to %d, within ±1.8e308", shown, maxNumberLength, maxNumberExponent, maxNumberExponent)
			}
			i = j - 1
		}
	}
	return ""
}

// storableNumber says whether a JSON number is within the bounds above.
func storableNumber(n string) bool {
	if len(n) > maxNumberLength {
		return false
	}
	if e := strings.IndexAny(n, "eE"); e >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(n[e+1:], "+"))
		if err != nil || exp > maxNumberExponent || exp < -maxNumberExponent {
			return false
		}
	}
	_, err := strconv.ParseFloat(n, 64)
	return err == nil
}

// stringEnd is the index of the quote that ends the JSON string whose
// opening quote is at raw[i].
func stringEnd(raw []byte, i int) int {
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(raw)
}

// unstorableEscape finds the first escape in JSON text that PostgreSQL's
// text and jsonb cannot hold: \u0000, or half of a UTF-16 surrogate pair
// (as JavaScript writes when text is cut inside an emoji). It says what it
// found, or returns "". Escapes are read whole, so an escaped backslash
// followed by "u0000" is text, not a NUL. raw is valid JSON: a backslash
// appears only in strings.
func unstorableEscape(raw []byte) string {
	const (
		nul       = `a NUL character (\u0000), which cannot be stored: remove it`
		surrogate = "a lone UTF-16 surrogate (half of a character such as an emoji, as when text is cut short), " +
			"which cannot be stored: send the whole character or remove it"
	)
	for i := bytes.IndexByte(raw, '\\'); i >= 0 && i+1 < len(raw); {
		if raw[i+1] != 'u' {
			i = nextEscape(raw, i+2)
			continue
		}
		r, ok := hex4(raw, i+2)
		switch {
		case !ok:
			return ""
		case r == 0:
			return nul
		case utf16.IsSurrogate(r) && r < 0xdc00: // high half: a low half must follow
			if low, ok := hex4(raw, i+8); !ok || raw[i+6] != '\\' || raw[i+7] != 'u' || low < 0xdc00 || low > 0xdfff {
				return surrogate
			}
			i = nextEscape(raw, i+12)
		case utf16.IsSurrogate(r): // low half without a high one
			return surrogate
		default:
			i = nextEscape(raw, i+6)
		}
	}
	return ""
}

// nextEscape is the index of the first backslash in raw from i on, or -1.
func nextEscape(raw []byte, i int) int {
	if i >= len(raw) {
		return -1
	}
	if j := bytes.IndexByte(raw[i:], '\\'); j >= 0 {
		return i + j
	}
	return -1
}

// hex4 reads the four hex digits of a \u escape at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 16)
	return rune(n), err == nil
}

// lookup finds a property by name, or, as KoboToolbox flattens groups into
// "group/subgroup/question", by a unique key ending in "/name". It returns the
// value and the key it was found under ("" if none).
func lookup(props map[string]json.RawMessage, name string) (json.RawMessage, string) {
	if v, ok := props[name]; ok && !bytes.Equal(v, []byte("null")) {
		return v, name
	}
	found := ""
	for k, v := range props {
		if strings.HasSuffix(k, "/"+name) && !bytes.Equal(v, []byte("null")) {
			if found != "" {
				return nil, "" // ambiguous: two groups ask the same question
			}
			found = k
		}
	}
	if found == "" {
		return nil, ""
	}
	return props[found], found
}

func stringValue(raw json.RawMessage) (string, bool) {
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err == nil
}

// scalarText reads a string, or a number as written (ids are often numeric).
func scalarText(raw json.RawMessage) (string, bool) {
	if s, ok := stringValue(raw); ok {
		return strings.TrimSpace(s), true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true
	}
	return "", false
}

// parseDate reads cleared_on: YYYY-MM-DD (or YYYY/MM/DD, as GDAL writes date
// fields); an RFC 3339 timestamp, whose own date is kept; or, as Esri's
// exports write dates, milliseconds since 1970, read as a date in Pakistan.
func parseDate(raw json.RawMessage) (time.Time, string) {
	if s, ok := stringValue(raw); ok {
		s = strings.TrimSpace(s)
		for _, layout := range []string{time.DateOnly, "2006/01/02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, ""
			}
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			y, m, d := t.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), ""
		}
		return time.Time{}, fmt.Sprintf("cleared_on %q is not a date: write YYYY-MM-DD", s)
	}
	var ms float64
	if err := json.Unmarshal(raw, &ms); err == nil && ms > -1e14 && ms < 1e14 {
		y, m, d := time.UnixMilli(int64(ms)).In(pakistan).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), ""
	}
	return time.Time{}, "cleared_on must be a date: write YYYY-MM-DD"
}

var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkDate keeps dates between 2000-01-01 and today in Pakistan.
func checkDate(date, today time.Time) string {
	if date.Before(earliest) {
		return fmt.Sprintf("cleared_on %s is before 2000-01-01", date.Format(time.DateOnly))
	}
	if date.After(today) {
		return fmt.Sprintf("cleared_on %s is in the future (today is %s in Pakistan)", date.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	return ""
}

// Today is the current date in Pakistan, as a UTC midnight.
func Today(now time.Time) time.Time {
	y, m, d := now.In(pakistan).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDefaults checks the values an upload's query supplies.
func ParseDefaults(crop, clearedOn, team string, today time.Time) (Defaults, error) {
	d := Defaults{Crop: strings.ToLower(strings.TrimSpace(crop)), ClearedOn: strings.TrimSpace(clearedOn), Team: strings.TrimSpace(team)}
	if d.Crop != "" && d.Crop != Poppy && d.Crop != Cannabis {
		return Defaults{}, fmt.Errorf("crop=%q: want poppy or cannabis", crop)
	}
	if d.ClearedOn != "" {
		date, err := time.Parse(time.DateOnly, d.ClearedOn)
		if err != nil {
			return Defaults{}, fmt.Errorf("cleared_on=%q: want a date, YYYY-MM-DD", clearedOn)
		}
		if msg := checkDate(date, today); msg != "" {
			return Defaults{}, fmt.Errorf("%s", msg)
		}
	}
	if utf8.RuneCountInString(d.Team) > maxTeam {
		return Defaults{}, fmt.Errorf("team is longer than %d characters", maxTeam)
	}
	return d, nil
}
