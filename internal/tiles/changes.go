package tiles

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RecordUploadChange notes, in the upload's or retraction's transaction,
// the area whose tiles change: the upload's fields and the districts whose
// figures they change. It must run while the upload's district parts exist:
// after acreage.Upload.Plan, before acreage.RemoveUpload.
func RecordUploadChange(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	if err := prune(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO tile_changes (bbox)
		SELECT ST_SetSRID(ST_Extent(g)::geometry, 4326) FROM (
			SELECT geom AS g FROM clearances WHERE upload_id = $1
			UNION ALL
			SELECT d.geom FROM districts d WHERE d.code IN (
				SELECT p.district_code FROM clearance_parts p JOIN clearances c ON c.id = p.clearance_id
				WHERE c.upload_id = $1)) x
		HAVING count(*) > 0`, uploadID)
	return err
}

// keepChanges is how long changes are kept. A cache that has not looked
// for longer than half of it empties itself instead (see Cache.sync).
const keepChanges = "1 day"

// prune forgets old changes, so the table stays small. It leaves those
// another transaction is forgetting: waiting would hold an upload for the
// whole of a large one.
func prune(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `DELETE FROM tile_changes WHERE id IN (
		SELECT id FROM tile_changes WHERE at < now() - interval '`+keepChanges+`' FOR UPDATE SKIP LOCKED)`)
	return err
}

// BoundariesChanged redraws the districts and provinces: simplified for
// each zoom below staticZoom (district_shapes, province_shapes), and cut to
// zoom-12 tiles for the zooms from it (district_cuts, province_cuts). It
// notes that every tile changes. A boundary load calls it in its
// transaction.
func BoundariesChanged(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
		DELETE FROM district_shapes;
		INSERT INTO district_shapes (z, district_code, geom)
		SELECT z, code, ST_Multi(ST_SimplifyPreserveTopology(geom_3857, `+quarterPixel+`))
		FROM districts, generate_series(0, `+strconv.Itoa(staticZoom-1)+`) AS z;
		DELETE FROM province_shapes;
		INSERT INTO province_shapes (z, province_code, geom)
		SELECT z, code, ST_Multi(ST_SimplifyPreserveTopology(geom_3857, `+quarterPixel+`))
		FROM provinces, generate_series(0, `+strconv.Itoa(staticZoom-1)+`) AS z;
		DELETE FROM district_cuts;
		INSERT INTO district_cuts (x, y, district_code, geom)
		SELECT c.x, c.y, d.code, c.geom FROM districts d, zoom12_cuts(d.geom_3857) c;
		DELETE FROM province_cuts;
		INSERT INTO province_cuts (x, y, province_code, geom)
		SELECT c.x, c.y, p.code, c.geom FROM provinces p, zoom12_cuts(p.geom_3857) c`)
	if err != nil {
		return err
	}
	return AllChanged(ctx, tx)
}

// AllChanged notes, in tx, that every tile changes, as after a boundary or
// context load: the cache then empties itself (a change with no bbox), and
// servers read the static layers afresh (a new static_layers.version).
func AllChanged(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO tile_changes (bbox) VALUES (NULL);
		UPDATE static_layers SET version = version + 1`)
	return err
}

// quarterPixel is a quarter of a screen pixel at zoom z, in metres of Web
// Mercator (tiles are drawn 256 pixels wide).
const quarterPixel = "2 * 20037508.342789244 / (1 << z) / 256 / 4"

// cellX and cellY are the column and row of the cell of a clearance c's
// point at zoom z.z (see migrations/00010_point_cells.sql); cellOf selects
// them as cx and cy.
const (
	cellX  = "floor((ST_X(c.point_3857) + 20037508.342789244) / (40075016.685578488 / (64 << z.z)))::int"
	cellY  = "floor((20037508.342789244 - ST_Y(c.point_3857)) / (40075016.685578488 / (64 << z.z)))::int"
	cellOf = cellX + " AS cx, " + cellY + " AS cy"
)

// pointFields are the columns of point_cells that carry the chosen field
// (migration 00028), and pointSource the same from its clearance, c.
const (
	pointFields = "clearance_id, crop, cleared_on, area_m2, team, upload_id, point_3857"
	pointSource = "c.id, c.crop, c.cleared_on, c.area_m2, c.team, c.upload_id, c.point_3857"
)

// ChoosePoints picks the points an upload's new fields would give the
// cells they fall in: the lowest-id field of each crop and of all, in each
// cell. It reads only the upload's own fields, so it runs before the upload
// locks anything (this took 1 s of a 100,000-field upload); AddPoints then
// writes them, in the same transaction.
func ChoosePoints(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE chosen_points
		(z int, cx int, cy int, crops text, id bigint) ON COMMIT DROP`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO chosen_points
		SELECT s.z, s.cx, s.cy, k.crops, k.id
		FROM (SELECT z, cx, cy, min(id) AS all_id, min(id) FILTER (WHERE crop = 'poppy') AS poppy_id,
		             min(id) FILTER (WHERE crop = 'cannabis') AS cannabis_id
		      FROM (SELECT z.z, c.id, c.crop, `+cellOf+`
		            FROM clearances c, generate_series(0, 9) AS z(z)
		            WHERE c.upload_id = $1 AND NOT c.retracted) s
		      GROUP BY z, cx, cy) s
		CROSS JOIN LATERAL (VALUES ('all', s.all_id), ('poppy', s.poppy_id), ('cannabis', s.cannabis_id)) AS k(crops, id)
		WHERE k.id IS NOT NULL`, uploadID)
	return err
}

// AddPoints gives the cells of an upload's new fields their lowest-id field
// of each crop and of all, as ChoosePoints chose them.
func AddPoints(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO point_cells AS p (z, cx, cy, crops, `+pointFields+`)
		SELECT s.z, s.cx, s.cy, s.crops, `+pointSource+`
		FROM chosen_points s JOIN clearances c ON c.id = s.id
		ON CONFLICT (z, cx, cy, crops) DO UPDATE SET (`+pointFields+`) =
			(`+strings.ReplaceAll("excluded."+pointFields, ", ", ", excluded.")+`)
		WHERE excluded.clearance_id < p.clearance_id`)
	return err
}

// RemovePoints finds new fields (of the same crops) for the cells a
// retracted upload's fields held. It runs after the clearances are marked retracted.
func RemovePoints(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	_, err := tx.Exec(ctx, `
		WITH gone AS (
			DELETE FROM point_cells p USING clearances c
			WHERE c.id = p.clearance_id AND c.upload_id = $1
			RETURNING p.z, p.cx, p.cy, p.crops)
		INSERT INTO point_cells (z, cx, cy, crops, `+pointFields+`)
		SELECT g.z, g.cx, g.cy, g.crops, `+pointSource+`
		FROM gone g CROSS JOIN LATERAL (
			SELECT min(c.id) AS id FROM clearances c, (SELECT g.z AS z) z
			WHERE NOT c.retracted AND (g.crops = 'all' OR c.crop = g.crops)
			  AND c.point_3857 && ST_MakeEnvelope(
			        g.cx * (40075016.685578488 / (64 << g.z)) - 20037508.342789244,
			        20037508.342789244 - (g.cy + 1) * (40075016.685578488 / (64 << g.z)),
			        (g.cx + 1) * (40075016.685578488 / (64 << g.z)) - 20037508.342789244,
			        20037508.342789244 - g.cy * (40075016.685578488 / (64 << g.z)), 3857)
			  AND (`+cellX+`, `+cellY+`) = (g.cx, g.cy)) m
		JOIN clearances c ON c.id = m.id`, uploadID)
	return err
}
