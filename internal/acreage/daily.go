package acreage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The daily sums of the loose parts (acreage_daily) are kept by adding up
// changes, so that an upload costs what its own parts change, not what the
// days it touches already hold: each statement that adds, removes, groups
// or ungroups parts records its change in daily_delta, and refresh adds the
// changes to the sums (applyDailyDelta).

// The areas of the union of a set of parts, all crops (net), poppy and
// cannabis: a query groups the parts (called p), selecting partSets, as a
// subquery called s, and selects setAreas from it joined with setUnions.
// A set of one part is its area, a set of one crop has one union, and no
// union is made that is not needed: most sets are of one or two parts. Two
// parts are unioned as a pair, 20% faster than as a collection (2.9 s
// against 3.6 s for 70,311 pairs, docs/benchmarks.md).
// "OFFSET 0" keeps each union in its own subquery, made once a set: pulled
// up, the planner copied it into every use of net (the crops' areas, a
// window's lag), and 100,000 fields over stored ones made each union up to
// six times (42 s of the import's 74 s; 23 s with the subqueries kept).
const (
	partSets = `count(*) AS n, count(*) FILTER (WHERE p.crop = 'poppy') AS n_poppy,
		sum(p.area_m2) AS area, sum(p.area_m2) FILTER (WHERE p.crop = 'poppy') AS area_poppy,
		sum(p.area_m2) FILTER (WHERE p.crop = 'cannabis') AS area_cannabis,
		ST_Collect(p.geom) AS geoms, ST_Collect(p.geom) FILTER (WHERE p.crop = 'poppy') AS geoms_poppy,
		ST_Collect(p.geom) FILTER (WHERE p.crop = 'cannabis') AS geoms_cannabis`
	setUnions = `
		CROSS JOIN LATERAL (SELECT CASE WHEN s.n = 1 THEN s.area
		                                WHEN s.n = 2 THEN ST_Area(ST_Union(ST_GeometryN(s.geoms, 1), ST_GeometryN(s.geoms, 2))::geography)
		                                ELSE ST_Area(ST_UnaryUnion(s.geoms)::geography) END AS net OFFSET 0) u
		CROSS JOIN LATERAL (SELECT
			CASE WHEN s.n_poppy = 0 THEN 0 WHEN s.n_poppy = s.n THEN u.net WHEN s.n_poppy = 1 THEN s.area_poppy
			     ELSE ST_Area(ST_UnaryUnion(s.geoms_poppy)::geography) END AS poppy,
			CASE WHEN s.n_poppy = s.n THEN 0 WHEN s.n_poppy = 0 THEN u.net WHEN s.n - s.n_poppy = 1 THEN s.area_cannabis
			     ELSE ST_Area(ST_UnaryUnion(s.geoms_cannabis)::geography) END AS cannabis OFFSET 0) c`
	setAreas = `u.net, c.poppy, c.cannabis`
)

// returningParts ends a statement that changes parts (clearance_parts) or
// their groups (group_members): what recordDaily needs of each part it
// changed.
const returningParts = `
	RETURNING district_code, crop, cleared_on, area_m2`

// partChange says how a change to a part changes its day's sums: SQL
// expressions over the columns of returningParts.
type partChange struct{ single, gross, parts, loose string }

var (
	// partsAdded are new parts, all loose.
	partsAdded = partChange{"area_m2", "area_m2", "1", "1"}
	// partsRemoved are deleted parts, loose: a grouped part leaves its
	// group first (partsUngrouped).
	partsRemoved = partChange{"-area_m2", "-area_m2", "-1", "-1"}
	// partsGrouped were loose and now belong to a group.
	partsGrouped = partChange{"-area_m2", "0", "0", "-1"}
	// partsUngrouped leave their group, loose again.
	partsUngrouped = partChange{"area_m2", "0", "0", "1"}
)

const createDailyDelta = `CREATE TEMP TABLE IF NOT EXISTS daily_delta (
	district_code text, crop text, day date, single_m2 float8, gross_m2 float8, parts int, loose int) ON COMMIT DROP`

// recordDaily runs change, a statement ending in returningParts, and
// records its change to the daily sums, as how says.
func recordDaily(ctx context.Context, tx pgx.Tx, change string, how partChange, args ...any) error {
	if _, err := tx.Exec(ctx, createDailyDelta); err != nil {
		return fmt.Errorf("daily sums: %w", err)
	}
	_, err := tx.Exec(ctx, `WITH changed AS (`+change+`)
		INSERT INTO daily_delta SELECT district_code, crop, cleared_on,
		       sum(`+how.single+`), sum(`+how.gross+`), sum(`+how.parts+`), sum(`+how.loose+`)
		FROM changed GROUP BY 1, 2, 3`, args...)
	if err != nil {
		return fmt.Errorf("daily sums: %w", err)
	}
	return nil
}

// applyDailyDelta adds the recorded changes to acreage_daily, dropping the
// days left with no part, and returns the districts whose parts changed.
// A day with no loose part has a single area of exactly 0.
func applyDailyDelta(ctx context.Context, tx pgx.Tx) ([]string, error) {
	_, err := tx.Exec(ctx, createDailyDelta+`;
		INSERT INTO acreage_daily AS a (district_code, crop, day, single_m2, gross_m2, parts, loose)
		SELECT district_code, crop, day, sum(single_m2), sum(gross_m2), sum(parts), sum(loose)
		FROM daily_delta GROUP BY 1, 2, 3
		ON CONFLICT (district_code, crop, day) DO UPDATE SET
			single_m2 = a.single_m2 + excluded.single_m2, gross_m2 = a.gross_m2 + excluded.gross_m2,
			parts = a.parts + excluded.parts, loose = a.loose + excluded.loose;
		DELETE FROM acreage_daily a USING (SELECT DISTINCT district_code, crop, day FROM daily_delta) d
		WHERE a.district_code = d.district_code AND a.crop = d.crop AND a.day = d.day AND a.parts = 0;
		UPDATE acreage_daily a SET single_m2 = 0 FROM (SELECT DISTINCT district_code, crop, day FROM daily_delta) d
		WHERE a.district_code = d.district_code AND a.crop = d.crop AND a.day = d.day AND a.loose = 0 AND a.single_m2 <> 0`)
	if err != nil {
		return nil, fmt.Errorf("apply daily sums: %w", err)
	}
	var districts []string
	if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT district_code), '{}') FROM daily_delta`).Scan(&districts); err != nil {
		return nil, fmt.Errorf("apply daily sums: %w", err)
	}
	if _, err := tx.Exec(ctx, "TRUNCATE daily_delta"); err != nil {
		return nil, fmt.Errorf("apply daily sums: %w", err)
	}
	return districts, nil
}
