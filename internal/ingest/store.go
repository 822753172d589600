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
	if err := acreage.LockUpload(ctx, tx, uploadID, placed); err != nil {
		return r, err
	}

	// A near-duplicate overlaps an earlier clearance of the same crop by at
	// least 90% of each one's area: one of another upload that was stored
	// before this one looked (under LockUpload's locks, so of two uploads
	// of the same field one sees the other's, whichever took its ids
	// first), or one earlier in this upload. Planar area in degrees serves
	// for the ratio: within one field the scale is the same everywhere.
	rows, err := tx.Query(ctx, `
		WITH dup AS (
			SELECT c.id, c.feature_index, c.field_id, o.id AS of, o.upload_id AS of_upload, o.field_id AS of_field
			FROM clearances c CROSS JOIN LATERAL (
				SELECT o.id, o.upload_id, o.field_id FROM clearances o
				WHERE o.geom && c.geom AND (o.upload_id <> c.upload_id OR o.id < c.id) AND o.crop = c.crop AND NOT o.retracted
				  -- The overlap is at most the smaller field: fields of
				  -- unlike size need no intersection (9 in 10 of the
				  -- candidates when 100,000 fields lay over stored ones).
				  AND least(ST_Area(o.geom), ST_Area(c.geom)) >= $2 * greatest(ST_Area(o.geom), ST_Area(c.geom))
				  AND ST_Area(ST_Intersection(o.geom, c.geom)) >= $2 * greatest(ST_Area(o.geom), ST_Area(c.geom))
				-- "+ 0" keeps the planner from walking the primary key in id
				-- order (testing each row) instead of using the GIST index.
				ORDER BY o.id + 0 LIMIT 1) o
			WHERE c.upload_id = $1)
		UPDATE clearances c SET duplicate_of = dup.of FROM dup WHERE c.id = dup.id
		RETURNING dup.feature_index, coalesce(dup.field_id, ''), dup.of, dup.of_upload, coalesce(dup.of_field, '')`,
		uploadID, duplicateOverlap)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var fieldID, ofField string
		var of, ofUpload int64
		if err := rows.Scan(&idx, &fieldID, &of, &ofUpload, &ofField); err != nil {
			return r, err
		}
		first := fmt.Sprintf("clearance %d of upload %d", of, ofUpload)
		if ofField != "" {
			first += fmt.Sprintf(" (field_id %q)", ofField)
		}
		warnings.add(Problem{Index: idx, FieldID: fieldID, Pointer: "",
			Message: "overlaps " + first + " by 90% or more: stored as a near-duplicate of it, and counted once"})
	}
	if err := rows.Err(); err != nil {
		return r, err
	}

	if err := acreage.AddUpload(ctx, tx, uploadID, placed); err != nil {
		return r, err
	}
	if err := tiles.RecordUploadChange(ctx, tx, uploadID); err != nil {
		return r, err
	}
	if err := tiles.AddPoints(ctx, tx, uploadID); err != nil {
		return r, err
	}
	// Last of the writes: its row locks come after every lock above.
	if err := features.AddUpload(ctx, tx, uploadID); err != nil {
		return r, err
	}
	areas, err := acreage.UploadAreas(ctx, tx, uploadID)
	if err != nil {
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
