package ingest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"clearmap/internal/acreage"
	"clearmap/internal/features"
	"clearmap/internal/tiles"
)

// storeClearances moves the staged features that passed every rule into
// clearances, flags near-duplicates, and returns the receipt's figures.
func storeClearances(ctx context.Context, tx pgx.Tx, uploadID int64, placed acreage.Placement, warnings *problemList) (Receipt, error) {
	var r Receipt
	tag, err := tx.Exec(ctx, `
		INSERT INTO clearances (upload_id, feature_index, field_id, crop, cleared_on, team, method, notes,
			reported_area, reported_unit, reported_area_m2, props, area_m2, geom, geom_3857, point_3857)
		SELECT $1, idx, field_id, crop, cleared_on, team, method, notes,
			reported_area, reported_unit, reported_area_m2, props,
			area_m2, ST_Multi(geom), g3857, ST_PointOnSurface(g3857)
		FROM (SELECT *, ST_Transform(ST_Multi(geom), 3857) AS g3857 FROM stage WHERE problem IS NULL) s
		ORDER BY idx`, uploadID)
	if err != nil {
		return r, err
	}
	r.Features = int(tag.RowsAffected())
	if r.Features >= acreage.LargeUpload {
		if _, err := tx.Exec(ctx, "ANALYZE "+analyzedClearances); err != nil {
			return r, fmt.Errorf("analyze clearances: %w", err)
		}
	}
	// The figures take the upload in two phases (acreage.Upload): first
	// against the fields stored when it began, without the districts'
	// locks, then under them, with what was stored meanwhile.
	up, err := acreage.StartUpload(ctx, tx, uploadID)
	if err != nil {
		return r, err
	}
	if err := flagDuplicates(ctx, tx, uploadID, nil, warnings); err != nil {
		return r, err
	}
	if err := up.Plan(ctx, tx, placed); err != nil {
		return r, err
	}
	areas, err := up.Areas(ctx, tx)
	if err != nil {
		return r, err
	}
	// Where tiles change is known once the parts are (the tile caches
	// read it when the upload commits), and which points the new fields
	// give the low zooms' cells.
	if err := tiles.RecordUploadChange(ctx, tx, uploadID); err != nil {
		return r, err
	}
	if err := tiles.ChoosePoints(ctx, tx, uploadID); err != nil {
		return r, err
	}
	if err := up.Lock(ctx, tx); err != nil {
		return r, err
	}
	if concurrent := up.Concurrent(); len(concurrent) > 0 {
		if err := flagDuplicates(ctx, tx, uploadID, concurrent, warnings); err != nil {
			return r, err
		}
	}
	if err := up.Apply(ctx, tx); err != nil {
		return r, err
	}
	if err := tiles.AddPoints(ctx, tx); err != nil {
		return r, err
	}
	// Last of the writes: its row locks come after every lock above.
	if err := features.AddUpload(ctx, tx, uploadID); err != nil {
		return r, err
	}
	r.Districts = make([]DistrictAcres, len(areas))
	for i, a := range areas {
		r.Districts[i] = DistrictAcres{Code: a.Code, Name: a.Name, Acres: acreage.Round4(a.M2 / acreage.AcreM2)}
		r.Acres += a.M2 / acreage.AcreM2
	}
	r.Acres = acreage.Round4(r.Acres)
	r.Hectares = acreage.Round4(r.Acres * acreage.AcreM2 / 10000)
	return r, nil
}

// flagDuplicates flags the upload's clearances that are near-duplicates:
// each overlaps an earlier clearance of the same crop by at least 90% of
// each one's area, one of another upload that was stored before this one
// looked, or one earlier in this upload. It looks among every stored
// clearance (among nil), or, for those not flagged yet, among those of the
// given uploads, stored since it first looked. Planar area in degrees
// serves for the ratio: within one field the scale is the same everywhere.
func flagDuplicates(ctx context.Context, tx pgx.Tx, uploadID int64, among []int64, warnings *problemList) error {
	// Among a few uploads, the search starts from their clearances: the
	// upload's that lie over one of them are the only candidates.
	candidates, others, args := "c.upload_id = $1", "true", []any{uploadID, duplicateOverlap}
	if among != nil {
		candidates = `c.upload_id = $1 AND c.duplicate_of IS NULL AND c.id IN (
			SELECT n.id FROM clearances x JOIN clearances n ON n.geom && x.geom AND n.upload_id = $1 WHERE x.upload_id = ANY($3))`
		others, args = "o.upload_id = ANY($3)", append(args, among)
	}
	rows, err := tx.Query(ctx, `
		WITH dup AS (
			SELECT c.id, c.feature_index, c.field_id, o.id AS of, o.upload_id AS of_upload, o.field_id AS of_field
			FROM clearances c CROSS JOIN LATERAL (
				SELECT o.id, o.upload_id, o.field_id FROM clearances o
				WHERE o.geom && c.geom AND (o.upload_id <> c.upload_id OR o.id < c.id) AND o.crop = c.crop AND NOT o.retracted
				  AND `+others+`
				  -- The overlap is at most the smaller field: fields of
				  -- unlike size need no intersection (9 in 10 of the
				  -- candidates when 100,000 fields lay over stored ones).
				  AND least(ST_Area(o.geom), ST_Area(c.geom)) >= $2 * greatest(ST_Area(o.geom), ST_Area(c.geom))
				  AND ST_Area(ST_Intersection(o.geom, c.geom)) >= $2 * greatest(ST_Area(o.geom), ST_Area(c.geom))
				-- "+ 0" keeps the planner from walking the primary key in id
				-- order (testing each row) instead of using the GIST index.
				ORDER BY o.id + 0 LIMIT 1) o
			WHERE `+candidates+`)
		UPDATE clearances c SET duplicate_of = dup.of FROM dup WHERE c.id = dup.id
		RETURNING dup.feature_index, coalesce(dup.field_id, ''), dup.of, dup.of_upload, coalesce(dup.of_field, '')`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var fieldID, ofField string
		var of, ofUpload int64
		if err := rows.Scan(&idx, &fieldID, &of, &ofUpload, &ofField); err != nil {
			return err
		}
		first := fmt.Sprintf("clearance %d of upload %d", of, ofUpload)
		if ofField != "" {
			first += fmt.Sprintf(" (field_id %q)", ofField)
		}
		warnings.add(Problem{Index: idx, FieldID: fieldID, Pointer: "",
			Message: "overlaps " + first + " by 90% or more: stored as a near-duplicate of it, and counted once"})
	}
	return rows.Err()
}
