// Package acreage keeps cleared acreage per district and province current,
// and answers the figures analysts read (SPEC §3.3, §3.4).
//
// Figures follow the union rule: a district's net area for a crop and date
// range is the area of the union of those fields' parts inside it. Rather
// than union every field per request, the store keeps each field's parts per
// district and gathers overlapping parts into overlap groups (see
// migrations/00007_acreage.sql): net area is then a sum over parts and groups,
// exact and cheap. An upload or retraction changes only the districts, days
// and groups its fields touch.
package acreage

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Locks. Maintenance of one district must not interleave with another
// upload's, or two overlapping fields could each miss the other and count
// twice. Uploads lock the districts they touch (in code order, so two uploads
// never wait on each other in a cycle) while sharing the global lock, then
// the fields they change (lockFields); a rebuild takes the global lock
// alone.
const globalLock = "clearmap.acreage"

// districtLock is the key of the maintenance lock of the district in a
// column called code, as SQL.
const districtLock = "hashtext('clearmap.acreage:' || code)"

// joinGroups puts parts in groups (migrations/00029_group_members.sql):
// followed by the FROM items of a query naming each part (p, a
// clearance_parts row) and its group (target).
const joinGroups = `INSERT INTO group_members (clearance_id, district_code, group_id, crop, cleared_on, area_m2)
	SELECT p.clearance_id, p.district_code, target, p.crop, p.cleared_on, p.area_m2 FROM `

// groupParts selects the members of overlap groups as the parts they are
// (group_id, district_code, crop, cleared_on, area_m2, geom): followed by a
// condition on their memberships (m). Each member's geometry is an index
// probe of its part, whatever the planner thinks (OFFSET 0 keeps the probe
// a subquery of its own): measureGroups turns nested loops off, and a hash
// join would read every part stored.
const groupParts = `SELECT m.group_id, m.district_code, m.crop, m.cleared_on, m.area_m2, part.geom
	FROM group_members m CROSS JOIN LATERAL (SELECT p.geom FROM clearance_parts p
		WHERE p.clearance_id = m.clearance_id AND p.district_code = m.district_code OFFSET 0) part
	WHERE `

// insertParts cuts clearances into their parts inside districts. Most fields
// lie within one district and skip the intersection.
const insertParts = `
	INSERT INTO clearance_parts AS p (clearance_id, district_code, crop, cleared_on, field_root, area_m2, geom)
	SELECT id, code, crop, cleared_on, coalesce((SELECT root FROM field_roots r WHERE r.id = cut.id), id),
	       CASE WHEN whole THEN area_m2 ELSE ST_Area(piece::geography) END, piece
	FROM (
		-- Cut by the districts' pieces (migration 00014): a field within a
		-- piece is wholly in its district, and its area is already known;
		-- otherwise its part in a district is the union of its parts in that
		-- district's pieces.
		SELECT c.id, p.district_code AS code, c.crop, c.cleared_on, c.area_m2,
		       bool_or(ST_Within(c.geom, p.geom)) AS whole,
		       CASE WHEN bool_or(ST_Within(c.geom, p.geom)) THEN ST_Multi(c.geom)
		            ELSE ST_Multi(ST_CollectionExtract(ST_Union(ST_Intersection(c.geom, p.geom)), 3)) END AS piece
		FROM clearances c JOIN district_pieces p ON ST_Intersects(c.geom, p.geom)
		WHERE NOT c.retracted AND %s
		GROUP BY c.id, p.district_code) cut
	WHERE whole OR ST_Area(piece) > 0` + returningParts

// insertWholeParts stores fields known to lie wholly within one district
// as their own single part: nothing to cut, and the area is the field's.
const insertWholeParts = `
	INSERT INTO clearance_parts AS p (clearance_id, district_code, crop, cleared_on, field_root, area_m2, geom)
	SELECT c.id, w.code, c.crop, c.cleared_on, coalesce(r.root, c.id), c.area_m2, c.geom
	FROM unnest($2::int[], $3::text[]) AS w(idx, code)
	JOIN clearances c ON c.upload_id = $1 AND c.feature_index = w.idx
	LEFT JOIN field_roots r ON r.id = c.id
	WHERE NOT c.retracted` + returningParts

// LargeUpload is the size of upload (fields) that analyzes the tables it
// grows: in its own transaction, before it joins them, and once committed
// (internal/ingest), for the reads that follow. Planned on
// statistics of tables without its rows (after a first small upload was
// retracted, say), the joins scanned every stored row once for each new
// one, minutes for 100,000 fields.
const LargeUpload = 5000

// Placement says, for an upload's fields by feature index, the district
// each lies wholly within, as the uploader already found (ingest places most
// fields in Go, boundaries.Pieces): Districts[i] for Indexes[i], or "" when
// the field must be cut by the districts. Fields not listed are not counted.
type Placement struct {
	Indexes   []int32
	Districts []string
}

// LockUpload takes the locks AddUpload needs for an upload's new
// clearances: the districts they touch. Taken before the upload looks for
// near-duplicates among the stored clearances, they make two uploads of the
// same field in turn, so the later one finds the earlier's and the field
// counts once. It runs in the upload's transaction, after the clearances
// are inserted.
func LockUpload(ctx context.Context, tx pgx.Tx, uploadID int64, placed Placement) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared(hashtext($1))", globalLock); err != nil {
		return fmt.Errorf("lock upload: %w", err)
	}
	var cut []int32
	var districts []string
	for i, idx := range placed.Indexes {
		if d := placed.Districts[i]; d != "" {
			districts = append(districts, d)
		} else {
			cut = append(cut, idx)
		}
	}
	// Every district a part can fall in: AddUpload then takes no lock it
	// does not hold already.
	err := lockDistricts(ctx, tx, `SELECT unnest($1::text[]) UNION
		SELECT p.district_code FROM clearances c JOIN district_pieces p ON ST_Intersects(c.geom, p.geom)
		WHERE c.upload_id = $2 AND c.feature_index = ANY($3)`, districts, uploadID, cut)
	if err != nil {
		return fmt.Errorf("lock upload: %w", err)
	}
	return nil
}

// AddUpload brings the figures up to date with an upload's new clearances.
// It runs in the upload's transaction, after LockUpload.
func AddUpload(ctx context.Context, tx pgx.Tx, uploadID int64, placed Placement) error {
	// The fields the new clearances join: their near-duplicates' fields,
	// counted before and after; the other clearances are new fields.
	if err := findRoots(ctx, tx, "upload_id = $1", uploadID); err != nil {
		return err
	}
	joined, err := ids(ctx, tx, "SELECT DISTINCT root FROM field_roots")
	if err != nil {
		return fmt.Errorf("fields joined: %w", err)
	}
	if err := lockFields(ctx, tx, joined); err != nil {
		return err
	}
	if err := countFields(ctx, tx, -1, joined); err != nil {
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
	if err := recordDaily(ctx, tx, insertWholeParts, partsAdded, uploadID, whole, wholeDistricts); err != nil {
		return err
	}
	if err := recordDaily(ctx, tx, fmt.Sprintf(insertParts, "c.upload_id = $1 AND c.feature_index = ANY($2)"), partsAdded, uploadID, cut); err != nil {
		return err
	}
	if len(placed.Indexes) >= LargeUpload {
		// Not the geometries, whose statistics cost the most and which no
		// plan here needs.
		if _, err := tx.Exec(ctx, "ANALYZE clearance_parts (clearance_id, district_code, crop, cleared_on, field_root)"); err != nil {
			return fmt.Errorf("analyze parts: %w", err)
		}
	}
	added, err := ids(ctx, tx, `SELECT DISTINCT p.field_root FROM clearance_parts p
		JOIN clearances c ON c.id = p.clearance_id WHERE c.upload_id = $1`, uploadID)
	if err != nil {
		return fmt.Errorf("fields added: %w", err)
	}
	if err := countFields(ctx, tx, +1, append(joined, added...)); err != nil {
		return err
	}
	// Overlaps of the new parts with any others, new or old: interiors must
	// meet (fields that only share an edge add up without a union).
	rows, err := tx.Query(ctx, `
		SELECT n.clearance_id, n.district_code, o.clearance_id, m.group_id
		FROM clearance_parts n
		JOIN clearances c ON c.id = n.clearance_id
		JOIN clearance_parts o ON o.district_code = n.district_code AND o.geom && n.geom
		     AND o.clearance_id <> n.clearance_id AND ST_Relate(o.geom, n.geom, 'T********')
		LEFT JOIN group_members m ON m.clearance_id = o.clearance_id AND m.district_code = o.district_code
		WHERE c.upload_id = $1`, uploadID)
	if err != nil {
		return err
	}
	var overlaps []overlap
	for rows.Next() {
		var o overlap
		if err := rows.Scan(&o.a.clearance, &o.a.district, &o.b.clearance, &o.bGroup); err != nil {
			return err
		}
		o.b.district = o.a.district
		overlaps = append(overlaps, o)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := regroup(ctx, tx, overlaps); err != nil {
		return err
	}
	return refresh(ctx, tx)
}

// RemoveUpload takes a retracted upload's clearances out of the figures. It
// runs in the retraction's transaction.
func RemoveUpload(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared(hashtext($1))", globalLock); err != nil {
		return err
	}
	const (
		ofUpload = "clearance_id IN (SELECT id FROM clearances WHERE upload_id = $1)"
		parts    = "FROM clearance_parts WHERE " + ofUpload
		members  = "FROM group_members WHERE " + ofUpload
	)
	if err := lockDistricts(ctx, tx, "SELECT DISTINCT district_code "+parts, uploadID); err != nil {
		return err
	}
	fields, err := ids(ctx, tx, "SELECT DISTINCT field_root "+parts, uploadID)
	if err != nil {
		return fmt.Errorf("fields touched: %w", err)
	}
	if err := lockFields(ctx, tx, fields); err != nil {
		return err
	}
	if err := countFields(ctx, tx, -1, fields); err != nil {
		return err
	}
	groups, err := ids(ctx, tx, "SELECT DISTINCT group_id "+members, uploadID)
	if err != nil {
		return err
	}
	// The parts leave their groups, then go.
	if err := recordDaily(ctx, tx, "DELETE "+members+returningParts, partsUngrouped, uploadID); err != nil {
		return err
	}
	if err := recordDaily(ctx, tx, "DELETE "+parts+returningParts, partsRemoved, uploadID); err != nil {
		return err
	}
	// A field keeps counting through its other clearances.
	if err := countFields(ctx, tx, +1, fields); err != nil {
		return err
	}
	if err := dropSteps(ctx, tx, groups); err != nil {
		return err
	}
	// What is left of each group: one part or none is no group; two or more
	// keep their group (its members no longer need to be connected: they
	// still overlap nothing outside it).
	if err := recordDaily(ctx, tx, `DELETE FROM group_members
		WHERE group_id IN (SELECT group_id FROM group_members WHERE group_id = ANY($1)
		                   GROUP BY group_id HAVING count(*) < 2)`+returningParts, partsUngrouped, groups); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM overlap_groups g
		WHERE g.id = ANY($1) AND NOT EXISTS (SELECT FROM group_members m WHERE m.group_id = g.id)`, groups); err != nil {
		return err
	}
	if err := measureGroups(ctx, tx, groups); err != nil {
		return err
	}
	return refresh(ctx, tx)
}

// Rebuild recomputes every figure from the clearances: after the boundaries
// change, or to repair. It locks out uploads and retractions while it runs.
func Rebuild(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", globalLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `TRUNCATE clearance_parts, group_members, group_steps, step_starts, overlap_groups,
		acreage_daily, district_totals, field_days, field_totals`); err != nil {
		return err
	}
	if err := findRoots(ctx, tx, "true"); err != nil {
		return err
	}
	if err := recordDaily(ctx, tx, fmt.Sprintf(insertParts, "true"), partsAdded); err != nil {
		return err
	}
	if err := countAllFields(ctx, tx); err != nil {
		return err
	}
	// Connected parts form the groups (touching ones too, which only makes a
	// group larger); DBSCAN with eps 0 finds them using an index.
	_, err := tx.Exec(ctx, `
		CREATE TEMP TABLE clusters ON COMMIT DROP AS
		SELECT clearance_id, district_code,
		       ST_ClusterDBSCAN(geom, 0, 2) OVER (PARTITION BY district_code) AS cluster
		FROM clearance_parts;
		CREATE TEMP TABLE cluster_ids ON COMMIT DROP AS
		SELECT district_code, cluster, nextval(pg_get_serial_sequence('overlap_groups', 'id')) AS target
		FROM (SELECT DISTINCT district_code, cluster FROM clusters WHERE cluster IS NOT NULL) c;
		INSERT INTO overlap_groups (id, district_code, first_day, last_day)
		OVERRIDING SYSTEM VALUE
		SELECT target, district_code, '2000-01-01', '2000-01-01' FROM cluster_ids`)
	if err != nil {
		return err
	}
	if err := recordDaily(ctx, tx, joinGroups+`clusters c JOIN cluster_ids i USING (district_code, cluster)
		JOIN clearance_parts p ON p.clearance_id = c.clearance_id AND p.district_code = c.district_code`+returningParts,
		partsGrouped); err != nil {
		return err
	}
	groups, err := ids(ctx, tx, "SELECT target FROM cluster_ids")
	if err != nil {
		return err
	}
	if err := measureGroups(ctx, tx, groups); err != nil {
		return err
	}
	return refresh(ctx, tx)
}

// part names one clearance's part in one district.
type part struct {
	clearance int64
	district  string
}

// overlap is a new part a whose interior meets part b, which may already
// belong to a group.
type overlap struct {
	a, b   part
	bGroup *int64
}

// regroup merges each set of overlapping parts, with the groups they
// already belong to, into one group, and measures the groups it changed.
func regroup(ctx context.Context, tx pgx.Tx, overlaps []overlap) error {
	if len(overlaps) == 0 {
		return nil
	}
	// Union-find over parts; a part in a group stands for the whole group.
	parent := map[any]any{}
	var find func(x any) any
	find = func(x any) any {
		p, ok := parent[x]
		if !ok || p == x {
			parent[x] = x
			return x
		}
		root := find(p)
		parent[x] = root
		return root
	}
	union := func(a, b any) { parent[find(a)] = find(b) }
	node := func(p part, group *int64) any {
		if group != nil {
			return *group
		}
		return p
	}
	for _, o := range overlaps {
		union(node(o.a, nil), node(o.b, o.bGroup))
	}

	// For each component: the groups it merges and the loose parts it adds.
	type component struct {
		district string
		groups   []int64
		parts    []part
	}
	components := map[any]*component{}
	for x := range parent {
		root := find(x)
		c := components[root]
		if c == nil {
			c = &component{}
			components[root] = c
		}
		switch v := x.(type) {
		case int64:
			c.groups = append(c.groups, v)
		case part:
			c.parts = append(c.parts, v)
			c.district = v.district
		}
	}

	var (
		newGroups          []int64
		newDistricts       []string
		partClearances     []int64
		partDistricts      []string
		partTargets        []int64
		mergedFrom, target []int64
		changed            []int64
	)
	need := 0
	for _, c := range components {
		if len(c.groups) == 0 {
			need++
		}
	}
	// Ids for the components that are all loose parts.
	fresh, err := ids(ctx, tx, "SELECT nextval(pg_get_serial_sequence('overlap_groups', 'id')) FROM generate_series(1, $1)", need)
	if err != nil {
		return err
	}
	for _, c := range components {
		slices.Sort(c.groups)
		var id int64
		if len(c.groups) > 0 {
			id = c.groups[0]
			for _, g := range c.groups[1:] {
				mergedFrom, target = append(mergedFrom, g), append(target, id)
			}
		} else {
			id, fresh = fresh[0], fresh[1:]
			newGroups, newDistricts = append(newGroups, id), append(newDistricts, c.district)
		}
		for _, p := range c.parts {
			partClearances, partDistricts, partTargets = append(partClearances, p.clearance), append(partDistricts, p.district), append(partTargets, id)
		}
		changed = append(changed, id)
	}
	if err := dropSteps(ctx, tx, mergedFrom); err != nil {
		return err
	}
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO overlap_groups (id, district_code, first_day, last_day)
		OVERRIDING SYSTEM VALUE SELECT id, district, '2000-01-01', '2000-01-01'
		FROM unnest($1::bigint[], $2::text[]) AS m(id, district)`, newGroups, newDistricts)
	batch.Queue(`UPDATE group_members g SET group_id = m.target
		FROM unnest($1::bigint[], $2::bigint[]) AS m(old, target) WHERE g.group_id = m.old`, mergedFrom, target)
	batch.Queue(`DELETE FROM overlap_groups WHERE id = ANY($1)`, mergedFrom)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return err
	}
	// The parts a component adds are loose: a part in a group stands for
	// its group above.
	if err := recordDaily(ctx, tx, joinGroups+`unnest($1::bigint[], $2::text[], $3::bigint[]) AS m(clearance_id, district_code, target)
		JOIN clearance_parts p ON p.clearance_id = m.clearance_id AND p.district_code = m.district_code`+returningParts,
		partsGrouped, partClearances, partDistricts, partTargets); err != nil {
		return err
	}
	return measureGroups(ctx, tx, changed)
}

// maxSteppedDays bounds a group's steps (n days give n(n+1)/2 of them, each
// a union): a larger group, rare in real data, is unioned per request.
const maxSteppedDays = 16

// stepsInline is the most groups an upload, retraction or rebuild measures
// the steps of in its own transaction: as many as StepPending measures in
// one. With more, each group keeps its net area and is marked
// steps_pending (migration 00026), and StepPending measures their steps
// later, outside the upload's locks: 100,000 fields over stored ones
// changed 81,000 groups, whose 208,000 span unions took half the import.
var stepsInline = StepBatch

// measureGroups recomputes the first and last days of the given groups,
// and either their steps (a few groups of few days) or their net areas (a
// group of many days, or more groups than stepsInline: these are left
// steps_pending for StepPending).
func measureGroups(ctx context.Context, tx pgx.Tx, groups []int64) error {
	// The groups and their members are joined by group: hash joins,
	// whatever the statistics say. Planned on statistics that knew of no
	// group (as after a load of fields that overlap nothing), nested loops
	// compared every group's members with every other group's: 22-33 s
	// for 5,000-11,000 groups, and 100,000 fields over stored ones took 15
	// minutes in issue 18.
	if _, err := tx.Exec(ctx, "SELECT set_config('enable_nestloop', 'off', true)"); err != nil {
		return err
	}
	inline := len(groups) <= stepsInline
	// The groups measured in line need only their days; the others their
	// net areas too, made in one pass over their members (a lateral query
	// per group took 5.3 s for 81,500 groups, one pass 4.0 s).
	_, err := tx.Exec(ctx, `
		UPDATE overlap_groups g SET first_day = s.first_day, last_day = s.last_day, stepped = true, steps_pending = false,
		       net_m2 = NULL, poppy_m2 = NULL, cannabis_m2 = NULL
		FROM (SELECT group_id, min(cleared_on) AS first_day, max(cleared_on) AS last_day FROM group_members
		      WHERE $3 AND group_id = ANY($1) GROUP BY group_id HAVING count(DISTINCT cleared_on) <= $2) s
		WHERE g.id = s.group_id`, groups, maxSteppedDays, inline)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		UPDATE overlap_groups g SET first_day = s.first_day, last_day = s.last_day, stepped = false,
		       steps_pending = s.days <= $2, (net_m2, poppy_m2, cannabis_m2) = (`+setAreas+`)
		FROM (SELECT p.group_id, min(p.cleared_on) AS first_day, max(p.cleared_on) AS last_day,
		             count(DISTINCT p.cleared_on) AS days, `+partSets+`
		      FROM (`+groupParts+`m.group_id = ANY($1)) p GROUP BY p.group_id
		      HAVING NOT ($3 AND count(DISTINCT p.cleared_on) <= $2)) s `+setUnions+`
		WHERE g.id = s.group_id`, groups, maxSteppedDays, inline)
	if err != nil {
		return err
	}
	if err := dropSteps(ctx, tx, groups); err != nil {
		return err
	}
	if inline {
		if err := insertSteps(ctx, tx, groups); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, "SELECT set_config('enable_nestloop', 'on', true)")
	return err
}

// insertSteps measures the steps of those of the given groups that are
// stepped: for each pair of member days a <= d, the net area its members on
// days a..d add to those on days a..(the member day before d).
func insertSteps(ctx context.Context, tx pgx.Tx, groups []int64) error {
	_, err := tx.Exec(ctx, `
		WITH members AS MATERIALIZED (
			`+groupParts+`m.group_id = ANY($1) AND m.group_id IN (SELECT id FROM overlap_groups WHERE id = ANY($1) AND stepped)),
		days AS (
			SELECT group_id, district_code, day,
			       coalesce(lag(day) OVER (PARTITION BY group_id ORDER BY day), '1999-12-31') AS prev
			FROM (SELECT DISTINCT group_id, district_code, cleared_on AS day FROM members) d),
		spans AS (
			SELECT s.group_id, s.district_code, s.prev, s.a_day, s.d_day, `+setAreas+` FROM (
				SELECT a.group_id, a.district_code, a.prev, a.day AS a_day, e.day AS d_day, `+partSets+`
				FROM days a JOIN days e ON e.group_id = a.group_id AND e.day >= a.day
				JOIN members p ON p.group_id = a.group_id AND p.cleared_on BETWEEN a.day AND e.day
				GROUP BY a.group_id, a.district_code, a.prev, a.day, e.day) s `+setUnions+`),
		added AS (
			INSERT INTO group_steps (group_id, district_code, prev_day, a_day, d_day, w_m2, w_poppy_m2, w_cannabis_m2)
			SELECT s.group_id, s.district_code, s.prev, s.a_day, s.d_day,
			       s.net - coalesce(lag(s.net) OVER w, 0),
			       s.poppy - coalesce(lag(s.poppy) OVER w, 0),
			       s.cannabis - coalesce(lag(s.cannabis) OVER w, 0)
			FROM spans s
			WINDOW w AS (PARTITION BY s.group_id, s.a_day ORDER BY s.d_day)
			RETURNING district_code, prev_day, a_day, d_day, w_m2, w_poppy_m2, w_cannabis_m2)
		INSERT INTO step_delta SELECT * FROM added`, groups)
	return err
}

// createStepDelta makes the table where step changes wait to be applied
// to step_starts.
const createStepDelta = `CREATE TEMP TABLE IF NOT EXISTS step_delta (
	district_code text, prev_day date, a_day date, d_day date,
	w_m2 float8, w_poppy_m2 float8, w_cannabis_m2 float8) ON COMMIT DROP`

// dropSteps deletes the steps of the given groups, remembering them (with
// their sign turned) for applyStepDelta. Groups must lose their steps this
// way before they are deleted.
func dropSteps(ctx context.Context, tx pgx.Tx, groups []int64) error {
	if _, err := tx.Exec(ctx, createStepDelta); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		WITH gone AS (DELETE FROM group_steps WHERE group_id = ANY($1)
		              RETURNING district_code, prev_day, a_day, d_day, w_m2, w_poppy_m2, w_cannabis_m2)
		INSERT INTO step_delta SELECT district_code, prev_day, a_day, d_day, -w_m2, -w_poppy_m2, -w_cannabis_m2 FROM gone`, groups)
	return err
}

// applyStepDelta brings step_starts up to date with the remembered step
// changes: existing start days take the changes to the steps they fall
// under; start days new to a district are summed from all its steps.
func applyStepDelta(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, createStepDelta+`;
		CREATE TEMP TABLE new_start_days ON COMMIT DROP AS
		SELECT DISTINCT d.district_code, d.a_day AS f_day FROM step_delta d
		WHERE d.w_m2 >= 0 AND NOT EXISTS (
			SELECT 1 FROM step_starts t WHERE t.district_code = d.district_code AND t.f_day = d.a_day);
		INSERT INTO step_starts AS t (district_code, f_day, d_day, w_m2, w_poppy_m2, w_cannabis_m2)
		SELECT d.district_code, f.f_day, d.d_day, sum(d.w_m2), sum(d.w_poppy_m2), sum(d.w_cannabis_m2)
		-- Summed first: a group measured again drops and adds the same
		-- steps, whose changes mostly cancel.
		FROM (SELECT district_code, prev_day, a_day, d_day,
		             sum(w_m2) AS w_m2, sum(w_poppy_m2) AS w_poppy_m2, sum(w_cannabis_m2) AS w_cannabis_m2
		      FROM step_delta GROUP BY 1, 2, 3, 4) d
		JOIN (SELECT DISTINCT district_code, f_day FROM step_starts
		      WHERE district_code IN (SELECT district_code FROM step_delta)) f
		  ON f.district_code = d.district_code AND f.f_day > d.prev_day AND f.f_day <= d.a_day
		GROUP BY 1, 2, 3
		ON CONFLICT (district_code, f_day, d_day) DO UPDATE SET
			w_m2 = t.w_m2 + excluded.w_m2, w_poppy_m2 = t.w_poppy_m2 + excluded.w_poppy_m2,
			w_cannabis_m2 = t.w_cannabis_m2 + excluded.w_cannabis_m2;
		INSERT INTO step_starts (district_code, f_day, d_day, w_m2, w_poppy_m2, w_cannabis_m2)
		SELECT s.district_code, n.f_day, s.d_day, sum(s.w_m2), sum(s.w_poppy_m2), sum(s.w_cannabis_m2)
		FROM new_start_days n
		JOIN group_steps s ON s.district_code = n.district_code AND s.prev_day < n.f_day AND n.f_day <= s.a_day
		GROUP BY 1, 2, 3;
		DROP TABLE new_start_days;
		TRUNCATE step_delta`)
	return err
}

// ids returns the ids the query selects.
func ids(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// lockDistricts takes the maintenance lock of each district the query
// (returning district codes) names, in code order.
func lockDistricts(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+districtLock+`)
		FROM (`+query+`) d(code) ORDER BY code`, args...)
	return err
}

// refresh brings the sums up to date with the recorded changes, then
// recomputes the totals of the districts whose parts changed.
func refresh(ctx context.Context, tx pgx.Tx) error {
	if err := applyStepDelta(ctx, tx); err != nil {
		return err
	}
	if err := applyFieldDelta(ctx, tx); err != nil {
		return err
	}
	districts, err := applyDailyDelta(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM district_totals WHERE district_code = ANY($1)", districts); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO district_totals
		(district_code, crop, net_m2, gross_m2, last_cleared_on) `+figuresSQL,
		firstDay, lastDay, districts)
	return err
}

// DistrictArea is a net area in one district.
type DistrictArea struct {
	Code, Name string
	M2         float64
}

// UploadAreas applies the union rule to one upload alone: per district, the
// area of the union of its fields' parts there. Only parts in overlap
// groups need a union; the rest add up.
func UploadAreas(ctx context.Context, tx pgx.Tx, uploadID int64) ([]DistrictArea, error) {
	rows, err := tx.Query(ctx, `
		SELECT x.code, d.name, sum(x.m2) FROM (
			-- Most often the upload has one part in a group (a field over
			-- a stored one): its area, no union.
			SELECT code, CASE WHEN n = 1 THEN area ELSE ST_Area(ST_UnaryUnion(geoms)::geography) END AS m2
			FROM (SELECT p.district_code AS code, count(*) AS n, sum(p.area_m2) AS area, ST_Collect(p.geom) AS geoms
			      FROM clearance_parts p JOIN clearances c ON c.id = p.clearance_id
			      JOIN group_members m ON m.clearance_id = p.clearance_id AND m.district_code = p.district_code
			      WHERE c.upload_id = $1 GROUP BY p.district_code, m.group_id) g
			UNION ALL
			SELECT p.district_code, sum(p.area_m2)
			FROM clearance_parts p JOIN clearances c ON c.id = p.clearance_id
			WHERE c.upload_id = $1 AND NOT EXISTS (SELECT FROM group_members m
				WHERE m.clearance_id = p.clearance_id AND m.district_code = p.district_code)
			GROUP BY p.district_code) x
		JOIN districts d ON d.code = x.code
		GROUP BY x.code, d.name ORDER BY x.code`, uploadID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DistrictArea, error) {
		var a DistrictArea
		return a, row.Scan(&a.Code, &a.Name, &a.M2)
	})
}
