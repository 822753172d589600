package boundaries

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/geodata"
	"clearmap/internal/audit"
	"clearmap/internal/tiles"
)

// The map's context, around the districts: the populated places and the
// rivers shipped in geodata/ (migration 00022). Every boundary load replaces
// them with those in its districts, so a boundary set that covers less also
// names less.

// replacePlaces loads the embedded places that lie in a loaded district. It
// runs after the district pieces are refilled: a point test against a piece
// of 64 vertices is cheap, against a whole province is not.
const replacePlaces = `
	INSERT INTO places (id, name, population, kind, geom, geom_3857)
	SELECT (f->'properties'->>'geonameid')::bigint, f->'properties'->>'name',
	       (f->'properties'->>'population')::int, f->'properties'->>'kind', g, ST_Transform(g, 3857)
	FROM jsonb_array_elements($1::jsonb->'features') f,
	     ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326) g
	WHERE EXISTS (SELECT 1 FROM district_pieces p WHERE ST_Intersects(p.geom, g))`

// replaceRivers loads the embedded rivers that reach into a loaded district.
// The file's lines are clipped to the shipped provinces already
// (scripts/extract-rivers.sh): clipping them here took a third of a second
// of every load. Under a replacement boundary set, a line across its edge
// is kept whole.
const replaceRivers = `
	INSERT INTO rivers (id, level, geom_3857)
	SELECT (f->>'id')::int, (f->'properties'->>'level')::smallint, ST_Transform(ST_Multi(g), 3857)
	FROM jsonb_array_elements($1::jsonb->'features') f,
	     ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326) g
	WHERE EXISTS (SELECT 1 FROM district_pieces p WHERE ST_Intersects(p.geom, g))`

// replaceContext replaces the places and rivers with the embedded ones in
// the loaded districts, and returns how many of each it kept.
func replaceContext(ctx context.Context, tx pgx.Tx) (places, rivers int, err error) {
	if _, err := tx.Exec(ctx, "DELETE FROM places; DELETE FROM rivers"); err != nil {
		return 0, 0, err
	}
	if _, err := tx.Exec(ctx, replacePlaces, string(geodata.Places)); err != nil {
		return 0, 0, err
	}
	if _, err := tx.Exec(ctx, replaceRivers, string(geodata.Rivers)); err != nil {
		return 0, 0, err
	}
	err = tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM places), (SELECT count(*) FROM rivers)").Scan(&places, &rivers)
	return places, rivers, err
}

// ContextLoaded reports whether any places are loaded. A database whose
// boundaries were loaded before places existed (migration 00022) has none.
func ContextLoaded(ctx context.Context, db *pgxpool.Pool) (bool, error) {
	var loaded bool
	err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM places)").Scan(&loaded)
	return loaded, err
}

// LoadContext replaces the places and rivers alone, keeping the loaded
// boundaries, and notes that every tile changes. actor is recorded in the
// audit log.
func LoadContext(ctx context.Context, db *pgxpool.Pool, actor string) (places, rivers int, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Not while a boundary load replaces the districts.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('clearmap.boundaries'))"); err != nil {
			return err
		}
		var err error
		if places, rivers, err = replaceContext(ctx, tx); err != nil {
			return err
		}
		if err := tiles.AllChanged(ctx, tx); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "context.load", "embedded", map[string]any{"places": places, "rivers": rivers})
	})
	return places, rivers, err
}
