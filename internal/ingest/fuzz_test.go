package ingest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeAndCheck feeds arbitrary bodies through the streaming decoder and
// the Go-side rules: nothing may panic, and whatever passes must be fit to
// store.
func FuzzDecodeAndCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b, strings.HasSuffix(name, ".geojsons"))
	}
	f.Add([]byte(`{"type":"Polygon","coordinates":[[71.1,34.05],[71.2,34.05],[71.2,34.1]]}`), false)
	f.Add([]byte(`{"type":"Feature","properties":{"crop":"poppy","cleared_on":"2026-03-14","reported_area":1,"reported_unit":"jerib"},"geometry":null}`), false)
	f.Add([]byte(`{"type":"Feature","properties":{"crop":"poppy","cleared_on":"2026-03-14","notes":"C:\\u0000 \ud83c\udf3e","reported_area":"1e308","reported_unit":"acre"},"geometry":null}`), false)
	f.Add([]byte("\x1e{\"type\":\"Feature\"}\n\x1e[1,2]\n"), true)
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"cleared_on":1e400}}]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, sequence bool) {
		formats := []Format{Document, Lines}
		if sequence {
			formats = []Format{Sequence}
		}
		for _, format := range formats {
			decodeAndCheck(t, NewDecoder(strings.NewReader(string(body)), format))
		}
	})
}

// decodeAndCheck reads every feature d gives and applies the rules to it.
func decodeAndCheck(t *testing.T, d *Decoder) {
	seen := map[string]int{}
	for n := 0; ; n++ {
		raw, err := d.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var se *SyntaxError
		var tl *TooLargeError
		if err != nil {
			if !errors.As(err, &se) && !errors.As(err, &tl) {
				t.Fatalf("decoder error of type %T: %v", err, err)
			}
			return
		}
		if raw.Index != n {
			t.Fatalf("feature %d has index %d", n, raw.Index)
		}
		c, problems, _ := checkFeature(raw, Defaults{}, testToday, seen)
		if c == nil {
			if len(problems) == 0 {
				t.Fatal("rejected without a problem")
			}
			continue
		}
		checkClearance(t, c)
	}
}

func checkClearance(t *testing.T, c *clearance) {
	if c.crop != Poppy && c.crop != Cannabis {
		t.Fatalf("accepted crop %q", c.crop)
	}
	if c.clearedOn.Before(earliest) || c.clearedOn.After(testToday) || c.clearedOn.Location() != time.UTC {
		t.Fatalf("accepted date %v", c.clearedOn)
	}
	for _, s := range []*string{c.fieldID, c.team, c.method, c.notes} {
		if s != nil && (!utf8.ValidString(*s) || utf8.RuneCountInString(*s) > maxNotes || strings.ContainsRune(*s, 0)) {
			t.Fatalf("accepted text %q", *s)
		}
	}
	if (c.reportedArea == nil) != (c.reportedUnit == nil) || (c.reportedArea != nil && *c.reportedArea < 0) {
		t.Fatal("accepted a reported area without its unit, or a negative one")
	}
	if c.reportedAreaM2 != nil && !(*c.reportedAreaM2 <= maxReportedM2) {
		t.Fatalf("accepted a reported area of %g m²", *c.reportedAreaM2)
	}
	if unstorable(c.props) != "" {
		t.Fatalf("accepted properties PostgreSQL cannot hold: %s", c.props)
	}
	if len(c.geometry) == 0 {
		t.Fatal("accepted an empty geometry")
	}
	for _, p := range c.geometry {
		for _, r := range p {
			if len(r) < 4 || r[0] != r[len(r)-1] {
				t.Fatalf("accepted ring %v", r)
			}
		}
	}
}
