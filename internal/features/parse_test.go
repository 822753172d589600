package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseDatetime(t *testing.T) {
	for _, c := range []struct{ in, from, to string }{
		{"2026-03-14", "2026-03-14", "2026-03-14"},
		{"2026-03-14T23:10:00+05:00", "2026-03-14", "2026-03-14"},
		{"2026-03-14T10:00:00Z", "2026-03-14", "2026-03-14"},
		{"2026-03-01/2026-03-31", "2026-03-01", "2026-03-31"},
		{"2026-03-01T06:00:00Z/2026-03-31T18:00:00+05:00", "2026-03-01", "2026-03-31"},
		{"../2026-03-31", "", "2026-03-31"},
		{"/2026-03-31", "", "2026-03-31"},
		{"2026-03-01/..", "2026-03-01", ""},
		{"2026-03-01/", "2026-03-01", ""},
		// GDAL 3.6 writes a date it filters on so.
		{"2026-03-01T/..", "2026-03-01", ""},
		{"2026-03-01T/2026-03-31T", "2026-03-01", "2026-03-31"},
	} {
		from, to, err := ParseDatetime(c.in)
		if err != nil || day(from) != c.from || day(to) != c.to {
			t.Errorf("%s: %v %v %v", c.in, from, to, err)
		}
	}
	for _, c := range []struct{ in, msg string }{
		{"", "want a date"},
		{"..", "want a date"},
		{"../..", "an interval needs at least one end"},
		{"/", "an interval needs at least one end"},
		{"../", "an interval needs at least one end"},
		{"../..x", "want a date"},
		{"2026-13-01", "want a date"},
		{"2026-03-14T10:00:00", "want a date"}, // RFC 3339 needs an offset
		{"2026-03-02/2026-03-01", "ends before it starts"},
		{"2026-03-01/2026-03-02/2026-03-03", "want a date"},
		{"yesterday", "want a date"},
		{"0000-01-01", "want a date"},
	} {
		if _, _, err := ParseDatetime(c.in); err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), fmt.Sprintf("datetime=%q", c.in)) {
			t.Errorf("%q: %v, want an error saying %q", c.in, err, c.msg)
		}
	}
}

func TestParseBBox(t *testing.T) {
	for _, c := range []struct {
		in   string
		want [][4]float64
	}{
		{"71,34,72,35", [][4]float64{{71, 34, 72, 35}}},
		{" 71 , 34 ,72,35", [][4]float64{{71, 34, 72, 35}}},
		{"-180,-90,180,90", [][4]float64{{-180, -90, 180, 90}}},
		// Six numbers: heights after each latitude, ignored.
		{"71,34,-100,72,35,9000", [][4]float64{{71, 34, 72, 35}}},
		// Across the antimeridian: two boxes.
		{"170,-10,-170,10", [][4]float64{{170, -10, 180, 10}, {-180, -10, -170, 10}}},
		{"170,-10,0,-170,10,5", [][4]float64{{170, -10, 180, 10}, {-180, -10, -170, 10}}},
	} {
		got, err := ParseBBox(c.in)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, msg string }{
		{"1,2,3", "want four numbers"},
		{"1,2,3,4,5", "want four numbers"},
		{"1,2,3,4,5,6,7", "want four numbers"},
		{"a,b,c,d", `"a" is not a number`},
		{"NaN,0,1,1", "is not a number"},
		{"1e400,0,1,1", "is not a number"},
		{"71,35,72,34", "min latitude before max"},
		{"-181,0,1,1", "min latitude before max"},
		{"0,-91,1,1", "min latitude before max"},
		{"0,0,0,1,1,-1", "min height is above the max"},
	} {
		if _, err := ParseBBox(c.in); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.in, err, c.msg)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []struct{ collection, key string }{{"clearances", "1"}, {"clearances", "9223372036854775807"}, {"districts", "PK-KP-KHYBER"}} {
		cur := Cursor(c.collection, c.key)
		if strings.ContainsAny(cur, "+/=&?%") {
			t.Errorf("cursor %q is not URL-safe", cur)
		}
		if got, err := ParseCursor(c.collection, cur); err != nil || got != c.key {
			t.Errorf("%s %s: %q %v", c.collection, c.key, got, err)
		}
	}
	for _, c := range []struct{ collection, cursor string }{
		{"clearances", "12"},                                         // not base64 of anything ours
		{"clearances", "!!!"},                                        // not base64
		{"clearances", Cursor("districts", "PK-KP-KHYBER")},          // another collection's
		{"districts", Cursor("clearances", "12")},                    // likewise
		{"clearances", Cursor("clearances", "twelve")},               // not an id
		{"clearances", Cursor("clearances", "-1")},                   // not an id
		{"clearances", Cursor("clearances", "012")},                  // not as given out
		{"clearances", Cursor("clearances", "")},                     // no key
		{"districts", Cursor("districts", "a\x00b")},                 // NUL
		{"districts", Cursor("districts", strings.Repeat("x", 201))}, // too long
	} {
		if _, err := ParseCursor(c.collection, c.cursor); !errors.Is(err, ErrCursor) {
			t.Errorf("%s %q: %v, want ErrCursor", c.collection, c.cursor, err)
		}
	}
}

func TestAppendReal(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{2, "2.0"}, {2.75, "2.75"}, {0, "0.0"}, {-3, "-3.0"}, {1e21, "1000000000000000000000.0"}, {0.0001, "0.0001"}, {12345.6789, "12345.6789"}} {
		if got := string(appendReal(nil, c.in)); got != c.want {
			t.Errorf("appendReal(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := string(appendRound4(nil, 2.00004)); got != "2.0" {
		t.Errorf("appendRound4(2.00004) = %s", got)
	}
	if got := string(appendRound4(nil, 3.14159)); got != "3.1416" {
		t.Errorf("appendRound4(3.14159) = %s", got)
	}
}

func TestAppendString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a "quoted" \ back`, `"a \"quoted\" \\ back"`},
		{"line\nbreak\ttab\r", `"line\nbreak\ttab\r"`},
		{"\x01\x1f", `"\u0001\u001f"`},
		{"ANF ٹیم", `"ANF ٹیم"`},
		{"bad \xff byte", `"bad \ufffd byte"`},
		{"<script>&", `"<script>&"`},
	} {
		if got := string(appendString(nil, c.in)); got != c.want {
			t.Errorf("appendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// FuzzParsers checks that the query parsers never panic and that what they
// accept is well-formed.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"71,34,72,35", "-180,-90,180,90", "170,-10,-170,10", "1,2,0,3,4,9", "1,2,3", "a,b,c,d", "2026-03-01/2026-03-31", "../2026-03-31", "2026-03-14T10:00:00Z", "2026-03-01T/..", "1e400,0,0,0", Cursor("clearances", "5")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if boxes, err := ParseBBox(s); err == nil {
			if len(boxes) < 1 || len(boxes) > 2 {
				t.Fatalf("%d boxes from %q", len(boxes), s)
			}
			for _, b := range boxes {
				if b[0] > b[2] || b[1] > b[3] || b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 {
					t.Fatalf("accepted bbox %v from %q", b, s)
				}
			}
		}
		if from, to, err := ParseDatetime(s); err == nil {
			if !from.IsZero() && !to.IsZero() && to.Before(from) {
				t.Fatalf("accepted backwards interval %q", s)
			}
			if from.IsZero() && to.IsZero() {
				t.Fatalf("accepted %q as no date", s)
			}
		}
		for _, c := range []string{"clearances", "districts"} {
			if key, err := ParseCursor(c, s); err == nil && Cursor(c, key) != s {
				t.Fatalf("cursor %q read as %q, which writes as %q", s, key, Cursor(c, key))
			}
		}
		if got := appendString(nil, s); !json.Valid(got) {
			t.Fatalf("appendString(%q) = %s, not JSON", s, got)
		}
	})
}
