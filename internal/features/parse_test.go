package features

import (
	"strings"
	"testing"
	"time"
)

func TestParseDatetime(t *testing.T) {
	for _, c := range []struct{ in, from, to string }{
		{"2026-03-14", "2026-03-14", "2026-03-14"},
		{"2026-03-14T23:10:00+05:00", "2026-03-14", "2026-03-14"},
		{"2026-03-01/2026-03-31", "2026-03-01", "2026-03-31"},
		{"../2026-03-31", "", "2026-03-31"},
		{"2026-03-01/..", "2026-03-01", ""},
		{"2026-03-01/", "2026-03-01", ""},
	} {
		from, to, err := ParseDatetime(c.in)
		if err != nil || day(from) != c.from || day(to) != c.to {
			t.Errorf("%s: %v %v %v", c.in, from, to, err)
		}
	}
	for _, in := range []string{"", "..", "../..x", "2026-13-01", "2026-03-02/2026-03-01", "yesterday"} {
		if _, _, err := ParseDatetime(in); err == nil {
			t.Errorf("%q accepted", in)
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
	for _, s := range []string{"71,34,72,35", "-180,-90,180,90", "1,2,3", "a,b,c,d", "2026-03-01/2026-03-31", "../2026-03-31", "2026-03-14T10:00:00Z", "1e400,0,0,0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := ParseBBox(s); err == nil {
			if b[0] > b[2] || b[1] > b[3] || b[0] < -180 || b[3] > 90 {
				t.Fatalf("accepted bbox %v from %q", b, s)
			}
		}
		if from, to, err := ParseDatetime(s); err == nil {
			if !from.IsZero() && !to.IsZero() && to.Before(from) {
				t.Fatalf("accepted backwards interval %q", s)
			}
			if !strings.Contains(s, "/") && from.IsZero() {
				t.Fatalf("accepted %q as no date", s)
			}
		}
	})
}
