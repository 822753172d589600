package acreage

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/audit"
)

// National is the scope of a figure for all of Pakistan.
const National = "PK"

// Reported is an official figure that arrived as a number (SPEC §3.4), with
// how much of it mapped fields back up.
type Reported struct {
	ID        int64     `json:"id"`
	Scope     string    `json:"scope"` // PK, a province or a district code
	From      string    `json:"from"`
	To        string    `json:"to"`
	Acres     float64   `json:"acres"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// MappedAcres is the net area mapped in the scope over the period;
	// BackedShare is MappedAcres / Acres.
	MappedAcres float64  `json:"mapped_acres"`
	BackedShare *float64 `json:"backed_share"`
}

// reportedByScope sums the reported figures whose period overlaps f's.
func reportedByScope(ctx context.Context, db *pgxpool.Pool, f Filter) (map[string]float64, error) {
	from, to := f.dates()
	rows, err := db.Query(ctx, `SELECT scope, sum(acres) FROM reported_figures
		WHERE period_from <= $2::date AND period_to >= $1::date GROUP BY scope`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var scope string
		var a float64
		if err := rows.Scan(&scope, &a); err != nil {
			return nil, err
		}
		out[scope] = a
	}
	return out, rows.Err()
}

// ListReported returns every reported figure with the mapped area behind it.
func ListReported(ctx context.Context, db *pgxpool.Pool) ([]Reported, error) {
	rows, err := db.Query(ctx, `SELECT id, scope, period_from, period_to, acres, source, created_at, created_by
		FROM reported_figures ORDER BY period_from, scope, id`)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reported, error) {
		var r Reported
		var from, to time.Time
		err := row.Scan(&r.ID, &r.Scope, &from, &to, &r.Acres, &r.Source, &r.CreatedAt, &r.CreatedBy)
		r.From, r.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	for i := range list {
		if err := list[i].measure(ctx, db); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// measure fills in the mapped area behind a figure.
func (r *Reported) measure(ctx context.Context, db *pgxpool.Pool) error {
	from, _ := time.Parse(time.DateOnly, r.From)
	to, _ := time.Parse(time.DateOnly, r.To)
	list, err := Districts(ctx, db, Filter{From: from, To: to})
	if err != nil {
		return err
	}
	var mapped float64
	for _, d := range list {
		if r.Scope == National || d.Province == r.Scope || d.Code == r.Scope {
			mapped += d.Acres
		}
	}
	r.MappedAcres = Round4(mapped)
	if r.Acres > 0 {
		share := Round4(mapped / r.Acres)
		r.BackedShare = &share
	}
	return nil
}

// NewReported is what an admin records.
type NewReported struct {
	Scope  string  `json:"scope"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	Acres  float64 `json:"acres"`
	Source string  `json:"source"`
}

// InvalidError says what is wrong with a figure to record.
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string { return strings.Join(e.Problems, "; ") }

// AddReported records a figure after checking it: a known scope, real
// dates in order, acres zero or more, a source.
func AddReported(ctx context.Context, db *pgxpool.Pool, n NewReported, actor string) (Reported, error) {
	var problems []string
	from, errFrom := ParseDate(n.From)
	to, errTo := ParseDate(n.To)
	if errFrom != nil {
		problems = append(problems, fmt.Sprintf("from %q: %v", n.From, errFrom))
	}
	if errTo != nil {
		problems = append(problems, fmt.Sprintf("to %q: %v", n.To, errTo))
	}
	if errFrom == nil && errTo == nil && to.Before(from) {
		problems = append(problems, "to is before from")
	}
	if n.Acres < 0 || math.IsNaN(n.Acres) || math.IsInf(n.Acres, 0) || n.Acres > 1e9 {
		problems = append(problems, "acres must be a number from 0 to 1,000,000,000")
	}
	if s := strings.TrimSpace(n.Source); s == "" || utf8.RuneCountInString(s) > 2000 {
		problems = append(problems, "source must say where the figure comes from, in at most 2000 characters")
	}
	if strings.ContainsRune(n.Source, 0) {
		problems = append(problems, `source must be text without NUL characters (\u0000)`)
	}
	if strings.ContainsRune(n.Scope, 0) {
		problems = append(problems, fmt.Sprintf("scope %q: want PK, a province code or a district code", n.Scope))
	} else if n.Scope != National {
		var known bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM provinces WHERE code = $1)
			OR EXISTS (SELECT 1 FROM districts WHERE code = $1)`, n.Scope).Scan(&known); err != nil {
			return Reported{}, err
		}
		if !known {
			problems = append(problems, fmt.Sprintf("scope %q: want PK, a province code or a district code", n.Scope))
		}
	}
	if len(problems) > 0 {
		return Reported{}, &InvalidError{problems}
	}
	r := Reported{Scope: n.Scope, From: n.From, To: n.To, Acres: n.Acres, Source: strings.TrimSpace(n.Source), CreatedBy: actor}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO reported_figures (scope, period_from, period_to, acres, source, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
			r.Scope, from, to, r.Acres, r.Source, actor).Scan(&r.ID, &r.CreatedAt)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "reported.add", fmt.Sprintf("reported %d", r.ID),
			map[string]any{"scope": r.Scope, "from": r.From, "to": r.To, "acres": r.Acres, "source": r.Source})
	})
	if err != nil {
		return Reported{}, err
	}
	return r, r.measure(ctx, db)
}

// DeleteReported removes a figure; ErrUnknown if there is none.
func DeleteReported(ctx context.Context, db *pgxpool.Pool, id int64, actor string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM reported_figures WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrUnknown
		}
		return audit.Record(ctx, tx, actor, "reported.delete", fmt.Sprintf("reported %d", id), nil)
	})
}
