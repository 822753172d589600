// Package tiles builds Mapbox Vector Tiles (MVT 2.1) of districts and
// clearances in PostGIS, from the geometry kept in EPSG:3857.
//
// Layer provinces carries the province outlines (code, name); layer
// districts carries each district's figures under the request's filters; layer clearances carries the fields: polygons from zoom 10 up,
// below that one point per field (a field is under a pixel there), thinned
// to one point per 4×4-pixel cell so low zooms stay small. At zooms 10 and
// 11, where a field is a few pixels wide and a tile can hold ten thousand,
// polygons are simplified to half a pixel and acres rounded to 0.1, which
// keeps the densest tile under 500 KB; from zoom 12 to a quarter pixel, so
// that a field of thousands of vertices costs a tile what its outline on
// screen needs.
//
// Three layers name the map. Layer places carries populated places (name,
// population, kind; feature id the GeoNames id), thinned by population:
// below zoom 6 only places of 500,000 people or more, below zoom 8 of
// 100,000 or more, from zoom 8 all (capitals, national and provincial, at
// every zoom). Layer labels carries one point per province (every zoom) and
// per district (from zoom 5) to write its name at (name, kind province or
// district, code). Layer rivers carries rivers and canals (level, GMT's
// river level: 0 river-lakes, 1–4 permanent rivers, 5–7 intermittent, 8–10
// canals), simplified to a quarter pixel: below zoom 6 levels 0–2, below
// zoom 8 levels 0–5, from zoom 8 all.
package tiles

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/acreage"
	"clearmap/internal/store"
)

// Zoom levels served.
const (
	MinZoom = 0
	MaxZoom = 22
	// PolygonZoom is the first zoom at which clearances are polygons.
	PolygonZoom = 10
	// DistrictLabelZoom is the first zoom with district labels.
	DistrictLabelZoom = 5
	extent            = 4096
	buffer            = 64
)

// Coordinate is one tile's address.
type Coordinate struct{ Z, X, Y int }

// Valid reports whether the tile exists.
func (c Coordinate) Valid() bool {
	if c.Z < MinZoom || c.Z > MaxZoom || c.X < 0 || c.Y < 0 {
		return false
	}
	n := 1 << c.Z
	return c.X < n && c.Y < n
}

// Service builds tiles.
type Service struct {
	// DB is the primary: Tile reads it, and Cache reads tile_changes from it.
	DB *pgxpool.Pool
	// Reads, when set, chooses where Cache builds tiles: a standby that has
	// replayed every change the cache has dropped tiles for, else DB.
	Reads *store.Pools
}

// tileSQL builds every layer in one statement. $1–$3 z, x, y; $4–$8 the
// districts' figures; $9 a quarter pixel in metres (the rivers' and, from
// zoom 12, the fields' simplification tolerance; below 12 the fields' is
// half a pixel); $10 crop
// ("" for both), $11–$12 the date range; $13 the thinning cell in metres;
// $14 true when nothing is filtered, so the districts' figures are the
// stored totals; $15 true when no date is filtered, so low zooms read the
// points chosen in advance (point_cells) instead of thinning per request;
// $16 DistrictLabelZoom.
const tileSQL = `
	WITH bounds AS (
		SELECT ST_TileEnvelope($1, $2, $3) AS env,
		       ST_TileEnvelope($1, $2, $3, margin => ` + "64.0 / 4096" + `) AS env_buffered),
	figures AS (
		SELECT * FROM unnest($4::text[], $5::float8[], $6::float8[], $7::float8[], $8::int[])
		       AS f(code, acres, acres_poppy, acres_cannabis, fields)
		WHERE NOT $14
		UNION ALL
		-- Unfiltered, the precomputed totals serve directly.
		SELECT district_code,
		       round((coalesce(max(net_m2) FILTER (WHERE crop = 'all'), 0) / 4046.8564224)::numeric, 4)::float8,
		       round((coalesce(max(net_m2) FILTER (WHERE crop = 'poppy'), 0) / 4046.8564224)::numeric, 4)::float8,
		       round((coalesce(max(net_m2) FILTER (WHERE crop = 'cannabis'), 0) / 4046.8564224)::numeric, 4)::float8,
		       NULL::int -- read in district_features, for the tile's districts only
		FROM district_totals WHERE $14 GROUP BY district_code),
	district_shapes_in AS (
		-- Up to zoom 11 the outlines simplified in advance; above it the
		-- outlines cut to the zoom-12 tile this one lies in (a quarter
		-- pixel is under 0.6 m there: nothing to simplify).
		SELECT s.district_code AS code, s.geom FROM district_shapes s, bounds b
		WHERE $1 <= ` + maxShapeZoom + ` AND s.z = $1 AND s.geom && b.env_buffered
		UNION ALL
		SELECT s.district_code, s.geom FROM district_cuts s
		WHERE $1 > ` + maxShapeZoom + ` AND ` + inZoom12Tile + `),
	province_features AS MATERIALIZED (
		SELECT hashtextextended(p.code, 0) & 9223372036854775807 AS fid, p.code, p.name,
		       ST_AsMVTGeom(s.geom, b.env, 4096, 64, true) AS geom
		FROM (SELECT s.province_code AS code, s.geom FROM province_shapes s, bounds b
		      WHERE $1 <= ` + maxShapeZoom + ` AND s.z = $1 AND s.geom && b.env_buffered
		      UNION ALL
		      SELECT s.province_code, s.geom FROM province_cuts s
		      WHERE $1 > ` + maxShapeZoom + ` AND ` + inZoom12Tile + `) s
		JOIN provinces p ON p.code = s.code, bounds b),
	-- MATERIALIZED: otherwise the planner pushes "geom IS NOT NULL" down and
	-- ST_AsMVTGeom runs twice per row (a third of zoom 11's time).
	district_features AS MATERIALIZED (
		SELECT hashtextextended(d.code, 0) & 9223372036854775807 AS fid, d.code, d.name,
		       d.province_code AS province, coalesce(f.acres, 0) AS acres,
		       coalesce(f.acres_poppy, 0) AS acres_poppy, coalesce(f.acres_cannabis, 0) AS acres_cannabis,
		       -- Unfiltered, each field once, near-duplicates merged (internal/acreage).
		       CASE WHEN $14 THEN coalesce((SELECT sum(n.fields) FROM field_totals n WHERE n.scope = d.code), 0)::int
		            ELSE coalesce(f.fields, 0) END AS fields,
		       ST_AsMVTGeom(s.geom, b.env, 4096, 64, true) AS geom
		FROM district_shapes_in s JOIN districts d ON d.code = s.code LEFT JOIN figures f ON f.code = d.code, bounds b),
	clearance_polygons AS MATERIALIZED (
		SELECT c.id, c.crop, c.cleared_on::text AS cleared_on,
		       round((c.area_m2 / 4046.8564224)::numeric, CASE WHEN $1 < 12 THEN 1 ELSE 4 END)::float8 AS acres,
		       c.team, c.upload_id,
		       -- Douglas-Peucker (keeping the fields it would collapse) to half a
		       -- pixel below zoom 12 and a quarter from it; ST_AsMVTGeom makes
		       -- the result valid. GEOS's topology-preserving simplifier, and
		       -- no simplification from zoom 12, took seconds on large fields
		       -- of many vertices (300 overlapping fields of 5,000 vertices:
		       -- 1.3-1.8 s at zoom 10, 0.6-1.0 s at zoom 12; now 60-85 ms).
		       ST_AsMVTGeom(ST_Simplify(c.geom_3857, CASE WHEN $1 < 12 THEN 2 * $9 ELSE $9 END, true),
		                    b.env, 4096, 64, true) AS geom
		FROM clearances c, bounds b
		WHERE $1 >= 10 AND c.geom_3857 && b.env_buffered AND NOT c.retracted
		  AND ($10 = '' OR c.crop = $10) AND c.cleared_on BETWEEN $11::date AND $12::date),
	kept_points AS (
		-- Without a date filter, the points chosen in advance: per cell the
		-- lowest id of the crop asked for, or of both.
		SELECT c.id, c.crop, c.cleared_on::text AS cleared_on,
		       round((c.area_m2 / 4046.8564224)::numeric, 4)::float8 AS acres, c.team, c.upload_id,
		       ST_AsMVTGeom(c.point_3857, b.env, 4096, 0, true) AS geom
		FROM (SELECT min(k.clearance_id) AS id FROM point_cells k
		      WHERE $1 < 10 AND $15 AND k.z = $1 AND ($10 = '' OR k.crop = $10)
		        AND k.cx BETWEEN $2 * 64 AND $2 * 64 + 63 AND k.cy BETWEEN $3 * 64 AND $3 * 64 + 63
		      GROUP BY k.cx, k.cy) k
		JOIN clearances c ON c.id = k.id, bounds b),
	thinned_points AS (
		-- As point_cells, the lowest id per 4×4-pixel cell, found by hashing
		-- whole-number cells (sorting snapped geometries took seconds).
		SELECT c.id, c.crop, c.cleared_on::text AS cleared_on,
		       round((c.area_m2 / 4046.8564224)::numeric, 4)::float8 AS acres, c.team, c.upload_id,
		       ST_AsMVTGeom(c.point_3857, b.env, 4096, 0, true) AS geom
		FROM (SELECT min(c.id) AS id
		      FROM clearances c, bounds b
		      WHERE $1 < 10 AND NOT $15 AND c.point_3857 && b.env AND NOT c.retracted
		        AND ($10 = '' OR c.crop = $10) AND c.cleared_on BETWEEN $11::date AND $12::date
		      GROUP BY floor(ST_X(c.point_3857) / $13), floor(ST_Y(c.point_3857) / $13)) w
		JOIN clearances c ON c.id = w.id, bounds b),
	clearance_features AS (
		SELECT * FROM clearance_polygons WHERE geom IS NOT NULL
		UNION ALL SELECT * FROM kept_points WHERE geom IS NOT NULL
		UNION ALL SELECT * FROM thinned_points WHERE geom IS NOT NULL),
	place_features AS MATERIALIZED (
		SELECT p.id, p.name, p.population, p.kind, ST_AsMVTGeom(p.geom_3857, b.env, 4096, 64, true) AS geom
		FROM places p, bounds b
		WHERE p.geom_3857 && b.env_buffered
		  AND (p.population >= CASE WHEN $1 < 6 THEN 500000 WHEN $1 < 8 THEN 100000 ELSE 0 END
		       OR p.kind IN ('national_capital', 'provincial_capital'))),
	label_features AS MATERIALIZED (
		SELECT hashtextextended(l.code, 0) & 9223372036854775807 AS fid, l.name, l.kind, l.code,
		       ST_AsMVTGeom(l.label_3857, b.env, 4096, 64, true) AS geom
		FROM (SELECT p.code, p.name, 'province' AS kind, p.label_3857 FROM provinces p, bounds b
		      WHERE p.label_3857 && b.env_buffered
		      UNION ALL
		      SELECT d.code, d.name, 'district', d.label_3857 FROM districts d, bounds b
		      WHERE $1 >= $16 AND d.label_3857 && b.env_buffered) l, bounds b),
	river_features AS MATERIALIZED (
		SELECT r.id, r.level,
		       ST_AsMVTGeom(CASE WHEN $1 < 12 THEN ST_Simplify(r.geom_3857, $9) ELSE r.geom_3857 END, b.env, 4096, 64, true) AS geom
		FROM rivers r, bounds b
		WHERE r.geom_3857 && b.env_buffered AND r.level <= CASE WHEN $1 < 6 THEN 2 WHEN $1 < 8 THEN 5 ELSE 10 END)
	-- Features in a fixed order, so the same data always gives the same
	-- bytes (and ETag), whatever plan PostgreSQL picks.
	SELECT coalesce((SELECT ST_AsMVT(t, 'provinces', 4096, 'geom', 'fid')
	                 FROM (SELECT * FROM province_features WHERE geom IS NOT NULL ORDER BY code) t), '')
	    || coalesce((SELECT ST_AsMVT(t, 'districts', 4096, 'geom', 'fid')
	                 FROM (SELECT * FROM district_features WHERE geom IS NOT NULL ORDER BY code) t), '')
	    || coalesce((SELECT ST_AsMVT(t, 'clearances', 4096, 'geom', 'id')
	                 FROM (SELECT * FROM clearance_features ORDER BY id) t), '')
	    || coalesce((SELECT ST_AsMVT(t, 'rivers', 4096, 'geom', 'id')
	                 FROM (SELECT * FROM river_features WHERE geom IS NOT NULL ORDER BY id) t), '')
	    -- Largest first: a client that places labels in the tile's order
	    -- (without symbol-sort-key) keeps the big names.
	    || coalesce((SELECT ST_AsMVT(t, 'places', 4096, 'geom', 'id')
	                 FROM (SELECT * FROM place_features WHERE geom IS NOT NULL ORDER BY population DESC, id) t), '')
	    || coalesce((SELECT ST_AsMVT(t, 'labels', 4096, 'geom', 'fid')
	                 FROM (SELECT * FROM label_features WHERE geom IS NOT NULL ORDER BY kind DESC, code) t), '')`

// inZoom12Tile selects the cut s of the zoom-12 tile holding tile $1/$2/$3
// (zoom 12 or more).
const inZoom12Tile = "s.x = $2 / (1 << greatest($1 - 12, 0)) AND s.y = $3 / (1 << greatest($1 - 12, 0))"

// Tile returns the tile's bytes, read from DB; empty when it has no
// features.
func (s *Service) Tile(ctx context.Context, c Coordinate, f acreage.Filter) ([]byte, error) {
	return tileFrom(ctx, s.DB, c, f)
}

// reader returns the pool to build a tile from that must show everything
// up to after (and the client's own writes): see store.Pools.Reader.
func (s *Service) reader(ctx context.Context, after store.LSN) (*pgxpool.Pool, error) {
	if s.Reads == nil {
		return s.DB, nil
	}
	return s.Reads.Reader(ctx, after)
}

// tileFrom builds the tile from db.
func tileFrom(ctx context.Context, db *pgxpool.Pool, c Coordinate, f acreage.Filter) ([]byte, error) {
	unfiltered := f.Crop == "" && f.From.IsZero() && f.To.IsZero()
	var districts []acreage.District
	if !unfiltered {
		var err error
		if districts, err = acreage.Districts(ctx, db, acreage.Filter{Crop: f.Crop, From: f.From, To: f.To}); err != nil {
			return nil, err
		}
	}
	n := len(districts)
	codes, acres, poppy, cannabis, fields := make([]string, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]int32, n)
	for i, d := range districts {
		codes[i], acres[i], poppy[i], cannabis[i], fields[i] = d.Code, d.Acres, d.AcresPoppy, d.AcresCannabis, int32(d.Fields)
	}
	from, to := "2000-01-01", "9999-12-31"
	if !f.From.IsZero() {
		from = f.From.Format(time.DateOnly)
	}
	if !f.To.IsZero() {
		to = f.To.Format(time.DateOnly)
	}
	// A screen pixel (a tile is drawn 256 pixels wide), in metres of Web
	// Mercator at this zoom.
	pixel := 2 * 20037508.342789244 / float64(int(1)<<c.Z) / 256
	// Planning this statement afresh for each tile took longer than running
	// it (1.3–1.7 ms against 1–2 ms at zoom 15), and PostgreSQL keeps
	// choosing fresh plans for it; its generic plan is as fast. The setting
	// is local to the batch's implicit transaction, so other statements on
	// the connection keep choosing for themselves.
	var tile []byte
	batch := &pgx.Batch{}
	batch.Queue("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
	batch.Queue(tileSQL, c.Z, c.X, c.Y, codes, acres, poppy, cannabis, fields,
		pixel/4, f.Crop, from, to, 4*pixel, unfiltered, f.From.IsZero() && f.To.IsZero(), DistrictLabelZoom).QueryRow(func(row pgx.Row) error { return row.Scan(&tile) })
	if err := db.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", c.Z, c.X, c.Y, err)
	}
	return tile, nil
}
