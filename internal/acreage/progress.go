package acreage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Period is one month or week of a progress series: Acres is the growth of
// CumulativeAcres, the figure of the fields cleared up to End, over the
// period before.
type Period struct {
	Start           string  `json:"start"` // inclusive, YYYY-MM-DD
	End             string  `json:"end"`   // inclusive
	Acres           float64 `json:"acres"`
	CumulativeAcres float64 `json:"cumulative_acres"`
}

// Progress is mapped acres period by period (SPEC §4 /api/v1/progress).
type Progress struct {
	By          string   `json:"by"`
	TargetAcres float64  `json:"target_acres"`
	Periods     []Period `json:"periods"`
}

// scopeSQL says whether the province $1 and district $2 are known (or not
// asked for), and lists the districts of both in code order.
const scopeSQL = `
	SELECT $1 = '' OR EXISTS (SELECT FROM provinces WHERE code = $1),
	       $2 = '' OR EXISTS (SELECT FROM districts WHERE code = $2),
	       coalesce((SELECT array_agg(code ORDER BY code) FROM districts
	                 WHERE ($1 = '' OR province_code = $1) AND ($2 = '' OR code = $2)), '{}')`

// clearedDaysSQL lists the days with a counted part of crop $2 (or either,
// if empty) in the districts $1, from $3 to $4.
const clearedDaysSQL = `
	SELECT DISTINCT day FROM acreage_daily
	WHERE district_code = ANY($1) AND ($2 = '' OR crop = $2) AND day BETWEEN $3::date AND $4::date
	ORDER BY day`

// GetProgress returns the mapped acres of f's scope (f.Province, f.District,
// both or the nation) by month or, if by is "week", ISO week: from the
// period of f.From (or the first cleared day) to that of f.To (capped at
// today) or the last cleared day; none if nothing in scope was cleared.
// Periods are whole calendar months or weeks, though f's dates may cut the
// first and last: each period's cumulative figure is what the summary, a
// province or a district reports with To at its end (or f.To, if before).
// An unknown province or district is ErrUnknown.
func GetProgress(ctx context.Context, db *pgxpool.Pool, f Filter, by string, today time.Time, defaultTarget float64) (Progress, error) {
	p := Progress{By: by, Periods: []Period{}}
	var err error
	if p.TargetAcres, err = target(ctx, db, defaultTarget); err != nil {
		return p, fmt.Errorf("target: %w", err)
	}
	var provinceKnown, districtKnown bool
	var codes []string
	if err := db.QueryRow(ctx, scopeSQL, f.Province, f.District).Scan(&provinceKnown, &districtKnown, &codes); err != nil {
		return p, fmt.Errorf("scope: %w", err)
	}
	switch {
	case !provinceKnown:
		return p, fmt.Errorf("province=%q: no such province: %w", f.Province, ErrUnknown)
	case !districtKnown:
		return p, fmt.Errorf("district=%q: no such district: %w", f.District, ErrUnknown)
	}
	asked := f.To
	if f.To.IsZero() || f.To.After(today) {
		f.To = today
	}
	from, to := f.dates()
	rows, err := db.Query(ctx, clearedDaysSQL, codes, f.Crop, from, to)
	if err != nil {
		return p, fmt.Errorf("cleared days: %w", err)
	}
	days, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return p, fmt.Errorf("cleared days: %w", err)
	}
	if len(days) == 0 {
		return p, nil
	}
	first, last := days[0], days[len(days)-1]
	if !f.From.IsZero() {
		first = f.From
	}
	if !asked.IsZero() {
		last = f.To
	}
	// Only the national figure reads every district; a narrower scope has
	// the dated figures computed for its own districts alone.
	var only []string
	if f.Province != "" || f.District != "" {
		only = codes
	}
	var previous float64
	for start := periodStart(first, by); !start.After(last); {
		next := start.AddDate(0, 1, 0)
		if by == "week" {
			next = start.AddDate(0, 0, 7)
		}
		end := next.AddDate(0, 0, -1)
		cumulative := previous
		// A period with no cleared day leaves the figure as it was.
		grew := false
		for len(days) > 0 && days[0].Before(next) {
			days, grew = days[1:], true
		}
		if grew {
			g := f
			if end.Before(f.To) {
				g.To = end
			}
			if cumulative, err = scopeAcres(ctx, db, g, codes, only); err != nil {
				return p, err
			}
		}
		p.Periods = append(p.Periods, Period{Start: start.Format(time.DateOnly), End: end.Format(time.DateOnly),
			Acres: Round4(cumulative - previous), CumulativeAcres: cumulative})
		previous, start = cumulative, next
	}
	return p, nil
}

// periodStart is the first day of the month, or if by is "week" the Monday
// of the ISO week, holding day.
func periodStart(day time.Time, by string) time.Time {
	if by == "week" {
		return day.AddDate(0, 0, -(int(day.Weekday())+6)%7)
	}
	return time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// scopeAcres is the net acres under f of the districts codes, added up in
// code order as the summary adds them; only, if not nil, narrows the dated
// figures read to those districts.
func scopeAcres(ctx context.Context, db *pgxpool.Pool, f Filter, codes, only []string) (float64, error) {
	figs, err := figures(ctx, db, f, only)
	if err != nil {
		return 0, fmt.Errorf("figures to %s: %w", f.To.Format(time.DateOnly), err)
	}
	crop := f.Crop
	if crop == "" {
		crop = "all"
	}
	var m2 float64
	for _, code := range codes {
		m2 += figs[code][crop].netM2
	}
	return acres(m2), nil
}
