package acreage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Field counts (migrations/00021_field_counts.sql). A field is a clearance
// and its near-duplicates: following duplicate_of from any of them ends at
// the same root, the first stored. A field counts in a scope (district, province, nation) and
// date range while any of its counted clearances cleared in the range has a
// part in the scope, so a re-upload adds no field and retracting the first
// upload keeps the field counted through the other. field_days holds, per
// scope, crop, member day and the member day before it, how many fields
// have that pair: the fields in from..to are the rows with from <= day <=
// to and prev_day < from.

// noDay is the prev_day of a field's first member day in a scope.
const noDay = "1999-12-31"

// findRoots fills the temporary table field_roots with the root of each
// clearance matching where (a condition on clearances) that is a
// near-duplicate; a clearance not listed is its own root.
func findRoots(ctx context.Context, tx pgx.Tx, where string, args ...any) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS field_roots
		(id bigint PRIMARY KEY, root bigint NOT NULL) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("field roots: %w", err)
	}
	if _, err := tx.Exec(ctx, "TRUNCATE field_roots"); err != nil {
		return fmt.Errorf("field roots: %w", err)
	}
	// duplicate_of names a clearance stored before, so chains end.
	_, err := tx.Exec(ctx, `
		INSERT INTO field_roots
		WITH RECURSIVE chain (id, up, depth) AS (
			SELECT id, duplicate_of, 1 FROM clearances WHERE duplicate_of IS NOT NULL AND `+where+`
			UNION ALL
			SELECT chain.id, c.duplicate_of, chain.depth + 1 FROM chain JOIN clearances c ON c.id = chain.up
			WHERE c.duplicate_of IS NOT NULL)
		SELECT DISTINCT ON (id) id, up FROM chain ORDER BY id, depth DESC`, args...)
	if err != nil {
		return fmt.Errorf("field roots: %w", err)
	}
	return nil
}

// lockFields serialises changes to the given fields: an upload adding a
// near-duplicate and a retraction removing another member of the same field
// may touch no district in common, and each must count the field after the
// other's change. It locks the root clearances' rows (row locks, unlike
// advisory locks, take no shared memory however many), in id order, after
// the district locks.
func lockFields(ctx context.Context, tx pgx.Tx, roots []int64) error {
	if len(roots) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM clearances WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, roots); err != nil {
		return fmt.Errorf("lock fields: %w", err)
	}
	return nil
}

// createFieldDelta makes the table where changes to field_days wait to be
// applied.
const createFieldDelta = `CREATE TEMP TABLE IF NOT EXISTS field_delta
	(scope text, crop text, day date, prev_day date, fields integer, features integer) ON COMMIT DROP`

// countFieldsSQL records in field_delta, times $1, the field_days rows
// that the fields whose parts match %s make up from their parts as they are
// now. $2 is the national scope, $3 noDay.
const countFieldsSQL = `
	WITH parts AS MATERIALIZED (
		SELECT p.field_root AS root, p.clearance_id, p.crop, p.cleared_on AS day, p.district_code, d.province_code
		FROM clearance_parts p JOIN districts d ON d.code = p.district_code
		WHERE %s),
	members AS (
		SELECT root, crop, district_code AS scope, day, count(*) AS features FROM parts GROUP BY 1, 2, 3, 4
		UNION ALL
		SELECT root, crop, province_code, day, count(DISTINCT clearance_id) FROM parts GROUP BY 1, 2, 3, 4
		UNION ALL
		SELECT root, crop, $2::text, day, count(DISTINCT clearance_id) FROM parts GROUP BY 1, 2, 3, 4)
	INSERT INTO field_delta (scope, crop, day, prev_day, fields, features)
	SELECT scope, crop, day, prev_day, $1 * count(*), $1 * sum(features) FROM (
		SELECT scope, crop, day, features,
		       coalesce(lag(day) OVER (PARTITION BY root, crop, scope ORDER BY day), $3::date) AS prev_day
		FROM members) m
	GROUP BY 1, 2, 3, 4`

// countFields records, with the given sign, the field_days rows of the
// fields with the given roots as their parts are now, leaving out those of
// upload except (0 for none). Counting the fields a change touches with -1
// before it and +1 after it leaves in field_delta exactly the change.
func countFields(ctx context.Context, tx pgx.Tx, sign int, roots []int64, except int64) error {
	if len(roots) == 0 {
		return nil
	}
	return recordFields(ctx, tx, "p.field_root = ANY($4) AND p.clearance_id NOT IN (SELECT id FROM clearances WHERE upload_id = $5)",
		sign, National, noDay, roots, except)
}

// countAllFields records the field_days rows of every field.
func countAllFields(ctx context.Context, tx pgx.Tx) error {
	return recordFields(ctx, tx, "true", 1, National, noDay)
}

// recordFields runs countFieldsSQL with the parts' condition where.
func recordFields(ctx context.Context, tx pgx.Tx, where string, args ...any) error {
	if _, err := tx.Exec(ctx, createFieldDelta); err != nil {
		return fmt.Errorf("count fields: %w", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(countFieldsSQL, where), args...); err != nil {
		return fmt.Errorf("count fields: %w", err)
	}
	return nil
}

// applyFieldDelta adds the recorded changes to field_days and field_totals,
// dropping rows that fall to zero.
func applyFieldDelta(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, createFieldDelta+`;
		INSERT INTO field_days AS t (scope, crop, day, prev_day, fields, features)
		SELECT scope, crop, day, prev_day, sum(fields), sum(features) FROM field_delta GROUP BY 1, 2, 3, 4
		ON CONFLICT (scope, crop, day, prev_day) DO UPDATE
		SET fields = t.fields + excluded.fields, features = t.features + excluded.features;
		DELETE FROM field_days t USING (SELECT DISTINCT scope, crop, day, prev_day FROM field_delta) d
		WHERE t.scope = d.scope AND t.crop = d.crop AND t.day = d.day AND t.prev_day = d.prev_day AND t.fields = 0;
		INSERT INTO field_totals AS t (scope, crop, fields, features)
		SELECT scope, crop, coalesce(sum(fields) FILTER (WHERE prev_day = '`+noDay+`'), 0), sum(features)
		FROM field_delta GROUP BY 1, 2
		ON CONFLICT (scope, crop) DO UPDATE
		SET fields = t.fields + excluded.fields, features = t.features + excluded.features;
		DELETE FROM field_totals t USING (SELECT DISTINCT scope, crop FROM field_delta) d
		WHERE t.scope = d.scope AND t.crop = d.crop AND t.fields = 0 AND t.features = 0;
		TRUNCATE field_delta`)
	if err != nil {
		return fmt.Errorf("apply field counts: %w", err)
	}
	return nil
}

// counts are a scope's fields and the clearances that make them up.
type counts struct{ fields, features int }

// fieldCounts returns, per scope and crop, the counts under f's dates: from
// the totals when there are none.
func fieldCounts(ctx context.Context, db *pgxpool.Pool, f Filter) (map[string]map[string]counts, error) {
	var rows pgx.Rows
	var err error
	if f.dated() {
		from, to := f.dates()
		rows, err = db.Query(ctx, `SELECT scope, crop, coalesce(sum(fields) FILTER (WHERE prev_day < $1::date), 0), sum(features)
			FROM field_days WHERE day BETWEEN $1::date AND $2::date GROUP BY 1, 2`, from, to)
	} else {
		rows, err = db.Query(ctx, `SELECT scope, crop, fields, features FROM field_totals`)
	}
	if err != nil {
		return nil, fmt.Errorf("field counts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]counts{}
	for rows.Next() {
		var scope, crop string
		var c counts
		if err := rows.Scan(&scope, &crop, &c.fields, &c.features); err != nil {
			return nil, fmt.Errorf("field counts: %w", err)
		}
		if out[scope] == nil {
			out[scope] = map[string]counts{}
		}
		out[scope][crop] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("field counts: %w", err)
	}
	return out, nil
}

// of returns a scope's counts for the crop, or for both crops when crop is
// "": a field is of one crop (near-duplicates share theirs), so the sum
// counts each once.
func of(byCrop map[string]counts, crop string) counts {
	if crop != "" {
		return byCrop[crop]
	}
	var c counts
	for _, n := range byCrop {
		c.fields += n.fields
		c.features += n.features
	}
	return c
}
