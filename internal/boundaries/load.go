package boundaries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/encoding/wkb"

	"clearmap/geodata"
	"clearmap/internal/acreage"
	"clearmap/internal/audit"
	"clearmap/internal/tiles"
)

// Set is a complete boundary set, ready to load.
type Set struct {
	// Source says where the set came from, for the audit log: "embedded" or
	// the files' paths.
	Source string
	// SHA256 identifies the files' bytes, for the audit log.
	SHA256    string
	Districts []District
	// Provinces may be nil: each province is then the union of its districts.
	Provinces []Province
}

// Parse builds a Set from a districts file and an optional provinces file
// (nil), checking that the two agree: every district's province is in the
// provinces file and every province has a district.
func Parse(source string, districtsFile, provincesFile []byte) (Set, error) {
	hash := sha256.New()
	hash.Write(districtsFile)
	hash.Write(provincesFile)
	set := Set{Source: source, SHA256: hex.EncodeToString(hash.Sum(nil))}
	var err error
	if set.Districts, err = ParseDistricts(districtsFile); err != nil {
		return Set{}, err
	}
	if provincesFile == nil {
		return set, nil
	}
	if set.Provinces, err = ParseProvinces(provincesFile); err != nil {
		return Set{}, err
	}
	var problems Problems
	districtsIn := map[string]int{}
	for _, d := range set.Districts {
		districtsIn[d.ProvinceCode]++
	}
	known := map[string]bool{}
	for _, p := range set.Provinces {
		known[p.Code] = true
		if districtsIn[p.Code] == 0 {
			problems = append(problems, fmt.Sprintf("province %s has no districts", p.Code))
		}
	}
	for i, d := range set.Districts {
		if !known[d.ProvinceCode] {
			problems = append(problems, fmt.Sprintf("%s: province_code %s is not in the provinces file", featureName(i, d.Code), d.ProvinceCode))
		}
	}
	if len(problems) > 0 {
		return Set{}, problems
	}
	return set, nil
}

// Embedded returns the boundary set shipped in the binary (geodata/).
func Embedded() Set {
	set, err := Parse("embedded", geodata.Districts, geodata.Provinces)
	if err != nil {
		panic("embedded boundaries are broken: " + err.Error())
	}
	return set
}

// Result says what a load changed.
type Result struct {
	Districts int      // districts now loaded
	Provinces int      // provinces now loaded
	Places    int      // places now loaded: the embedded ones inside the districts
	Rivers    int      // river lines now loaded: the embedded ones reaching into the districts
	Removed   []string // codes of districts and provinces the new set no longer has
}

// Loaded reports whether any districts are loaded.
func Loaded(ctx context.Context, db *pgxpool.Pool) (bool, error) {
	var loaded bool
	err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM districts)").Scan(&loaded)
	return loaded, err
}

// Load replaces the loaded boundaries with set in one transaction, after
// checking every geometry with PostGIS. On any problem nothing changes and the
// error is a Problems listing them. actor is recorded in the audit log.
func Load(ctx context.Context, db *pgxpool.Pool, set Set, actor string) (Result, error) {
	var result Result
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Recomputing the acreage of a million fields takes minutes, far
		// beyond the statement timeout meant for requests.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = '1h'"); err != nil {
			return err
		}
		// Two loads at once would interleave their upserts and deletes.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('clearmap.boundaries'))"); err != nil {
			return err
		}
		if err := stage(ctx, tx, set); err != nil {
			return err
		}
		if err := check(ctx, tx, invalidGeometries); err != nil {
			return err
		}
		if len(set.Provinces) == 0 {
			if _, err := tx.Exec(ctx, deriveProvinces); err != nil {
				return err
			}
		} else if err := check(ctx, tx, districtsOutsideProvince); err != nil {
			return err
		}
		var err error
		result, err = replace(ctx, tx)
		if err != nil {
			return err
		}
		if result.Places, result.Rivers, err = replaceContext(ctx, tx); err != nil {
			return err
		}
		// Every figure depends on where the district lines run.
		if err := acreage.Rebuild(ctx, tx); err != nil {
			return err
		}
		if err := tiles.BoundariesChanged(ctx, tx); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "boundaries.load", set.Source, map[string]any{
			"sha256": set.SHA256, "districts": result.Districts,
			"provinces": result.Provinces, "places": result.Places, "rivers": result.Rivers, "removed": result.Removed,
		})
	})
	if err != nil {
		return Result{}, err
	}
	return result, nil
}

// stage copies the set into temporary tables, where PostGIS can check it
// before anything real changes.
func stage(ctx context.Context, tx pgx.Tx, set Set) error {
	_, err := tx.Exec(ctx, `
		CREATE TEMP TABLE stage_districts (
			idx int, code text, name text, province_code text, province_name text,
			division text, props jsonb, wkb bytea, geom geometry
		) ON COMMIT DROP;
		CREATE TEMP TABLE stage_provinces (
			idx int, code text, name text, kind text, props jsonb, wkb bytea, geom geometry
		) ON COMMIT DROP`)
	if err != nil {
		return err
	}
	districtRows := make([][]any, len(set.Districts))
	for i, d := range set.Districts {
		b, err := wkb.Marshal(d.Geometry)
		if err != nil {
			return fmt.Errorf("%s: %w", featureName(i, d.Code), err)
		}
		districtRows[i] = []any{i, d.Code, d.Name, d.ProvinceCode, d.ProvinceName, nullIfEmpty(d.Division), d.Props, b}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_districts"},
		[]string{"idx", "code", "name", "province_code", "province_name", "division", "props", "wkb"},
		pgx.CopyFromRows(districtRows)); err != nil {
		return err
	}
	provinceRows := make([][]any, len(set.Provinces))
	for i, p := range set.Provinces {
		b, err := wkb.Marshal(p.Geometry)
		if err != nil {
			return fmt.Errorf("%s: %w", featureName(i, p.Code), err)
		}
		provinceRows[i] = []any{i, p.Code, p.Name, nullIfEmpty(p.Kind), p.Props, b}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_provinces"},
		[]string{"idx", "code", "name", "kind", "props", "wkb"},
		pgx.CopyFromRows(provinceRows)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		UPDATE stage_districts SET geom = ST_Multi(ST_GeomFromWKB(wkb, 4326));
		UPDATE stage_provinces SET geom = ST_Multi(ST_GeomFromWKB(wkb, 4326))`)
	return err
}

// deriveProvinces stands in for a missing provinces file: each province is
// the union of its districts.
const deriveProvinces = `
	INSERT INTO stage_provinces (idx, code, name, props, geom)
	SELECT row_number() OVER (ORDER BY province_code) - 1, province_code,
	       min(province_name), '{}', ST_Multi(ST_CollectionExtract(ST_Union(geom), 3))
	FROM stage_districts GROUP BY province_code`

// invalidGeometries finds staged geometries PostGIS would not compute with,
// saying why and where.
const invalidGeometries = `
	SELECT 'districts', s.idx, s.code, v.reason, ST_X(v.location), ST_Y(v.location)
	FROM stage_districts s, ST_IsValidDetail(s.geom) v WHERE NOT v.valid
	UNION ALL
	SELECT 'provinces', s.idx, s.code, v.reason, ST_X(v.location), ST_Y(v.location)
	FROM stage_provinces s, ST_IsValidDetail(s.geom) v WHERE NOT v.valid
	ORDER BY 1, 2`

// districtsOutsideProvince finds districts that do not lie in the province
// they name: a point surely inside the district must be inside the province.
const districtsOutsideProvince = `
	SELECT 'districts', d.idx, d.code, 'lies outside its province ' || d.province_code,
	       NULL::float8, NULL::float8
	FROM stage_districts d JOIN stage_provinces p ON p.code = d.province_code
	WHERE NOT ST_Intersects(p.geom, ST_PointOnSurface(d.geom))
	ORDER BY 2`

// check runs a query over the staged set that returns (file, index, code,
// message, lon, lat) for each problem, and returns them as Problems.
func check(ctx context.Context, tx pgx.Tx, query string) error {
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return err
	}
	var problems Problems
	for rows.Next() {
		var file, code, msg string
		var idx int
		var lon, lat *float64
		if err := rows.Scan(&file, &idx, &code, &msg, &lon, &lat); err != nil {
			return err
		}
		p := fmt.Sprintf("%s %s: ", file, featureName(idx, code))
		if lon != nil && lat != nil {
			p += fmt.Sprintf("invalid geometry: %s near %.5f %.5f", msg, *lon, *lat)
		} else {
			p += msg
		}
		problems = append(problems, p)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// replace upserts the staged set, with each shape's label point
// (label_point, migration 00022), and removes what it no longer has.
func replace(ctx context.Context, tx pgx.Tx) (Result, error) {
	var r Result
	_, err := tx.Exec(ctx, `
		INSERT INTO provinces (code, name, kind, props, area_m2, geom, geom_3857, label_3857)
		SELECT code, name, kind, props, ST_Area(geom::geography), geom, g, label_point(g)
		FROM stage_provinces, ST_Transform(geom, 3857) g
		ON CONFLICT (code) DO UPDATE SET
			name = excluded.name, kind = excluded.kind, props = excluded.props, area_m2 = excluded.area_m2,
			geom = excluded.geom, geom_3857 = excluded.geom_3857, label_3857 = excluded.label_3857;
		INSERT INTO districts (code, name, province_code, division, props, area_m2, geom, geom_3857, label_3857)
		SELECT code, name, province_code, division, props, ST_Area(geom::geography), geom, g, label_point(g)
		FROM stage_districts, ST_Transform(geom, 3857) g
		ON CONFLICT (code) DO UPDATE SET
			name = excluded.name, province_code = excluded.province_code,
			division = excluded.division, props = excluded.props, area_m2 = excluded.area_m2,
			geom = excluded.geom, geom_3857 = excluded.geom_3857, label_3857 = excluded.label_3857`)
	if err != nil {
		return r, err
	}
	// Districts first: they reference their province.
	for _, del := range []string{
		"DELETE FROM districts WHERE code NOT IN (SELECT code FROM stage_districts) RETURNING code",
		"DELETE FROM provinces WHERE code NOT IN (SELECT code FROM stage_provinces) RETURNING code",
	} {
		rows, err := tx.Query(ctx, del)
		if err != nil {
			return r, err
		}
		gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return r, err
		}
		slices.Sort(gone)
		r.Removed = append(r.Removed, gone...)
	}
	// Pieces of at most 64 vertices, for the tests uploads run (migration 00014).
	if _, err := tx.Exec(ctx, `DELETE FROM district_pieces;
		INSERT INTO district_pieces (district_code, geom) SELECT code, ST_Subdivide(geom, 64) FROM districts`); err != nil {
		return r, err
	}
	err = tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM districts), (SELECT count(*) FROM provinces)").
		Scan(&r.Districts, &r.Provinces)
	return r, err
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
