package api

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzQueryParsers feeds the tile address and filter parsers arbitrary
// text: they must never panic, and what they accept must be a real tile
// and a coherent filter.
func FuzzQueryParsers(f *testing.F) {
	for _, seed := range [][4]string{
		{"5", "22", "13", "crop=poppy&from=2026-03-01&to=2026-03-31"},
		{"22", "4194303", "0", "province=PK-KP"},
		{"-1", "0", "0", "crop=%00"},
		{"3", "99999999999999999999", "1", "from=2026-13-01"},
		{"0x1", "1e3", " 1", "to=2026-02-30&from=2027-01-01"},
		{"1", "0", "0", "from=0000-01-01"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, z, x, y, query string) {
		if c, err := parseTile(z, x, y); err == nil && (!c.Valid() || c.X >= 1<<c.Z || c.Y >= 1<<c.Z) {
			t.Fatalf("accepted %q/%q/%q as %+v", z, x, y, c)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		fl, err := parseFilter(q)
		if err != nil {
			if !strings.Contains(err.Error(), "want") && err.Error() != "to is before from" {
				t.Fatalf("unclear error %q", err)
			}
			return
		}
		if fl.Crop != "" && fl.Crop != "poppy" && fl.Crop != "cannabis" {
			t.Fatalf("crop %q accepted", fl.Crop)
		}
		if !fl.From.IsZero() && !fl.To.IsZero() && fl.To.Before(fl.From) {
			t.Fatalf("range %v..%v accepted", fl.From, fl.To)
		}
		for _, d := range []time.Time{fl.From, fl.To} {
			if d.Year() < 1 || d.Year() > 9999 {
				t.Fatalf("date %v accepted: PostgreSQL would refuse it", d)
			}
		}
	})
}
