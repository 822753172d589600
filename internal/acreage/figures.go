package acreage

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// figuresSQL computes per district ($3: these codes, or all if NULL) and
// crop ('poppy', 'cannabis', 'all') the figures of fields cleared from $1
// to $2: net area, gross area, last day. Ungrouped
// parts come summed by day, groups as their steps for the range, summed in
// advance per start day (migrations/00007_acreage.sql). The rare group with
// too many member days for steps adds its net area when the range holds all
// its days, and is unioned over its members in range when it holds some.
const figuresSQL = `
	WITH daily AS (
		SELECT district_code, crop, sum(single_m2) AS single, sum(gross_m2) AS gross, max(day) AS last
		FROM acreage_daily
		WHERE day BETWEEN $1::date AND $2::date AND ($3::text[] IS NULL OR district_code = ANY($3))
		GROUP BY 1, 2),
	grouped AS (
		SELECT district_code, sum(net) AS net, sum(poppy) AS poppy, sum(cannabis) AS cannabis FROM (
			-- Per district, its first start day in range and the steps from
			-- it, each found by its own index probe: written as a join, the
			-- planner chose a scan of every step for plans made with the
			-- dates known (15-25 ms, the first five runs on a connection).
			SELECT d.code AS district_code, s.net, s.poppy, s.cannabis
			FROM districts d
			CROSS JOIN LATERAL (SELECT min(f_day) AS f FROM step_starts t
			                    WHERE t.district_code = d.code AND t.f_day >= $1::date) f
			CROSS JOIN LATERAL (SELECT sum(w_m2) AS net, sum(w_poppy_m2) AS poppy, sum(w_cannabis_m2) AS cannabis
			                    FROM step_starts s
			                    WHERE s.district_code = d.code AND s.f_day = f.f AND s.d_day <= $2::date) s
			WHERE $3::text[] IS NULL OR d.code = ANY($3)
			UNION ALL
			SELECT g.district_code, g.net_m2, g.poppy_m2, g.cannabis_m2 FROM overlap_groups g
			WHERE NOT g.stepped AND g.first_day >= $1::date AND g.last_day <= $2::date
			  AND ($3::text[] IS NULL OR g.district_code = ANY($3))
			UNION ALL
			SELECT s.district_code, ` + setAreas + ` FROM (
				SELECT g.district_code, ` + partSets + `
				FROM overlap_groups g
				CROSS JOIN LATERAL (` + groupParts + `m.group_id = g.id AND m.cleared_on BETWEEN $1::date AND $2::date) p
				WHERE NOT g.stepped AND g.first_day <= $2::date AND g.last_day >= $1::date
				  AND (g.first_day < $1::date OR g.last_day > $2::date)
				  AND ($3::text[] IS NULL OR g.district_code = ANY($3))
				GROUP BY g.id, g.district_code) s ` + setUnions + `) g
		GROUP BY 1)
	SELECT daily.district_code, daily.crop,
	       daily.single + coalesce(CASE daily.crop WHEN 'poppy' THEN grouped.poppy ELSE grouped.cannabis END, 0),
	       daily.gross, daily.last
	FROM daily LEFT JOIN grouped USING (district_code)
	UNION ALL
	SELECT daily.district_code, 'all', sum(daily.single) + coalesce(max(grouped.net), 0),
	       sum(daily.gross), max(daily.last)
	FROM daily LEFT JOIN grouped USING (district_code) GROUP BY daily.district_code`

// The whole range a date may fall in (SPEC §3.1: from 2000-01-01 to today).
const (
	firstDay = "2000-01-01"
	lastDay  = "9999-12-31"
)

// Acre and hectare in square metres.
const (
	AcreM2    = 4046.8564224
	hectareM2 = 10000
)

// Filter narrows the figures. Zero values filter nothing.
type Filter struct {
	Crop     string    // "poppy" or "cannabis"
	From, To time.Time // dates; inclusive
	Province string    // province code, for district lists and progress
	District string    // district code, for progress
}

func (f Filter) dated() bool { return !f.From.IsZero() || !f.To.IsZero() }

func (f Filter) dates() (string, string) {
	from, to := firstDay, lastDay
	if !f.From.IsZero() {
		from = f.From.Format(time.DateOnly)
	}
	if !f.To.IsZero() {
		to = f.To.Format(time.DateOnly)
	}
	return from, to
}

// figure is one row of figuresSQL or district_totals.
type figure struct {
	netM2, grossM2 float64
	last           *time.Time
}

// figures returns, per district code and crop, the figures under f's dates:
// from the precomputed totals when there are no dates. Dated figures are
// computed for the districts codes names only, or all if it is nil.
func figures(ctx context.Context, db *pgxpool.Pool, f Filter, codes []string) (map[string]map[string]figure, error) {
	var rows pgx.Rows
	var err error
	if f.dated() {
		from, to := f.dates()
		rows, err = db.Query(ctx, figuresSQL, from, to, codes)
	} else {
		rows, err = db.Query(ctx, `SELECT district_code, crop, net_m2, gross_m2, last_cleared_on FROM district_totals`)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]figure{}
	for rows.Next() {
		var code, crop string
		var fig figure
		if err := rows.Scan(&code, &crop, &fig.netM2, &fig.grossM2, &fig.last); err != nil {
			return nil, err
		}
		if out[code] == nil {
			out[code] = map[string]figure{}
		}
		out[code][crop] = fig
	}
	return out, rows.Err()
}

func acres(m2 float64) float64 { return Round4(m2 / AcreM2) }

// Round4 rounds to four decimals: a ten-thousandth of an acre is 0.4 m².
func Round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// ParseDate reads a date, YYYY-MM-DD, in the years 1 to 9999: the dates a
// figure may be asked for (PostgreSQL has no year 0).
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || !ValidDate(t) {
		return time.Time{}, errors.New("want a date, YYYY-MM-DD, from 0001-01-01 to 9999-12-31")
	}
	return t, nil
}

// ValidDate says whether t falls in the years 1 to 9999.
func ValidDate(t time.Time) bool {
	return t.Year() >= 1 && t.Year() <= 9999
}
