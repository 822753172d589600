package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var testToday = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

const square = `{"type":"Polygon","coordinates":[[[71.1,34.05],[71.102,34.05],[71.102,34.052],[71.1,34.052],[71.1,34.05]]]}`

// feature builds a Feature with the given properties JSON and geometry JSON.
func feature(props, geom string) *RawFeature {
	return &RawFeature{Index: 3, Pointer: "/features/3", Type: "Feature", Properties: json.RawMessage(props), Geometry: json.RawMessage(geom)}
}

func TestFeatureRules(t *testing.T) {
	const ok = `"crop":"poppy","cleared_on":"2026-03-14"`
	for _, c := range []struct {
		name     string
		f        *RawFeature
		defaults Defaults
		problem  string // "" when the feature must pass
		pointer  string
		warning  string
	}{
		{"valid", feature(`{`+ok+`}`, square), Defaults{}, "", "", ""},
		{"crop any case", feature(`{"crop":"CANNABIS","cleared_on":"2026-03-14"}`, square), Defaults{}, "", "", ""},
		{"crop missing", feature(`{"cleared_on":"2026-03-14"}`, square), Defaults{}, `crop is missing: set "crop" to poppy or cannabis, or upload with ?crop=`, "/features/3/properties", ""},
		{"crop from query", feature(`{"cleared_on":"2026-03-14"}`, square), Defaults{Crop: "poppy"}, "", "", ""},
		{"crop wrong", feature(`{"crop":"wheat","cleared_on":"2026-03-14"}`, square), Defaults{}, `crop "wheat" is not poppy or cannabis`, "/features/3/properties/crop", ""},
		{"crop not text", feature(`{"crop":1,"cleared_on":"2026-03-14"}`, square), Defaults{}, "crop must be a string: poppy or cannabis", "/features/3/properties/crop", ""},
		{"date missing", feature(`{"crop":"poppy"}`, square), Defaults{}, `cleared_on is missing`, "/features/3/properties", ""},
		{"date from query", feature(`{"crop":"poppy"}`, square), Defaults{ClearedOn: "2026-03-14"}, "", "", ""},
		{"date timestamp", feature(`{"crop":"poppy","cleared_on":"2026-03-14T23:30:00-04:00"}`, square), Defaults{}, "", "", ""},
		{"date slashes", feature(`{"crop":"poppy","cleared_on":"2026/03/14"}`, square), Defaults{}, "", "", ""},
		{"date epoch ms", feature(`{"crop":"poppy","cleared_on":1773428400000}`, square), Defaults{}, "", "", ""},
		{"date garbage", feature(`{"crop":"poppy","cleared_on":"14/03/2026"}`, square), Defaults{}, `cleared_on "14/03/2026" is not a date: write YYYY-MM-DD`, "/features/3/properties/cleared_on", ""},
		{"date future", feature(`{"crop":"poppy","cleared_on":"2026-11-28"}`, square), Defaults{}, "cleared_on 2026-11-28 is in the future (today is 2026-11-27 in Pakistan)", "/features/3/properties/cleared_on", ""},
		{"date today", feature(`{"crop":"poppy","cleared_on":"2026-11-27"}`, square), Defaults{}, "", "", ""},
		{"date too old", feature(`{"crop":"poppy","cleared_on":"1999-12-31"}`, square), Defaults{}, "cleared_on 1999-12-31 is before 2000-01-01", "/features/3/properties/cleared_on", ""},
		{"team too long", feature(`{`+ok+`,"team":"`+strings.Repeat("é", 201)+`"}`, square), Defaults{}, "team is longer than 200 characters", "/features/3/properties/team", ""},
		{"method too long", feature(`{`+ok+`,"method":"`+strings.Repeat("x", 51)+`"}`, square), Defaults{}, "method is longer than 50 characters", "/features/3/properties/method", ""},
		{"notes too long", feature(`{`+ok+`,"notes":"`+strings.Repeat("x", 2001)+`"}`, square), Defaults{}, "notes is longer than 2000 characters", "/features/3/properties/notes", ""},
		{"notes an object", feature(`{`+ok+`,"notes":{"a":1}}`, square), Defaults{}, "notes must be text", "/features/3/properties/notes", ""},
		{"NUL in a property", feature(`{`+ok+`,"notes":"a\u0000b"}`, square), Defaults{}, `notes holds a NUL character (\u0000)`, "/features/3/properties/notes", ""},
		{"NUL deep in a property", feature(`{`+ok+`,"extra":{"a":[1,"\u0000"]}}`, square), Defaults{}, `extra holds a NUL character`, "/features/3/properties/extra", ""},
		{"NUL in a property name", feature(`{`+ok+`,"a\u0000":1}`, square), Defaults{}, `a property name holds a NUL character`, "/features/3/properties", ""},
		{"escaped backslash before u0000", feature(`{`+ok+`,"notes":"C:\\u0000x \\\\u0000 \\ud800"}`, square), Defaults{}, "", "", ""},
		{"other escapes", feature(`{`+ok+`,"notes":"\"\n\t\u00e9\/\u0041"}`, square), Defaults{}, "", "", ""},
		{"surrogate pair", feature(`{`+ok+`,"notes":"\ud83c\udf3e"}`, square), Defaults{}, "", "", ""},
		{"lone high surrogate", feature(`{`+ok+`,"notes":"cut \ud83c"}`, square), Defaults{}, "notes holds a lone UTF-16 surrogate", "/features/3/properties/notes", ""},
		{"high surrogate before another escape", feature(`{`+ok+`,"team":"\ud83c\u0041"}`, square), Defaults{}, "team holds a lone UTF-16 surrogate", "/features/3/properties/team", ""},
		{"two high surrogates", feature(`{`+ok+`,"team":"\ud83c\ud83c"}`, square), Defaults{}, "team holds a lone UTF-16 surrogate", "/features/3/properties/team", ""},
		{"lone low surrogate", feature(`{`+ok+`,"notes":"\udf3e"}`, square), Defaults{}, "notes holds a lone UTF-16 surrogate", "/features/3/properties/notes", ""},
		{"properties an array", feature(`[1]`, square), Defaults{}, "properties must be a JSON object", "/features/3/properties", ""},
		{"field_id an object", feature(`{`+ok+`,"field_id":{}}`, square), Defaults{}, "field_id must be a string or a number", "/features/3/properties/field_id", ""},
		{"reported kanal", feature(`{`+ok+`,"reported_area":8,"reported_unit":"Kanal"}`, square), Defaults{}, "", "", ""},
		{"reported jerib", feature(`{`+ok+`,"reported_area":2,"reported_unit":"jerib"}`, square), Defaults{}, "jerib is ambiguous (an Afghan jerib is 2,000 m², a Pakistani one 5 kanal, 2,529 m²)", "/features/3/properties/reported_unit", ""},
		{"reported unknown unit", feature(`{`+ok+`,"reported_area":2,"reported_unit":"bigha"}`, square), Defaults{}, `reported_unit "bigha" is not acre, kanal, hectare or m2`, "/features/3/properties/reported_unit", ""},
		{"reported without unit", feature(`{`+ok+`,"reported_area":2}`, square), Defaults{}, "reported_area is given without reported_unit", "/features/3/properties/reported_area", ""},
		{"unit without area", feature(`{`+ok+`,"reported_unit":"acre"}`, square), Defaults{}, "reported_unit is given without reported_area", "/features/3/properties/reported_unit", ""},
		{"negative area", feature(`{`+ok+`,"reported_area":-1,"reported_unit":"acre"}`, square), Defaults{}, "reported_area must be a number, zero or more", "/features/3/properties/reported_area", ""},
		{"area with its unit", feature(`{`+ok+`,"reported_area":"5 acres","reported_unit":"acre"}`, square), Defaults{}, `reported_area "5 acres" is not a number`, "/features/3/properties/reported_area", ""},
		{"area in hex", feature(`{`+ok+`,"reported_area":"0x10","reported_unit":"acre"}`, square), Defaults{}, `reported_area "0x10" is not a number`, "/features/3/properties/reported_area", ""},
		{"area NaN", feature(`{`+ok+`,"reported_area":"NaN","reported_unit":"acre"}`, square), Defaults{}, `reported_area "NaN" is not a number`, "/features/3/properties/reported_area", ""},
		{"area 1e308", feature(`{`+ok+`,"reported_area":1e308,"reported_unit":"acre"}`, square), Defaults{}, "reported_area 1e+308 acre is out of range", "/features/3/properties/reported_area", ""},
		{"area 1e400", feature(`{`+ok+`,"reported_area":1e400,"reported_unit":"m2"}`, square), Defaults{}, "reported_area holds the number 1e400, out of range", "/features/3/properties/reported_area", ""},
		{"number past every double", feature(`{`+ok+`,"x":1e200000}`, square), Defaults{}, "x holds the number 1e200000, out of range", "/features/3/properties/x", ""},
		{"number below every double", feature(`{`+ok+`,"x":{"y":[-1e-200000]}}`, square), Defaults{}, "x holds the number -1e-200000, out of range", "/features/3/properties/x", ""},
		{"zero with a huge exponent", feature(`{`+ok+`,"x":0e999999}`, square), Defaults{}, "x holds the number 0e999999, out of range", "/features/3/properties/x", ""},
		{"number of 401 characters", feature(`{`+ok+`,"x":1.`+strings.Repeat("0", 399)+`}`, square), Defaults{}, "x holds the number 1.000000000000000000000000000000000000…, out of range", "/features/3/properties/x", ""},
		{"field_id past every double", feature(`{`+ok+`,"field_id":1e200000}`, square), Defaults{}, "field_id holds the number 1e200000, out of range", "/features/3/properties/field_id", ""},
		{"large numbers that fit", feature(`{`+ok+`,"x":1e308,"y":-1.5e-300,"z":123456789012345678901234567890,"w":-0,"v":[0.5E+3]}`, square), Defaults{}, "", "", ""},
		{"number-like text", feature(`{`+ok+`,"notes":"1e999999 \"1e999999\"","1e999999":"x"}`, square), Defaults{}, "", "", ""},
		{"area as text", feature(`{`+ok+`,"reported_area":" 2.5 ","reported_unit":"ha"}`, square), Defaults{}, "", "", ""},
		{"Kobo groups", feature(`{"grp/crop":"poppy","grp/cleared_on":"2026-03-14"}`, square), Defaults{}, "", "", ""},
		{"point", feature(`{`+ok+`}`, `{"type":"Point","coordinates":[71.1,34.05]}`), Defaults{}, `geometry is a "Point"; a cleared field must be a Polygon or MultiPolygon`, "/features/3/geometry", ""},
		{"null geometry", feature(`{`+ok+`}`, `null`), Defaults{}, "geometry is missing", "/features/3/geometry", ""},
		{"no coordinates", feature(`{`+ok+`}`, `{"type":"MultiPolygon","coordinates":[]}`), Defaults{}, "geometry has no coordinates", "/features/3/geometry", ""},
		{"short ring", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[[71.1,34.05],[71.102,34.05],[71.1,34.05]]]}`), Defaults{}, "ring 0 has 3 positions; a ring needs at least 4", "/features/3/geometry", ""},
		{"one-number position", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[[71.1],[71.102,34.05],[71.102,34.052],[71.1,34.05]]]}`), Defaults{}, "ring 0 position 0 has 1 numbers", "/features/3/geometry", ""},
		{"five-number position", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[[71.1,34.05,1,2,3],[71.102,34.05],[71.102,34.052],[71.1,34.05]]]}`), Defaults{}, "ring 0 position 0 has 5 numbers", "/features/3/geometry", ""},
		{"1e400", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[[1e400,34.05],[71.102,34.05],[71.102,34.052],[71.1,34.05]]]}`), Defaults{}, "coordinates hold a number out of range", "/features/3/geometry", ""},
		{"strings as coordinates", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[["71.1","34.05"]]]}`), Defaults{}, "coordinates must be an array of rings", "/features/3/geometry", ""},
		{"unclosed ring", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[[71.1,34.05],[71.102,34.05],[71.102,34.052],[71.1,34.052]]]}`), Defaults{}, "", "", "ring 0 was not closed: closed it by repeating its first position"},
		{"ODK un-nested", feature(`{`+ok+`}`, `{"type":"Polygon","coordinates":[[71.1,34.05,1200,5],[71.102,34.05,1200,5],[71.102,34.052,1200,5],[71.1,34.05,1200,5]]}`), Defaults{}, "", "", "read as one ring"},
		{"multipolygon second part short", feature(`{`+ok+`}`, `{"type":"MultiPolygon","coordinates":[[[[71.1,34.05],[71.102,34.05],[71.102,34.052],[71.1,34.05]]],[[[71.2,34.05],[71.1,34.05],[71.2,34.05]]]]}`), Defaults{}, "polygon 1 ring 0 has 3 positions", "/features/3/geometry", ""},
		{"bare geometry", &RawFeature{Index: 0, Type: "Polygon", Geometry: json.RawMessage(square)}, Defaults{Crop: "poppy", ClearedOn: "2026-03-14"}, "", "", ""},
		{"bare geometry without query", &RawFeature{Index: 0, Type: "Polygon", Geometry: json.RawMessage(square)}, Defaults{}, "crop is missing", "/properties", ""},
		{"a LineString object", &RawFeature{Index: 0, Type: "LineString", Geometry: json.RawMessage(`{}`)}, Defaults{}, `a "LineString" is not accepted`, "/type", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, problems, warnings := checkFeature(c.f, c.defaults, testToday, map[string]int{})
			if c.problem == "" {
				if got == nil || len(problems) > 0 {
					t.Fatalf("rejected: %+v", problems)
				}
			} else {
				if got != nil || len(problems) == 0 || !strings.Contains(problems[0].Message, c.problem) || problems[0].Pointer != c.pointer {
					t.Fatalf("problems %+v\nwant %q at %q", problems, c.problem, c.pointer)
				}
			}
			if c.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0].Message, c.warning)) {
				t.Fatalf("warnings %+v, want %q", warnings, c.warning)
			}
		})
	}
}

func TestFeatureValuesAreRead(t *testing.T) {
	f := feature(`{"field_id":1234,"crop":" Poppy ","cleared_on":1773428400000,"team":"ANF 2","reported_area":"8","reported_unit":"kanals","extra":{"kept":true}}`, square)
	c, problems, _ := checkFeature(f, Defaults{Team: "ignored: the feature has a team"}, testToday, map[string]int{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if *c.fieldID != "1234" || c.crop != "poppy" || c.clearedOn.Format(time.DateOnly) != "2026-03-14" || *c.team != "ANF 2" {
		t.Fatalf("read %q %q %s %q", *c.fieldID, c.crop, c.clearedOn, *c.team)
	}
	// 8 kanal = 1 acre = 4046.8564224 m².
	if *c.reportedArea != 8 || *c.reportedUnit != "kanal" || *c.reportedAreaM2 != 4046.8564224 {
		t.Fatalf("reported %v %v %v", *c.reportedArea, *c.reportedUnit, *c.reportedAreaM2)
	}
	if !strings.Contains(string(c.props), `"extra":{"kept":true}`) {
		t.Fatalf("props not kept verbatim: %s", c.props)
	}
}

func TestFieldIDsMustBeUniqueWithinAnUpload(t *testing.T) {
	seen := map[string]int{}
	first := feature(`{"field_id":"F-1","crop":"poppy","cleared_on":"2026-03-14"}`, square)
	first.Index = 0
	if _, p, _ := checkFeature(first, Defaults{}, testToday, seen); len(p) > 0 {
		t.Fatal(p)
	}
	_, problems, _ := checkFeature(feature(`{"field_id":"F-1","crop":"poppy","cleared_on":"2026-03-14"}`, square), Defaults{}, testToday, seen)
	if len(problems) != 1 || problems[0].Message != `field_id "F-1" is used by feature 0 too; it must be unique within an upload` || problems[0].FieldID != "F-1" {
		t.Fatalf("%+v", problems)
	}
}

func TestEveryProblemOfAFeatureIsListed(t *testing.T) {
	_, problems, _ := checkFeature(feature(`{"field_id":"F-9","crop":"wheat","cleared_on":"tomorrow","reported_area":1,"reported_unit":"jirib"}`, `{"type":"Point","coordinates":[1,2]}`), Defaults{}, testToday, map[string]int{})
	if len(problems) != 4 {
		t.Fatalf("%d problems, want 4 (crop, date, unit, geometry): %+v", len(problems), problems)
	}
	for _, p := range problems {
		if p.FieldID != "F-9" || p.Index != 3 {
			t.Fatalf("problem not labelled with its feature: %+v", p)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	if d, err := ParseDefaults(" Poppy", "2026-03-14", "ANF", testToday); err != nil || d.Crop != "poppy" {
		t.Fatalf("%+v %v", d, err)
	}
	for _, c := range []struct{ crop, date, team, want string }{
		{"opium", "", "", `crop="opium": want poppy or cannabis`},
		{"", "14-03-2026", "", `cleared_on="14-03-2026": want a date, YYYY-MM-DD`},
		{"", "2027-01-01", "", "is in the future"},
		{"", "", strings.Repeat("t", 201), "team is longer than 200 characters"},
	} {
		if _, err := ParseDefaults(c.crop, c.date, c.team, testToday); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestTodayIsPakistansDate(t *testing.T) {
	// 20:00 UTC is already the next day in Pakistan (UTC+5).
	if got := Today(time.Date(2026, 3, 13, 20, 0, 0, 0, time.UTC)); got.Format(time.DateOnly) != "2026-03-14" {
		t.Fatal(got)
	}
}
