package api_test

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"testing"
	"time"

	"clearmap/internal/auth"
	"clearmap/internal/ingest"
)

type progressBody struct {
	By          string
	TargetAcres float64 `json:"target_acres"`
	Periods     []struct {
		Start           string
		End             string
		Acres           float64
		CumulativeAcres float64 `json:"cumulative_acres"`
	}
}

// clearedField is a square field of side ° of crop cleared on day.
func clearedField(id, crop, day string, lon, lat, side float64) string {
	return fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"field_id":%q,"crop":%q,"cleared_on":%q},`+
		`"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}]}`,
		id, crop, day, lon, lat, lon+side, lat, lon+side, lat+side, lon, lat+side, lon, lat)
}

// TestProgressAddsUpToTheSummary uploads fields over several months
// (overlapping ones on different days, a near-duplicate, one across the
// Khyber–Peshawar line, other provinces) and checks that each period's
// cumulative figure is what the summary, a province or a district says up
// to its end, and that the periods add up to it.
func TestProgressAddsUpToTheSummary(t *testing.T) {
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	for _, f := range []string{
		clearedField("K-1", "poppy", "2026-01-20", 71.1, 34.05, 0.002),
		clearedField("K-2", "poppy", "2026-02-10", 71.101, 34.05, 0.002), // half over K-1
		clearedField("P-1", "cannabis", "2026-02-12", 71.55, 34.0, 0.003),
		clearedField("K-1b", "poppy", "2026-04-03", 71.10001, 34.05, 0.002),    // near-duplicate of K-1
		clearedField("K-3", "cannabis", "2026-04-06", 71.1015, 34.0505, 0.001), // inside K-1 and K-2
		clearedField("L-1", "poppy", "2026-04-05", 74.3, 31.5, 0.004),
		clearedField("K-4", "poppy", "2026-05-30", 71.2, 34.1, 0.002),
	} {
		rc := receiptOf(t, s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", []byte(f)))
		if rc.Status != "accepted" || rc.Acres <= 0 {
			t.Fatalf("upload: %+v", rc)
		}
	}
	var dup int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM clearances WHERE duplicate_of IS NOT NULL").Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 1 {
		t.Fatalf("%d near-duplicates, want 1 (K-1b)", dup)
	}
	today := ingest.Today(time.Now()).Format(time.DateOnly)

	// mapped reads what the summary, a province or a district reports
	// under query (scope names a province or district code).
	mapped := func(scope, query string) float64 {
		t.Helper()
		switch scope {
		case "":
			var sum struct {
				MappedAcres float64 `json:"mapped_acres"`
			}
			s.do(t, "GET", "/api/v1/summary?"+query, analyst, "").json(t, &sum)
			return sum.MappedAcres
		case "PK-KP", "PK-PB":
			var sum struct {
				ByProvince []struct {
					Code  string
					Acres float64
				} `json:"by_province"`
			}
			s.do(t, "GET", "/api/v1/summary?"+query, analyst, "").json(t, &sum)
			for _, p := range sum.ByProvince {
				if p.Code == scope {
					return p.Acres
				}
			}
			t.Fatalf("no province %s", scope)
		}
		var d struct{ Acres float64 }
		s.do(t, "GET", "/api/v1/districts/"+scope+"?"+query, analyst, "").json(t, &d)
		return d.Acres
	}
	for _, c := range []struct {
		query, scope string
		first, last  string // first start, last end
	}{
		{"", "", "2026-01-01", "2026-05-31"},
		{"by=month", "", "2026-01-01", "2026-05-31"},
		{"by=week", "", "2026-01-19", "2026-05-31"},
		{"crop=poppy", "", "2026-01-01", "2026-05-31"},
		{"crop=cannabis&by=week", "", "2026-02-09", "2026-04-12"},
		{"from=2026-02-01", "", "2026-02-01", "2026-05-31"},
		{"from=2026-02-11&to=2026-04-05&by=week", "", "2026-02-09", "2026-04-05"},
		{"to=2026-04-04", "", "2026-01-01", "2026-04-30"},
		{"province=PK-KP", "PK-KP", "2026-01-01", "2026-05-31"},
		{"province=PK-PB&by=week", "PK-PB", "2026-03-30", "2026-04-05"},
		{"district=PK-KP-KHYBER&crop=poppy&from=2026-01-21", "PK-KP-KHYBER", "2026-01-01", "2026-05-31"},
		{"province=PK-KP&district=PK-KP-PESHAWAR&by=week", "PK-KP-PESHAWAR", "2026-02-09", "2026-02-15"},
	} {
		var p progressBody
		r := s.do(t, "GET", "/api/v1/progress?"+c.query, analyst, "")
		r.json(t, &p)
		if r.status != 200 || p.TargetAcres != 40659 || len(p.Periods) == 0 {
			t.Fatalf("%s: %d %s", c.query, r.status, r.body)
		}
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		if want := cmp.Or(q.Get("by"), "month"); p.By != want {
			t.Errorf("%s: by %q, want %q", c.query, p.By, want)
		}
		if p.Periods[0].Start != c.first || p.Periods[len(p.Periods)-1].End != c.last {
			t.Errorf("%s: periods from %s to %s, want %s to %s", c.query, p.Periods[0].Start, p.Periods[len(p.Periods)-1].End, c.first, c.last)
		}
		// The summary's (or district's) filters: crop, from and to, the
		// scope being read from its own place.
		to := q.Get("to")
		q.Del("by")
		q.Del("province")
		q.Del("district")
		total := mapped(c.scope, q.Encode())
		var sum float64
		var previousEnd string
		for i, period := range p.Periods {
			start, err := time.Parse(time.DateOnly, period.Start)
			if err != nil {
				t.Fatal(err)
			}
			end, err := time.Parse(time.DateOnly, period.End)
			if err != nil {
				t.Fatal(err)
			}
			if p.By == "week" && (start.Weekday() != time.Monday || end.Sub(start) != 6*24*time.Hour) {
				t.Errorf("%s: week %s..%s is not Monday to Sunday", c.query, period.Start, period.End)
			}
			if p.By == "month" && (start.Day() != 1 || end.AddDate(0, 0, 1).Day() != 1 || start.Month() != end.Month()) {
				t.Errorf("%s: month %s..%s is not a calendar month", c.query, period.Start, period.End)
			}
			if i > 0 && start.AddDate(0, 0, -1).Format(time.DateOnly) != previousEnd {
				t.Errorf("%s: period %s does not follow %s", c.query, period.Start, previousEnd)
			}
			previousEnd = period.End
			sum += period.Acres
			upTo := period.End
			if to != "" && to < upTo {
				upTo = to
			}
			q.Set("to", upTo)
			if want := mapped(c.scope, q.Encode()); math.Abs(period.CumulativeAcres-want) > 1e-6 || math.Abs(sum-want) > 1e-6 {
				t.Errorf("%s: period %s..%s cumulative %v, periods so far %v; the figure to its end is %v", c.query, period.Start, period.End, period.CumulativeAcres, sum, want)
			}
		}
		if last := p.Periods[len(p.Periods)-1].CumulativeAcres; math.Abs(sum-total) > 1e-6 || math.Abs(last-total) > 1e-6 || total <= 0 {
			t.Errorf("%s: periods add up to %v, last cumulative %v; the figure is %v", c.query, sum, last, total)
		}
	}

	// March grew nothing but is listed; the overlapping K-2 adds only its
	// half outside K-1, the near-duplicate nothing.
	var p progressBody
	s.do(t, "GET", "/api/v1/progress?district=PK-KP-KHYBER&crop=poppy", analyst, "").json(t, &p)
	if len(p.Periods) != 5 || p.Periods[2].Start != "2026-03-01" || p.Periods[2].Acres != 0 || p.Periods[3].Acres != 0 ||
		math.Abs(p.Periods[1].Acres-p.Periods[0].Acres/2) > 0.01 || p.Periods[0].Acres < 9 || p.Periods[0].Acres > 11 {
		t.Errorf("Khyber poppy by month: %+v", p.Periods)
	}

	// A `to` past today runs to today's period; nothing in scope lists no
	// period.
	s.do(t, "GET", "/api/v1/progress?to=2099-12-31&by=week", analyst, "").json(t, &p)
	if last := p.Periods[len(p.Periods)-1]; last.Start > today || last.End < today || math.Abs(last.CumulativeAcres-mapped("", "")) > 1e-6 {
		t.Errorf("to past today: last period %+v, today %s", last, today)
	}
	for _, q := range []string{"from=2026-06-01", "district=PK-SD-BADIN", "province=PK-PB&crop=cannabis"} {
		r := s.do(t, "GET", "/api/v1/progress?"+q, analyst, "")
		if r.status != 200 || r.body != `{"by":"month","target_acres":40659,"periods":[]}`+"\n" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}

	for _, c := range []struct{ query, msg string }{
		{"by=day", `by="day": want month or week`},
		{"by=Month", `by="Month": want month or week`},
		{"from=2026-3-1", `from="2026-3-1": want a date, YYYY-MM-DD`},
		{"to=2026-02-30", `to="2026-02-30": want a date, YYYY-MM-DD`},
		{"from=2026-03-02&to=2026-03-01", "to is before from"},
		{"crop=hemp", `crop="hemp": want poppy or cannabis`},
		{"province=PK-XX", `province="PK-XX": no such province`},
		{"district=PK-KP-NOWHERE", `district="PK-KP-NOWHERE": no such district`},
	} {
		wantProblem(t, s.do(t, "GET", "/api/v1/progress?"+c.query, analyst, ""), 400, "", c.msg)
	}
	wantError(t, s.do(t, "GET", "/api/v1/progress", tokens[auth.Uploader], ""), 403, "the uploader role may not do this")
}
