package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// decodeAll returns the features' types and pointers, and the error that
// ended decoding (nil at a clean end).
func decodeAll(d *Decoder) ([]string, error) {
	var got []string
	for {
		f, err := d.Next()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, f.Type+"@"+f.Pointer)
	}
}

func TestDecoderReadsEveryBodyShape(t *testing.T) {
	poly := `{"type":"Polygon","coordinates":[[[71,34],[71.1,34],[71.1,34.1],[71,34]]]}`
	feature := `{"type":"Feature","properties":{"crop":"poppy"},"geometry":` + poly + `}`
	for _, c := range []struct {
		name, body string
		format     Format
		want       string
	}{
		{"collection", `{"type":"FeatureCollection","features":[` + feature + `,` + feature + `]}`, Document, "Feature@/features/0 Feature@/features/1"},
		{"collection, type last, crs after features", `{"features":[` + feature + `],"crs":{"type":"name","properties":{"name":"EPSG:32642"}},"type":"FeatureCollection"}`, Document, "Feature@/features/0"},
		{"lone feature", feature, Document, "Feature@"},
		{"bare geometry", poly, Document, "Polygon@"},
		{"byte order mark", "\xef\xbb\xbf" + feature, Document, "Feature@"},
		{"newline-delimited", feature + "\n" + feature + "\n\n" + poly + "\n", Lines, "Feature@ Feature@ Polygon@"},
		{"RFC 8142 sequence", "\x1e" + feature + "\n\x1e" + feature + "\n", Sequence, "Feature@ Feature@"},
		{"non-object in features", `{"type":"FeatureCollection","features":[1, "x", ` + feature + `]}`, Document, "@/features/0 @/features/1 Feature@/features/2"},
		{"empty collection", `{"type":"FeatureCollection","features":[]}`, Document, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeAll(NewDecoder(strings.NewReader(c.body), c.format))
			if err != nil || strings.Join(got, " ") != c.want {
				t.Fatalf("got %q, %v; want %q", strings.Join(got, " "), err, c.want)
			}
		})
	}
}

func TestDecoderCapturesCRS(t *testing.T) {
	d := NewDecoder(strings.NewReader(`{"type":"FeatureCollection","features":[],"crs":{"type":"name","properties":{"name":"EPSG:32642"}}}`), Document)
	decodeAll(d)
	if !strings.Contains(string(d.CRS()), "EPSG:32642") {
		t.Fatalf("crs = %s", d.CRS())
	}
}

func TestDecoderSyntaxErrors(t *testing.T) {
	feature := `{"type":"Feature","properties":{},"geometry":null}`
	for _, c := range []struct{ name, body, want string }{
		{"truncated", `{"type":"FeatureCollection","features":[` + feature + `,{"type":"Fea`, "ends inside the JSON value that starts here"},
		{"not JSON", `type,crop\nPolygon,poppy`, "invalid character"},
		{"array at top", `[` + feature + `]`, "expected a JSON object"},
		{"no type", `{"features":[]}`, `has no "type"`},
		{"features not an array", `{"type":"FeatureCollection","features":{}}`, "features must be an array"},
		{"collection without features", `{"type":"FeatureCollection"}`, `has no "features" array`},
		{"feature with features", `{"type":"Feature","features":[]}`, `a "Feature" cannot have "features"`},
		{"duplicate member", `{"type":"FeatureCollection","type":"Feature","features":[]}`, `member "type" appears twice`},
		{"NaN", `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[NaN,1]]]}}`, "invalid character 'N'"},
		{"depth bomb", strings.Repeat("[", 20000), "expected a JSON object"},
		{"deep in a feature", `{"type":"FeatureCollection","features":[` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `]}`, "exceeded max depth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeAll(NewDecoder(strings.NewReader(c.body), Document))
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want a SyntaxError containing %q", err, c.want)
			}
		})
	}
}

// TestDecoderEndsValuesWhereTheirFormatSays: nothing but white space after
// a Document's value, or on a value's line or record; the error names the
// byte where the extra data starts, counting a byte order mark.
func TestDecoderEndsValuesWhereTheirFormatSays(t *testing.T) {
	feature := `{"type":"Feature","properties":{},"geometry":null}`
	n := len(feature)
	for _, c := range []struct {
		name, body string
		format     Format
		want       string // the error, or "" for none
	}{
		{"document, then blanks", feature + " \r\n\t", Document, ""},
		{"document, then another", feature + feature, Document, fmt.Sprintf("at byte %d: more data after the GeoJSON object", n)},
		{"document after a byte order mark, then junk", "\xef\xbb\xbf" + feature + "\n x", Document, fmt.Sprintf("at byte %d: more data after", n+5)},
		{"document, then a newline and another", feature + "\n" + feature, Document, fmt.Sprintf("at byte %d: more data after", n+1)},
		{"lines", feature + "\r\n" + feature, Lines, ""},
		{"lines, two on one", feature + "\n" + feature + "  " + feature + "\n", Lines, fmt.Sprintf("at byte %d: a second JSON value on the same line", 2*n+3)},
		{"sequence", "\x1e" + feature + "\n\x1e" + feature + "\n", Sequence, ""},
		{"sequence, two in a record across a newline", "\x1e" + feature + "\n" + feature + "\n", Sequence, fmt.Sprintf("at byte %d: a second JSON value in the same record", n+2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeAll(NewDecoder(strings.NewReader(c.body), c.format))
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v; want %q", err, c.want)
			}
		})
	}
}

// TestDecoderSkipsMembersNoRuleReads: such members are read past token by
// token, whatever they hold, within the same bounds of depth and size.
func TestDecoderSkipsMembersNoRuleReads(t *testing.T) {
	feature := `{"type":"Feature","properties":{},"geometry":null}`
	for _, c := range []struct{ name, body, want string }{
		{"numbers past float64", `{"type":"FeatureCollection","junk":[1e400,{"a":[-1e-400]}],"features":[` + feature + `]}`, ""},
		{"a deep member", `{"type":"FeatureCollection","junk":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `,"features":[]}`, `member "junk" is nested more than 10000 deep`},
		{"a broken member", `{"type":"FeatureCollection","junk":[1,,2],"features":[]}`, "invalid character ','"},
		{"a member with a huge string", `{"type":"Feature","junk":"` + strings.Repeat("x", maxValueBytes) + `","geometry":null}`, `member "junk" is larger than 16 MiB (at byte 25)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeAll(NewDecoder(strings.NewReader(c.body), Document))
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v; want %q", err, c.want)
			}
		})
	}
}

func TestCountPositions(t *testing.T) {
	for _, c := range []struct {
		coords              string
		total, ring, inRing int
	}{
		{`[[[0,0],[1,0],[1,1],[0,0]]]`, 4, 0, 4},
		{`[[[0,0],[1,0],[1,1],[0,0]],[[0,0],[1,0],[1,1],[0.5,0.5],[0,0]]]`, 9, 1, 5},
		{`[[[[0,0],[1,0],[0,0]]],[[[0,0],[1,0],[1,1],[0,0]]]]`, 7, 1, 4},
		{`[ [ -1 , 2 ], [ 3, 4 ] ]`, 2, 0, 2}, // ODK's un-nested ring
		{`[["a",1],[]]`, 0, 0, 0},
	} {
		total, ring, inRing := countPositions([]byte(c.coords))
		if total != c.total || ring != c.ring || inRing != c.inRing {
			t.Errorf("%s: %d positions, ring %d has %d; want %d, %d, %d", c.coords, total, ring, inRing, c.total, c.ring, c.inRing)
		}
	}
}
