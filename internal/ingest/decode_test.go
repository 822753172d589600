package ingest

import (
	"errors"
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
		seq        bool
		want       string
	}{
		{"collection", `{"type":"FeatureCollection","features":[` + feature + `,` + feature + `]}`, false, "Feature@/features/0 Feature@/features/1"},
		{"collection, type last, crs after features", `{"features":[` + feature + `],"crs":{"type":"name","properties":{"name":"EPSG:32642"}},"type":"FeatureCollection"}`, false, "Feature@/features/0"},
		{"lone feature", feature, false, "Feature@"},
		{"bare geometry", poly, false, "Polygon@"},
		{"byte order mark", "\xef\xbb\xbf" + feature, false, "Feature@"},
		{"newline-delimited", feature + "\n" + feature + "\n\n" + poly + "\n", false, "Feature@ Feature@ Polygon@"},
		{"RFC 8142 sequence", "\x1e" + feature + "\n\x1e" + feature + "\n", true, "Feature@ Feature@"},
		{"non-object in features", `{"type":"FeatureCollection","features":[1, "x", ` + feature + `]}`, false, "@/features/0 @/features/1 Feature@/features/2"},
		{"empty collection", `{"type":"FeatureCollection","features":[]}`, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d *Decoder
			if c.seq {
				d = NewSequenceDecoder(strings.NewReader(c.body))
			} else {
				d = NewDecoder(strings.NewReader(c.body))
			}
			got, err := decodeAll(d)
			if err != nil || strings.Join(got, " ") != c.want {
				t.Fatalf("got %q, %v; want %q", strings.Join(got, " "), err, c.want)
			}
		})
	}
}

func TestDecoderCapturesCRS(t *testing.T) {
	d := NewDecoder(strings.NewReader(`{"type":"FeatureCollection","features":[],"crs":{"type":"name","properties":{"name":"EPSG:32642"}}}`))
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
			_, err := decodeAll(NewDecoder(strings.NewReader(c.body)))
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want a SyntaxError containing %q", err, c.want)
			}
		})
	}
}
