package acreage

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Upload brings the figures up to date with an upload's new clearances, in
// its transaction, in two phases, so that a large upload holds its
// districts only for the short second one (issue 18):
//
//  1. Plan, against the fields stored when the upload began (StartUpload)
//     and without the districts' locks: it cuts the new clearances into
//     parts, finds what they overlap, and measures the overlap groups they
//     would make. Other uploads and retractions go on meanwhile.
//  2. Lock, then Apply: under the districts' locks, it takes in the uploads
//     stored since it began (their near-duplicates and overlaps of the new
//     fields), writes the groups, measuring again only those whose members
//     are no longer the ones planned, and the sums.
//
// The caller searches for near-duplicates before Plan among every stored
// clearance, and after Lock among those of Concurrent.
type Upload struct {
	id        int64
	snapshot  string   // pg_current_snapshot() as the upload began
	districts []string // those of its parts, in code order
	// When Plan measured the planned groups (planned_areas holds their
	// areas), reserved gives the planned group of each group
	// reserveGroups wrote (nil when it did not), plannedIn the planned
	// group of each part planned loose, and storedParts, for each planned
	// group reserved, how many parts of other uploads it has.
	plannedIn   map[part]int32
	reserved    map[int64]int32
	storedParts map[int32]int
	// concurrent are the uploads stored since the upload began, as Lock
	// found them.
	concurrent []int64
}

// StartUpload begins an upload's maintenance, after its clearances are
// inserted and before anything is read of the stored ones: it keeps the
// snapshot that says what was stored when it began, and holds off Rebuild
// (which replaces every part and group) until the upload commits.
func StartUpload(ctx context.Context, tx pgx.Tx, uploadID int64) (*Upload, error) {
	u := &Upload{id: uploadID}
	err := tx.QueryRow(ctx, "SELECT pg_advisory_xact_lock_shared(hashtext($1)), pg_current_snapshot()::text", globalLock).Scan(nil, &u.snapshot)
	if err != nil {
		return nil, fmt.Errorf("start upload: %w", err)
	}
	return u, nil
}

// Placement says, for an upload's fields by feature index, the district
// each lies wholly within, as the uploader already found (ingest places most
// fields in Go, boundaries.Pieces): Districts[i] for Indexes[i], or "" when
// the field must be cut by the districts. Fields not listed are not counted.
type Placement struct {
	Indexes   []int32
	Districts []string
}

// Plan is the first phase: it stores the new clearances' parts, counts
// the new fields, finds the stored parts the new ones overlap, and plans
// the groups they make with those parts' groups as they stand. It writes
// only rows no other upload can see or lock before this one commits (an
// upload of LargeUpload fields or more also analyzes the parts, which
// another such upload then waits for).
func (u *Upload) Plan(ctx context.Context, tx pgx.Tx, placed Placement) error {
	if err := u.cut(ctx, tx, placed); err != nil {
		return err
	}
	// The upload's new fields (its clearances that are near-duplicates of
	// none stored, with their own near-duplicates): no other upload can
	// add to them before this one commits, so they are counted now.
	fresh, err := ids(ctx, tx, "SELECT id FROM clearances WHERE upload_id = $1 AND duplicate_of IS NULL", u.id)
	if err != nil {
		return fmt.Errorf("new fields: %w", err)
	}
	if err := countFields(ctx, tx, +1, fresh, 0); err != nil {
		return err
	}
	return u.planGroups(ctx, tx)
}

// cut stores the new clearances' parts, and notes their districts.
func (u *Upload) cut(ctx context.Context, tx pgx.Tx, placed Placement) error {
	if err := findRoots(ctx, tx, "upload_id = $1", u.id); err != nil {
		return err
	}
	var whole, cut []int32
	var wholeDistricts []string
	for i, idx := range placed.Indexes {
		if d := placed.Districts[i]; d != "" {
			whole, wholeDistricts = append(whole, idx), append(wholeDistricts, d)
		} else {
			cut = append(cut, idx)
		}
	}
	if err := recordDaily(ctx, tx, insertWholeParts, partsAdded, u.id, whole, wholeDistricts); err != nil {
		return err
	}
	if err := recordDaily(ctx, tx, fmt.Sprintf(insertParts, "c.upload_id = $1 AND c.feature_index = ANY($2)"), partsAdded, u.id, cut); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT p.district_code FROM clearance_parts p
		JOIN clearances c ON c.id = p.clearance_id WHERE c.upload_id = $1 ORDER BY 1`, u.id)
	if err != nil {
		return fmt.Errorf("districts: %w", err)
	}
	if u.districts, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("districts: %w", err)
	}
	if len(placed.Indexes) >= LargeUpload {
		// Not the geometries, whose statistics cost the most and which no
		// plan here needs.
		if _, err := tx.Exec(ctx, "ANALYZE clearance_parts (clearance_id, district_code, crop, cleared_on, field_root)"); err != nil {
			return fmt.Errorf("analyze parts: %w", err)
		}
	}
	return nil
}

// planGroups finds the stored parts the new ones overlap, and plans the
// groups they make (planned_members); when there are more of them than are
// measured inline, it measures them (planned_areas) and writes those that
// merge no stored group (reserveGroups).
func (u *Upload) planGroups(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE upload_overlaps
		(clearance_id bigint, district_code text, other bigint) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("plan upload: %w", err)
	}
	if err := u.findOverlaps(ctx, tx, "true"); err != nil {
		return err
	}
	overlaps, err := u.overlaps(ctx, tx)
	if err != nil {
		return err
	}
	components := connect(overlaps)
	var (
		partComponents, groupComponents []int32
		partClearances, groups          []int64
		partDistricts                   []string
	)
	for k, c := range components {
		for _, p := range c.parts {
			partComponents, partClearances, partDistricts = append(partComponents, int32(k)), append(partClearances, p.clearance), append(partDistricts, p.district)
		}
		for _, g := range c.groups {
			groupComponents, groups = append(groupComponents, int32(k)), append(groups, g)
		}
	}
	// A part may be listed twice if a group took it in between the
	// statements: it keeps its first component, and the two planned
	// components then match no group Apply writes.
	_, err = tx.Exec(ctx, `CREATE TEMP TABLE planned_members (component int, clearance_id bigint, district_code text,
		PRIMARY KEY (clearance_id, district_code)) ON COMMIT DROP`)
	if err != nil {
		return fmt.Errorf("plan groups: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO planned_members
		SELECT * FROM unnest($1::int[], $2::bigint[], $3::text[])
		UNION ALL
		SELECT x.component, m.clearance_id, m.district_code
		FROM unnest($4::int[], $5::bigint[]) AS x(component, group_id) JOIN group_members m ON m.group_id = x.group_id
		ON CONFLICT DO NOTHING`, partComponents, partClearances, partDistricts, groupComponents, groups)
	if err != nil {
		return fmt.Errorf("plan groups: %w", err)
	}
	if _, err := tx.Exec(ctx, "ANALYZE planned_members"); err != nil {
		return fmt.Errorf("plan groups: %w", err)
	}
	if len(components) <= stepsInline {
		return nil
	}
	_, err = tx.Exec(ctx, `
		CREATE TEMP TABLE planned_areas ON COMMIT DROP AS
		SELECT a.*, n.members FROM (`+netAreas(`SELECT k.component AS group_id, part.*
			FROM planned_members k CROSS JOIN LATERAL (SELECT p.crop, p.cleared_on, p.area_m2, p.geom FROM clearance_parts p
				WHERE p.clearance_id = k.clearance_id AND p.district_code = k.district_code OFFSET 0) part`, "true")+`) a
		JOIN (SELECT component, count(*) AS members FROM planned_members GROUP BY component) n ON n.component = a.group_id`)
	if err != nil {
		return fmt.Errorf("plan group areas: %w", err)
	}
	return u.reserveGroups(ctx, tx, components)
}

// reserveGroups writes each planned group that merges no stored group,
// with its net areas and the upload's own parts as members: no other
// upload sees them, or changes them, before this one commits. Apply then
// adds the stored parts to those still as planned: for 100,000 fields over
// stored ones, that is all but a few, and this is most of what they write.
func (u *Upload) reserveGroups(ctx context.Context, tx pgx.Tx, components []*component) error {
	var (
		loose                    []int32
		districts, partDistricts []string
		partClearances, targets  []int64
	)
	for k, c := range components {
		if len(c.groups) == 0 {
			loose, districts = append(loose, int32(k)), append(districts, c.district)
		}
	}
	reserved, err := ids(ctx, tx, "SELECT nextval(pg_get_serial_sequence('overlap_groups', 'id')) FROM generate_series(1, $1)", len(loose))
	if err != nil {
		return fmt.Errorf("reserve groups: %w", err)
	}
	u.plannedIn, u.reserved, u.storedParts = map[part]int32{}, make(map[int64]int32, len(loose)), make(map[int32]int, len(loose))
	for i, k := range loose {
		for _, p := range components[k].parts {
			u.plannedIn[p] = k
			partClearances, partDistricts, targets = append(partClearances, p.clearance), append(partDistricts, p.district), append(targets, reserved[i])
		}
		u.reserved[reserved[i]] = k
	}
	_, err = tx.Exec(ctx, `INSERT INTO overlap_groups (id, district_code, `+netAreaColumns+`)
		OVERRIDING SYSTEM VALUE SELECT m.id, m.district, `+netAreaValues+`
		FROM unnest($1::bigint[], $3::text[], $4::int[]) AS m(id, district, component)
		JOIN planned_areas s ON s.group_id = m.component`, reserved, maxSteppedDays, districts, loose)
	if err != nil {
		return fmt.Errorf("reserve groups: %w", err)
	}
	if err := recordDaily(ctx, tx, joinGroups+`unnest($1::bigint[], $2::text[], $3::bigint[]) AS m(clearance_id, district_code, target)
		JOIN clearance_parts p ON p.clearance_id = m.clearance_id AND p.district_code = m.district_code
		JOIN clearances c ON c.id = p.clearance_id AND c.upload_id = $4`+returningParts,
		partsGrouped, partClearances, partDistricts, targets, u.id); err != nil {
		return fmt.Errorf("reserve groups: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT group_id, count(*) FROM group_members WHERE group_id = ANY($1) GROUP BY group_id`, reserved)
	if err != nil {
		return fmt.Errorf("reserve groups: %w", err)
	}
	own := map[int64]int{}
	var id int64
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { own[id] = n; return nil }); err != nil {
		return fmt.Errorf("reserve groups: %w", err)
	}
	for id, k := range u.reserved {
		u.storedParts[k] = len(components[k].parts) - own[id]
	}
	return nil
}

// DistrictArea is a net area in one district.
type DistrictArea struct {
	Code, Name string
	M2         float64
}

// Areas applies the union rule to the upload alone, for its receipt: per
// district, the area of the union of its fields' parts there. Only its
// parts planned in one group need a union; the rest add up. It runs after
// Plan: two of the upload's parts that overlap are always planned together.
func (u *Upload) Areas(ctx context.Context, tx pgx.Tx) ([]DistrictArea, error) {
	// Most often each of the upload's parts is alone among them in its
	// planned group (a field over a stored one): its area, no union, and
	// its geometry is not read.
	rows, err := tx.Query(ctx, `
		WITH own AS MATERIALIZED (
			SELECT p.clearance_id, p.district_code AS code, p.area_m2, k.component
			FROM clearances c JOIN clearance_parts p ON p.clearance_id = c.id
			LEFT JOIN planned_members k ON k.clearance_id = p.clearance_id AND k.district_code = p.district_code
			WHERE c.upload_id = $1),
		shared AS (SELECT code, component FROM own WHERE component IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1)
		SELECT x.code, d.name, sum(x.m2) FROM (
			SELECT o.code, o.area_m2 AS m2 FROM own o
			WHERE NOT EXISTS (SELECT FROM shared s WHERE s.code = o.code AND s.component = o.component)
			UNION ALL
			SELECT s.code, ST_Area(ST_UnaryUnion(ST_Collect(p.geom))::geography)
			FROM shared s JOIN own o USING (code, component)
			JOIN clearance_parts p ON p.clearance_id = o.clearance_id AND p.district_code = o.code
			GROUP BY s.code, s.component) x
		JOIN districts d ON d.code = x.code
		GROUP BY x.code, d.name ORDER BY x.code`, u.id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DistrictArea, error) {
		var a DistrictArea
		return a, row.Scan(&a.Code, &a.Name, &a.M2)
	})
}

// Lock takes the locks of the second phase: the districts the upload's
// parts lie in (as Plan found them), in code order, so two uploads never wait on each other in
// a cycle. Then it finds the uploads stored since the upload began; the
// caller looks among them for near-duplicates (Concurrent) before Apply.
func (u *Upload) Lock(ctx context.Context, tx pgx.Tx) error {
	if beforeLock != nil {
		beforeLock()
	}
	err := lockDistricts(ctx, tx, "SELECT unnest($1::text[])", u.districts)
	if err != nil {
		return fmt.Errorf("lock upload: %w", err)
	}
	// Under the locks, this statement sees every upload into these
	// districts that will commit before this one.
	u.concurrent, err = ids(ctx, tx, `SELECT upload_id FROM acreage_uploads
		WHERE xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, $1::pg_snapshot)`, u.snapshot)
	if err != nil {
		return fmt.Errorf("uploads since: %w", err)
	}
	return nil
}

// beforeLock, when a test sets it, runs as an upload is about to lock:
// the test stores and retracts other uploads meanwhile.
var beforeLock func()

// Concurrent returns the uploads stored since the upload began, as Lock
// found them.
func (u *Upload) Concurrent() []int64 { return u.concurrent }

// Apply is the second phase, under Lock's locks, after the near-duplicates
// among the Concurrent uploads are flagged.
func (u *Upload) Apply(ctx context.Context, tx pgx.Tx) error {
	if len(u.concurrent) > 0 {
		// New near-duplicates move some of the upload's new fields into
		// fields stored meanwhile: uncounted as new, they count with those
		// below. The upload's parts overlap the new uploads' too.
		if err := findRoots(ctx, tx, "upload_id = $1", u.id); err != nil {
			return err
		}
		moved, err := ids(ctx, tx, `SELECT DISTINCT p.field_root FROM clearance_parts p
			JOIN field_roots r ON r.id = p.clearance_id WHERE p.field_root <> r.root`)
		if err != nil {
			return fmt.Errorf("fields moved: %w", err)
		}
		if err := countFields(ctx, tx, -1, moved, 0); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE clearance_parts p SET field_root = r.root
			FROM field_roots r WHERE p.clearance_id = r.id AND p.field_root <> r.root`); err != nil {
			return fmt.Errorf("field roots: %w", err)
		}
		if err := u.findOverlaps(ctx, tx, `o.clearance_id IN (SELECT id FROM clearances WHERE upload_id = ANY($2))`, u.concurrent); err != nil {
			return err
		}
	}
	// The stored fields the new clearances join (their near-duplicates'
	// fields) are counted before and after the upload's parts.
	joined, err := ids(ctx, tx, `SELECT DISTINCT r.root FROM field_roots r
		JOIN clearances c ON c.id = r.root WHERE c.upload_id <> $1`, u.id)
	if err != nil {
		return fmt.Errorf("fields joined: %w", err)
	}
	if err := lockFields(ctx, tx, joined); err != nil {
		return err
	}
	if err := countFields(ctx, tx, -1, joined, u.id); err != nil {
		return err
	}
	if err := countFields(ctx, tx, +1, joined, 0); err != nil {
		return err
	}
	overlaps, err := u.overlaps(ctx, tx)
	if err != nil {
		return err
	}
	components := connect(overlaps)
	u.findPlanned(components)
	if err := regroup(ctx, tx, components); err != nil {
		return err
	}
	measured, err := u.measurePlanned(ctx, tx, components)
	if err != nil {
		return err
	}
	// The groups to measure: those written other than as planned, and
	// those reserved that no longer are as planned (merged into another,
	// or left with fewer members: some may now be no group at all).
	rest := map[int64]bool{}
	for _, c := range components {
		if c.planned < 0 && !measured[c.id] {
			rest[c.id] = true
		}
	}
	for id := range u.reserved {
		rest[id] = true
	}
	for _, c := range components {
		if c.planned >= 0 {
			delete(rest, c.id)
		}
	}
	groups := slices.Collect(maps.Keys(rest))
	if err := dissolveSmall(ctx, tx, groups); err != nil {
		return err
	}
	if err := measureGroups(ctx, tx, groups); err != nil {
		return err
	}
	if err := refresh(ctx, tx); err != nil {
		return err
	}
	// Old rows go, but for those another upload is deleting: it would be
	// waited for.
	_, err = tx.Exec(ctx, `WITH old AS (DELETE FROM acreage_uploads WHERE ctid IN (
			SELECT ctid FROM acreage_uploads WHERE at < now() - interval '1 day' FOR UPDATE SKIP LOCKED))
		INSERT INTO acreage_uploads (upload_id) VALUES ($1)`, u.id)
	if err != nil {
		return fmt.Errorf("record upload: %w", err)
	}
	return nil
}

// findOverlaps records in upload_overlaps the parts, matching the
// condition on o, whose interiors meet the upload's new parts (fields that
// only share an edge add up without a union).
func (u *Upload) findOverlaps(ctx context.Context, tx pgx.Tx, where string, args ...any) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO upload_overlaps
		SELECT n.clearance_id, n.district_code, o.clearance_id
		FROM clearance_parts n
		JOIN clearances c ON c.id = n.clearance_id
		JOIN clearance_parts o ON o.district_code = n.district_code AND o.geom && n.geom
		     AND o.clearance_id <> n.clearance_id AND ST_Relate(o.geom, n.geom, 'T********')
		WHERE c.upload_id = $1 AND `+where, append([]any{u.id}, args...)...)
	if err != nil {
		return fmt.Errorf("overlaps: %w", err)
	}
	if _, err := tx.Exec(ctx, "ANALYZE upload_overlaps"); err != nil {
		return fmt.Errorf("overlaps: %w", err)
	}
	return nil
}

// overlaps reads upload_overlaps with the groups both parts belong to now
// (the upload's own in groups reserveGroups wrote), leaving out parts
// retracted since they were found.
func (u *Upload) overlaps(ctx context.Context, tx pgx.Tx) ([]overlap, error) {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT x.clearance_id, x.district_code, n.group_id, x.other, m.group_id
		FROM upload_overlaps x
		JOIN clearance_parts o ON o.clearance_id = x.other AND o.district_code = x.district_code
		LEFT JOIN group_members n ON n.clearance_id = x.clearance_id AND n.district_code = x.district_code
		LEFT JOIN group_members m ON m.clearance_id = x.other AND m.district_code = x.district_code`)
	if err != nil {
		return nil, fmt.Errorf("overlaps: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (overlap, error) {
		var o overlap
		err := row.Scan(&o.a.clearance, &o.a.district, &o.aGroup, &o.b.clearance, &o.bGroup)
		o.b.district = o.a.district
		return o, err
	})
}

// findPlanned sets the planned group of each component that is still as
// planned: one reserved group (its members are the upload's parts as
// planned), and parts of other uploads that were planned loose in that
// group, as many as were.
func (u *Upload) findPlanned(components []*component) {
	for _, c := range components {
		if len(c.groups) != 1 {
			continue
		}
		k, ok := u.reserved[c.groups[0]]
		for _, p := range c.parts {
			in, planned := u.plannedIn[p]
			ok = ok && planned && in == k
		}
		if ok && u.storedParts[k] == len(c.parts) {
			c.planned = k
		}
	}
}

// measurePlanned gives the other groups regroup merged with stored ones whose
// members are a planned group's exactly the net areas Plan measured,
// leaves their steps pending as measureGroups does for many groups, and
// returns them. A group's members are compared one by one: every member
// in one planned group, and as many as it has (a part is planned in one
// group at most).
func (u *Upload) measurePlanned(ctx context.Context, tx pgx.Tx, components []*component) (map[int64]bool, error) {
	if u.reserved == nil {
		return nil, nil
	}
	var merged []int64
	for _, c := range components {
		if len(c.groups) > 0 && c.planned < 0 {
			merged = append(merged, c.id)
		}
	}
	measured, err := ids(ctx, tx, `
		UPDATE overlap_groups g SET `+setNetAreas+`
		FROM (SELECT f.group_id, min(k.component) AS component, count(*) AS members
		      FROM group_members f LEFT JOIN planned_members k USING (clearance_id, district_code)
		      WHERE f.group_id = ANY($1)
		      GROUP BY f.group_id
		      HAVING count(k.component) = count(*) AND min(k.component) = max(k.component)) x
		JOIN planned_areas s ON s.group_id = x.component AND s.members = x.members
		WHERE g.id = x.group_id
		RETURNING g.id`, merged, maxSteppedDays)
	if err != nil {
		return nil, fmt.Errorf("planned group areas: %w", err)
	}
	if err := dropSteps(ctx, tx, measured); err != nil {
		return nil, err
	}
	done := make(map[int64]bool, len(measured))
	for _, id := range measured {
		done[id] = true
	}
	return done, nil
}
