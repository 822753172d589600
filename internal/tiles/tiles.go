// Package tiles builds Mapbox Vector Tiles (MVT 2.1) of districts and
// clearances in PostGIS, from the geometry kept in EPSG:3857. From zoom 12
// up (staticZoom) PostGIS builds the clearances layer, and the server
// clips and encodes the outline and name layers from memory (staticLayers),
// with the districts' stored figures, also held in memory by their version
// (static_layers.figures).
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
// canals), simplified to a quarter pixel below zoom 12: below zoom 6 levels 0–2, below
// zoom 8 levels 0–5, from zoom 8 all.
package tiles

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
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

	// static holds the static layers, and stored the districts' stored
	// figures, for the tiles from staticZoom up.
	static held[staticLayers]
	stored held[storedFigures]
}

// The tile statements' parameters: $1–$3 z, x, y; $4 a quarter pixel in
// metres (the rivers' and, from zoom 12, the fields' simplification
// tolerance; below 12 the fields' is half a pixel); $5 crop ("" for both);
// $6–$7 the date range. Each statement's own parameters follow. A
// parameter that carries a fraction is cast where it is first used: left to
// infer, PostgreSQL types $4 in "2 * $4" an integer, and pgx then sends
// 1.19 as 1 (and from zoom 16, where a quarter pixel is under a metre,
// as 0).

// tileBounds is the tile's envelope, and the envelope with its buffer.
const tileBounds = `bounds AS (
		SELECT ST_TileEnvelope($1, $2, $3) AS env,
		       ST_TileEnvelope($1, $2, $3, margin => ` + "64.0 / 4096" + `) AS env_buffered)`

// acreSQL is acreage.AcreM2 written as SQL.
var acreSQL = strconv.FormatFloat(acreage.AcreM2, 'f', -1, 64)

// clearancePolygons selects the clearances layer's features from zoom 10
// up, in a statement that has the tile's bounds (tileBounds).
var clearancePolygons = `
		SELECT c.id, c.crop, c.cleared_on::text AS cleared_on,
		       round((c.area_m2 / ` + acreSQL + `)::numeric, CASE WHEN $1 < 12 THEN 1 ELSE 4 END)::float8 AS acres,
		       c.team, c.upload_id,
		       -- Douglas-Peucker (keeping the fields it would collapse) to half a
		       -- pixel below zoom 12 and a quarter from it; ST_AsMVTGeom makes
		       -- the result valid. GEOS's topology-preserving simplifier, and
		       -- no simplification from zoom 12, took seconds on large fields
		       -- of many vertices (300 overlapping fields of 5,000 vertices:
		       -- 1.3-1.8 s at zoom 10, 0.6-1.0 s at zoom 12; now 60-85 ms).
		       ST_AsMVTGeom(ST_Simplify(c.geom_3857, CASE WHEN $1 < 12 THEN 2 * $4::float8 ELSE $4::float8 END, true),
		                    b.env, 4096, 64, true) AS geom
		FROM clearances c, bounds b
		WHERE $1 >= 10 AND c.geom_3857 && b.env_buffered AND NOT c.retracted
		  AND ($5 = '' OR c.crop = $5) AND c.cleared_on BETWEEN $6::date AND $7::date`

// clearancesLayer encodes the features that the query features selects,
// in a fixed order, so the same data always gives the same bytes (and
// ETag), whatever plan PostgreSQL picks. ST_AsMVT leaves out features
// without geometry (ST_AsMVTGeom gives none for a field that vanishes at
// the tile's scale).
func clearancesLayer(features string) string {
	return `coalesce((SELECT ST_AsMVT(t, 'clearances', 4096, 'geom', 'id') FROM (` + features + ` ORDER BY id) t), '')`
}

// tileSQL builds every layer of a tile below staticZoom in one statement.
// $8–$12 the districts' figures; $13 the thinning cell in metres; $14 true
// when nothing is filtered, so the districts' figures are the stored
// totals; $15 true when no date is filtered, so low zooms read the points
// chosen in advance (point_cells) instead of thinning per request; $16
// DistrictLabelZoom.
var tileSQL = `
	WITH ` + tileBounds + `,
	figures AS MATERIALIZED (
		SELECT * FROM unnest($8::text[], $9::float8[], $10::float8[], $11::float8[], $12::int[])
		       AS f(code, acres, acres_poppy, acres_cannabis, fields)
		WHERE NOT $14
		UNION ALL
		-- Unfiltered, the precomputed totals serve directly.
		SELECT district_code,
		       round((coalesce(max(net_m2) FILTER (WHERE crop = 'all'), 0) / ` + acreSQL + `)::numeric, 4)::float8,
		       round((coalesce(max(net_m2) FILTER (WHERE crop = 'poppy'), 0) / ` + acreSQL + `)::numeric, 4)::float8,
		       round((coalesce(max(net_m2) FILTER (WHERE crop = 'cannabis'), 0) / ` + acreSQL + `)::numeric, 4)::float8,
		       NULL::int -- read in district_features, for the tile's districts only
		FROM district_totals WHERE $14 GROUP BY district_code),
	province_features AS MATERIALIZED (
		SELECT ` + codeID("p.code") + ` AS fid, p.code, p.name,
		       ST_AsMVTGeom(s.geom, b.env, 4096, 64, true) AS geom
		FROM province_shapes s JOIN provinces p ON p.code = s.province_code, bounds b
		WHERE s.z = $1 AND s.geom && b.env_buffered),
	-- MATERIALIZED: otherwise the planner pushes "geom IS NOT NULL" down and
	-- ST_AsMVTGeom runs twice per row (a third of zoom 11's time).
	district_features AS MATERIALIZED (
		SELECT ` + codeID("d.code") + ` AS fid, d.code, d.name,
		       d.province_code AS province, coalesce(f.acres, 0) AS acres,
		       coalesce(f.acres_poppy, 0) AS acres_poppy, coalesce(f.acres_cannabis, 0) AS acres_cannabis,
		       -- Unfiltered, each field once, near-duplicates merged (internal/acreage).
		       CASE WHEN $14 THEN coalesce((SELECT sum(n.fields) FROM field_totals n WHERE n.scope = d.code), 0)::int
		            ELSE coalesce(f.fields, 0) END AS fields,
		       ST_AsMVTGeom(s.geom, b.env, 4096, 64, true) AS geom
		FROM district_shapes s JOIN districts d ON d.code = s.district_code LEFT JOIN figures f ON f.code = d.code, bounds b
		WHERE s.z = $1 AND s.geom && b.env_buffered),
	clearance_polygons AS MATERIALIZED (` + clearancePolygons + `),
	kept_points AS (
		-- Without a date filter, the points chosen in advance (point_cells):
		-- per cell the lowest id of the crop asked for, or of both, found by
		-- the tile's cells (64 × 64) and carrying what the layer shows.
		SELECT k.clearance_id AS id, k.crop, k.cleared_on::text AS cleared_on,
		       round((k.area_m2 / ` + acreSQL + `)::numeric, 4)::float8 AS acres, k.team, k.upload_id,
		       ST_AsMVTGeom(k.point_3857, b.env, 4096, 0, true) AS geom
		FROM point_cells k, bounds b
		WHERE $1 < 10 AND $15 AND k.z = $1 AND k.crops = CASE WHEN $5 = '' THEN 'all' ELSE $5 END
		  AND k.cx / 64 = $2 AND k.cy / 64 = $3),
	thinned_points AS (
		-- As point_cells, the lowest id per 4×4-pixel cell, found by hashing
		-- whole-number cells (sorting snapped geometries took seconds).
		SELECT c.id, c.crop, c.cleared_on::text AS cleared_on,
		       round((c.area_m2 / ` + acreSQL + `)::numeric, 4)::float8 AS acres, c.team, c.upload_id,
		       ST_AsMVTGeom(c.point_3857, b.env, 4096, 0, true) AS geom
		FROM (SELECT min(c.id) AS id
		      FROM clearances c, bounds b
		      WHERE $1 < 10 AND NOT $15 AND c.point_3857 && b.env AND NOT c.retracted
		        AND ($5 = '' OR c.crop = $5) AND c.cleared_on BETWEEN $6::date AND $7::date
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
		SELECT ` + codeID("l.code") + ` AS fid, l.name, l.kind, l.code,
		       ST_AsMVTGeom(l.label_3857, b.env, 4096, 64, true) AS geom
		FROM (SELECT p.code, p.name, 'province' AS kind, p.label_3857 FROM provinces p, bounds b
		      WHERE p.label_3857 && b.env_buffered
		      UNION ALL
		      SELECT d.code, d.name, 'district', d.label_3857 FROM districts d, bounds b
		      WHERE $1 >= $16 AND d.label_3857 && b.env_buffered) l, bounds b),
	river_features AS MATERIALIZED (
		SELECT r.id, r.level,
		       ST_AsMVTGeom(ST_Simplify(r.geom_3857, $4), b.env, 4096, 64, true) AS geom
		FROM rivers r, bounds b
		WHERE r.geom_3857 && b.env_buffered AND r.level <= CASE WHEN $1 < 6 THEN 2 WHEN $1 < 8 THEN 5 ELSE 10 END)
	-- Features in a fixed order, as in clearancesLayer.
	SELECT coalesce((SELECT ST_AsMVT(t, 'provinces', 4096, 'geom', 'fid')
	                 FROM (SELECT * FROM province_features WHERE geom IS NOT NULL ORDER BY code) t), '')
	    || coalesce((SELECT ST_AsMVT(t, 'districts', 4096, 'geom', 'fid')
	                 FROM (SELECT * FROM district_features WHERE geom IS NOT NULL ORDER BY code) t), '')
	    || ` + clearancesLayer("SELECT * FROM clearance_features") + `
	    || coalesce((SELECT ST_AsMVT(t, 'rivers', 4096, 'geom', 'id')
	                 FROM (SELECT * FROM river_features WHERE geom IS NOT NULL ORDER BY id) t), '')
	    -- Largest first: a client that places labels in the tile's order
	    -- (without symbol-sort-key) keeps the big names.
	    || coalesce((SELECT ST_AsMVT(t, 'places', 4096, 'geom', 'id')
	                 FROM (SELECT * FROM place_features WHERE geom IS NOT NULL ORDER BY population DESC, id) t), '')
	    || coalesce((SELECT ST_AsMVT(t, 'labels', 4096, 'geom', 'fid')
	                 FROM (SELECT * FROM label_features WHERE geom IS NOT NULL ORDER BY kind DESC, code) t), '')`

// fieldsSQL builds the clearances layer of a tile from staticZoom up, and
// reads the versions of what the rest of it is built from: the static
// layers, and the districts' stored figures. It is one plain query: common
// table expressions, and reading the tile's districts' figures here, cost
// a zoom-15 tile a third more of PostgreSQL's time (docs/benchmarks.md).
var fieldsSQL = `
	WITH ` + tileBounds + `
	SELECT ` + clearancesLayer(clearancePolygons) + `, s.version, s.figures::text
	FROM static_layers s`

// figuresSQL reads every district's stored figures, and their version
// (static_layers.figures), in one snapshot: net square metres, all crops,
// poppy and cannabis, and fields (each once, near-duplicates merged).
const figuresSQL = `
	SELECT (SELECT figures::text FROM static_layers), array_agg(d.code), array_agg(coalesce(t.net, 0)),
	       array_agg(coalesce(t.poppy, 0)), array_agg(coalesce(t.cannabis, 0)), array_agg(coalesce(n.fields, 0))
	FROM districts d
	LEFT JOIN (SELECT district_code, max(net_m2) FILTER (WHERE crop = 'all') AS net,
	                  max(net_m2) FILTER (WHERE crop = 'poppy') AS poppy,
	                  max(net_m2) FILTER (WHERE crop = 'cannabis') AS cannabis
	           FROM district_totals GROUP BY district_code) t ON t.district_code = d.code
	LEFT JOIN (SELECT scope, sum(fields)::int AS fields FROM field_totals GROUP BY scope) n ON n.scope = d.code`

// Tile returns the tile's bytes, read from DB; empty when it has no
// features.
func (s *Service) Tile(ctx context.Context, c Coordinate, f acreage.Filter) ([]byte, error) {
	return s.build(ctx, s.DB, c, f)
}

// reader returns the pool to build a tile from that must show everything
// up to after (and the client's own writes): see store.Pools.Reader.
func (s *Service) reader(ctx context.Context, after store.LSN) (*pgxpool.Pool, error) {
	if s.Reads == nil {
		return s.DB, nil
	}
	return s.Reads.Reader(ctx, after)
}

// build builds the tile from db: below staticZoom in one statement, from it
// up the clearances in one and the rest from the static layers.
func (s *Service) build(ctx context.Context, db *pgxpool.Pool, c Coordinate, f acreage.Filter) ([]byte, error) {
	filtered := f.Crop != "" || !f.From.IsZero() || !f.To.IsZero()
	var districts []acreage.District
	if filtered {
		var err error
		if districts, err = acreage.Districts(ctx, db, acreage.Filter{Crop: f.Crop, From: f.From, To: f.To}); err != nil {
			return nil, err
		}
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
	pixel := 2 * halfWorld / float64(int(1)<<c.Z) / 256
	args := []any{c.Z, c.X, c.Y, pixel / 4, f.Crop, from, to}
	if c.Z >= staticZoom {
		return s.withStatic(ctx, db, c, filtered, districts, args)
	}

	n := len(districts)
	codes, acres, poppy, cannabis, fields := make([]string, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]int32, n)
	for i, d := range districts {
		codes[i], acres[i], poppy[i], cannabis[i], fields[i] = d.Code, d.Acres, d.AcresPoppy, d.AcresCannabis, int32(d.Fields)
	}
	var tile []byte
	err := query(ctx, db, tileSQL, append(args, codes, acres, poppy, cannabis, fields,
		4*pixel, !filtered, f.From.IsZero() && f.To.IsZero(), DistrictLabelZoom), &tile)
	if err != nil {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", c.Z, c.X, c.Y, err)
	}
	return tile, nil
}

// withStatic builds a tile from staticZoom up: its clearances from the
// database; its districts' figures from districts when filtered, else
// from the stored figures held; its outlines and names from the static
// layers. Both are read again when the tile's statement sees another
// version of them.
func (s *Service) withStatic(ctx context.Context, db *pgxpool.Pool, c Coordinate, filtered bool, districts []acreage.District, args []any) ([]byte, error) {
	st, err := s.loadStatic(ctx, db, anyVersion)
	if err != nil {
		return nil, err
	}
	for tries := 1; ; tries++ {
		var clearances []byte
		var version int64
		var figuresVersion string
		if err := query(ctx, db, fieldsSQL, args, &clearances, &version, &figuresVersion); err != nil {
			return nil, fmt.Errorf("tile %d/%d/%d: %w", c.Z, c.X, c.Y, err)
		}
		if version == st.version {
			var figures map[string]figureValues
			if filtered {
				figures = make(map[string]figureValues, len(districts))
				for _, d := range districts {
					figures[d.Code] = figuresOf(d)
				}
			} else {
				// Figures read after the tile's statement may be newer than
				// it, never older.
				stored, err := s.stored.get(func(f *storedFigures) bool { return f.version == figuresVersion },
					func() (*storedFigures, error) { return readFigures(ctx, db) })
				if err != nil {
					return nil, err
				}
				figures = stored.districts
			}
			return st.tile(c).encode(figures, clearances), nil
		}
		if tries == 3 {
			return nil, fmt.Errorf("tile %d/%d/%d: the static layers changed three times while it was built", c.Z, c.X, c.Y)
		}
		if st, err = s.loadStatic(ctx, db, version); err != nil {
			return nil, err
		}
	}
}

// anyVersion asks loadStatic for the static layers held, whatever their
// version.
const anyVersion = -1

// loadStatic returns the static layers held when they are of the version
// given, or else reads them from db and holds them.
func (s *Service) loadStatic(ctx context.Context, db *pgxpool.Pool, version int64) (*staticLayers, error) {
	return s.static.get(func(st *staticLayers) bool { return version == anyVersion || st.version == version },
		func() (*staticLayers, error) { return readStatic(ctx, db) })
}

// storedFigures is every district's stored figures, by code, as of one
// version of them (static_layers.figures), encoded for the districts layer.
type storedFigures struct {
	version   string
	districts map[string]figureValues
}

// readFigures reads the stored figures from db.
func readFigures(ctx context.Context, db *pgxpool.Pool) (*storedFigures, error) {
	f := &storedFigures{districts: map[string]figureValues{}}
	var codes []string
	var net, poppy, cannabis []float64
	var fields []int32
	if err := db.QueryRow(ctx, figuresSQL).Scan(&f.version, &codes, &net, &poppy, &cannabis, &fields); err != nil {
		return nil, fmt.Errorf("read district figures: %w", err)
	}
	for i, code := range codes {
		f.districts[code] = figuresOf(acreage.District{Acres: acreage.Round4(net[i] / acreage.AcreM2),
			AcresPoppy: acreage.Round4(poppy[i] / acreage.AcreM2), AcresCannabis: acreage.Round4(cannabis[i] / acreage.AcreM2),
			Fields: int(fields[i])})
	}
	return f, nil
}

// held holds a value read from the database, and reads it again when it is
// no longer current; one request at a time reads it.
type held[T any] struct {
	value   atomic.Pointer[T]
	loading sync.Mutex
}

// get returns the value held if current says it is, else reads it with
// read and holds it.
func (h *held[T]) get(current func(*T) bool, read func() (*T, error)) (*T, error) {
	if v := h.value.Load(); v != nil && current(v) {
		return v, nil
	}
	h.loading.Lock()
	defer h.loading.Unlock()
	if v := h.value.Load(); v != nil && current(v) {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return nil, err
	}
	h.value.Store(v)
	return v, nil
}

// query runs a tile statement and scans its one row into dest. Planning
// the statement afresh for each tile took longer than running it (1.3–1.7
// ms against 1–2 ms at zoom 15), and PostgreSQL keeps choosing fresh plans
// for it; its generic plan is as fast. The setting is local to the batch's
// implicit transaction, so other statements on the connection keep
// choosing for themselves.
func query(ctx context.Context, db *pgxpool.Pool, sql string, args []any, dest ...any) error {
	batch := &pgx.Batch{}
	batch.Queue("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
	batch.Queue(sql, args...).QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
	return db.SendBatch(ctx, batch).Close()
}
