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

// Locks. The writes of one district's figures must not interleave with
// another upload's, or two overlapping fields could each miss the other and
// count twice. Uploads and retractions lock the districts they touch (in
// code order, so two never wait on each other in a cycle) while sharing the
// global lock, then the fields they change (lockFields); an upload makes
// its searches and unions before it locks (Upload), and takes in under the
// locks what was stored meanwhile. A rebuild takes the global lock alone.
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
	if err := countFields(ctx, tx, -1, fields, 0); err != nil {
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
	if err := countFields(ctx, tx, +1, fields, 0); err != nil {
		return err
	}
	if err := dropSteps(ctx, tx, groups); err != nil {
		return err
	}
	// What is left of each group: one part or none is no group; two or more
	// keep their group (its members no longer need to be connected: they
	// still overlap nothing outside it).
	if err := dissolveSmall(ctx, tx, groups); err != nil {
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
	// The totals are deleted, not truncated: their row triggers note that
	// the figures changed (migration 00031), and a boundary load has
	// already deleted some of their rows in this transaction.
	if _, err := tx.Exec(ctx, `TRUNCATE clearance_parts, group_members, group_steps, step_starts, overlap_groups,
		acreage_daily, field_days;
		DELETE FROM district_totals;
		DELETE FROM field_totals`); err != nil {
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

// overlap is a new part a whose interior meets part b; either may already
// belong to a group.
type overlap struct {
	a, b           part
	aGroup, bGroup *int64
}

// component is a set of connected parts: the groups it merges and the
// loose parts it adds; the group it makes once written (regroup), and the
// planned group (Upload.Plan) it is exactly, if any (-1 if not).
type component struct {
	district string
	groups   []int64
	parts    []part
	id       int64
	planned  int32
}

// connect finds the components the overlaps make, each group standing for
// its members.
func connect(overlaps []overlap) []*component {
	// Union-find over nodes numbered as they come: a part, or a group,
	// which stands for all its members.
	var (
		parent []int32
		parts  = map[part]int32{}
		groups = map[int64]int32{}
		nodes  []any // each node's part or group
	)
	add := func(key any) int32 {
		parent = append(parent, int32(len(parent)))
		nodes = append(nodes, key)
		return int32(len(parent) - 1)
	}
	node := func(p part, group *int64) int32 {
		if group != nil {
			n, ok := groups[*group]
			if !ok {
				n = add(*group)
				groups[*group] = n
			}
			return n
		}
		n, ok := parts[p]
		if !ok {
			n = add(p)
			parts[p] = n
		}
		return n
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]] // path halving
			x = parent[x]
		}
		return x
	}
	for _, o := range overlaps {
		a, b := node(o.a, o.aGroup), node(o.b, o.bGroup)
		parent[find(a)] = find(b)
	}
	byRoot := map[int32]*component{}
	var components []*component
	for x, key := range nodes {
		root := find(int32(x))
		c := byRoot[root]
		if c == nil {
			c = &component{planned: -1}
			byRoot[root] = c
			components = append(components, c)
		}
		switch v := key.(type) {
		case int64:
			c.groups = append(c.groups, v)
		case part:
			c.parts = append(c.parts, v)
			c.district = v.district
		}
	}
	return components
}

// regroup merges each component's parts with the groups they already
// belong to into one group, and sets each component's group, to be
// measured.
func regroup(ctx context.Context, tx pgx.Tx, components []*component) error {
	var (
		newGroups          []int64
		newDistricts       []string
		partClearances     []int64
		partDistricts      []string
		partTargets        []int64
		mergedFrom, target []int64
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
		c.id = id
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
	return nil
}

// dissolveSmall ends those of the given groups left with fewer than two
// members: one part or none is no group.
func dissolveSmall(ctx context.Context, tx pgx.Tx, groups []int64) error {
	if err := recordDaily(ctx, tx, `DELETE FROM group_members
		WHERE group_id IN (SELECT group_id FROM group_members WHERE group_id = ANY($1)
		                   GROUP BY group_id HAVING count(*) < 2)`+returningParts, partsUngrouped, groups); err != nil {
		return fmt.Errorf("dissolve groups: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM overlap_groups g
		WHERE g.id = ANY($1) AND NOT EXISTS (SELECT FROM group_members m WHERE m.group_id = g.id)`, groups); err != nil {
		return fmt.Errorf("dissolve groups: %w", err)
	}
	return nil
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
		UPDATE overlap_groups g SET `+setNetAreas+`
		FROM (`+netAreas(groupParts+`m.group_id = ANY($1)`, `NOT ($3 AND count(DISTINCT p.cleared_on) <= $2)`)+`) s
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

// netAreas selects, for each group of the parts that the query parts
// selects (group_id, crop, cleared_on, area_m2 and geom of each member)
// and that satisfies having, its first and last days, how many days it
// has, and its net, poppy and cannabis areas.
func netAreas(parts, having string) string {
	return `SELECT s.group_id, s.first_day, s.last_day, s.days, ` + setAreas + ` FROM (
		SELECT p.group_id, min(p.cleared_on) AS first_day, max(p.cleared_on) AS last_day,
		       count(DISTINCT p.cleared_on) AS days, ` + partSets + `
		FROM (` + parts + `) p GROUP BY p.group_id HAVING ` + having + `) s ` + setUnions
}

// A group measured by its net areas: its columns (netAreaColumns) take
// their values (netAreaValues) from s, a row of netAreas. Its steps are
// left pending if it has few enough days ($2, maxSteppedDays).
const (
	netAreaColumns = "first_day, last_day, stepped, steps_pending, net_m2, poppy_m2, cannabis_m2"
	netAreaValues  = "s.first_day, s.last_day, false, s.days <= $2, s.net, s.poppy, s.cannabis"
	setNetAreas    = "(" + netAreaColumns + ") = (" + netAreaValues + ")"
)

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
