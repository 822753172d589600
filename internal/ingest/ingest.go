// Package ingest turns uploaded GeoJSON into stored clearances: it decodes
// the body as a stream, applies every rule of SPEC §3.1, and stores the
// upload all-or-nothing, keeping the original bytes whatever the outcome.
//
// Rules that need no database (properties, dates, geometry structure) run in
// Go as features stream in, on every core, where each field's geodesic area
// is measured and most fields are placed in their district; the valid ones
// are copied into a temporary table where PostGIS checks validity, the
// fields Go could not place, the size limits and near-duplicates in a few
// set-based statements. Memory holds a few batches
// of features, the first problems, and 20 bytes a field for its placement.
package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/acreage"
	"clearmap/internal/boundaries"
)

// Upload is one request to store clearances.
type Upload struct {
	Body           io.Reader
	ContentType    string // as received, stored with the bytes
	Format         Format // how the body holds its GeoJSON
	Defaults       Defaults
	Partial        bool   // store the valid features even if some are not
	IdempotencyKey string // the client's key for this upload, if any
	TokenID        *int64 // nil for the command line
	Uploader       string // token name, or cli:USER
	// Progress, if set, is told how many bytes of the body have been
	// decoded, as decoding goes on, and then once with -1 when only the
	// database checks remain.
	Progress func(decoded int64)
}

// Outcome says what became of an upload.
type Outcome int

const (
	// Created: the upload was stored and its clearances count.
	Created Outcome = iota
	// Replayed: the same upload was accepted before; its first receipt is returned.
	Replayed
	// Rejected: nothing counts; the original bytes and the problems are kept.
	Rejected
)

// DistrictAcres is an upload's net area in one district.
type DistrictAcres struct {
	Code  string  `json:"code"`
	Name  string  `json:"name"`
	Acres float64 `json:"acres"`
}

// Receipt is what an upload's sender gets back, and what is kept with it.
type Receipt struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	Features int    `json:"features"` // clearances stored
	// Acres is the area of the union of the upload's fields inside districts:
	// overlapping fields within the upload count once.
	Acres     float64         `json:"acres"`
	Hectares  float64         `json:"hectares"`
	Districts []DistrictAcres `json:"districts"`
	Warnings  []Problem       `json:"warnings"`
	// MoreWarnings counts warnings beyond those listed.
	MoreWarnings int `json:"more_warnings,omitempty"`
	// Problems are the features left out: all of them when rejected, the
	// invalid ones of a partial upload.
	Problems     []Problem `json:"problems,omitempty"`
	MoreProblems int       `json:"more_problems,omitempty"`
}

// Result is an upload's outcome and receipt. SyntaxError is set when the body
// could not be read as GeoJSON at all (HTTP 400 rather than 422).
type Result struct {
	Outcome     Outcome
	Receipt     Receipt
	SyntaxError bool
}

// ErrKeyReused means an Idempotency-Key came back with a different body.
var ErrKeyReused = errors.New("this Idempotency-Key was used for a different upload; use a new key for new data")

// KeyRetractedError means an Idempotency-Key came back after an admin
// retracted the upload it was first used for. A retry under that key is
// refused rather than replayed (the receipt no longer holds) or stored
// anew (which would quietly undo the retraction).
type KeyRetractedError struct {
	Key         string
	Upload      int64
	RetractedBy string
	RetractedAt time.Time
}

func (e *KeyRetractedError) Error() string {
	return fmt.Sprintf("Idempotency-Key %q was used for upload %d, which %s retracted at %s; it is not stored again under that key: "+
		"to upload the data anew, send it with a new key", e.Key, e.Upload, e.RetractedBy, e.RetractedAt.UTC().Format(time.RFC3339))
}

// Thresholds of SPEC §3.1.
const (
	acreM2         = acreage.AcreM2
	maxFieldAcres  = 2500
	tinyFieldAcres = 0.01
	// A clearance overlapping a stored one of the same crop by this share of
	// each one's area is a near-duplicate.
	duplicateOverlap = 0.9
	// Lists in a receipt are cut here; the rest are counted.
	maxListed = 1000
)

// Service stores uploads.
type Service struct {
	DB *pgxpool.Pool
	// Now is the clock for "not in the future"; time.Now if nil.
	Now func() time.Time
	// Concurrent, if above 0, bounds how many uploads are checked and
	// stored at once. Each holds a database connection and up to some
	// 60 MB of memory while it is; one waits for its turn (holding only
	// its spooled body) for up to QueueWait, then fails with ErrBusy.
	Concurrent int
	// QueueWait is how long an upload waits for its turn; 30 s if 0.
	QueueWait time.Duration
	// RejectedBytesPerDay, if above 0, bounds what one token's rejected
	// uploads keep: once those of the last 24 hours hold this many bytes
	// (kept body and receipt), the next keep neither bytes nor the lists of
	// their receipts.
	RejectedBytesPerDay int64

	slotsOnce sync.Once
	slots     chan struct{}
	pieces    boundaries.PieceCache
}

// ErrBusy means the service was checking and storing as many uploads as it
// takes at once for as long as an upload waits its turn.
var ErrBusy = errors.New("the server is busy storing other uploads; retry shortly")

// keepRejected is how much of a rejected upload's body is kept: enough to
// see what was sent, and so little that rejections cannot fill the disk.
const keepRejected = 1 << 20

// Store reads, checks and stores an upload. Errors are a *ReadError (the
// body could not be read: nothing stored), ErrKeyReused, a
// *KeyRetractedError, ErrBusy, or a database error.
func (s *Service) Store(ctx context.Context, u Upload) (Result, error) {
	body, err := spool(u.Body)
	var syntax *SyntaxError
	if err != nil && !errors.As(err, &syntax) {
		return Result{}, err
	}
	defer body.close()
	release, err := s.turn(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()

	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	params := map[string]any{"crop": u.Defaults.Crop, "cleared_on": u.Defaults.ClearedOn, "team": u.Defaults.Team, "partial": u.Partial}
	var result Result
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		// A large upload's checks run longer than an API request may. The
		// PostGIS functions' costs push every per-field statement over the
		// JIT threshold, and compiling took longer than it saved (a third
		// of the area check's time, docs/benchmarks.md). Sorting 100,000
		// staged rows by feature spilled to disk at the default work_mem.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = '15min'; SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"); err != nil {
			return err
		}
		replay, err := lockAndFindReplay(ctx, tx, u, body.sha256[:], params)
		if err != nil || replay != nil {
			if replay != nil {
				result = Result{Outcome: Replayed, Receipt: *replay}
			}
			return err
		}
		id, err := insertUpload(ctx, tx, u, body, params)
		if err != nil {
			return err
		}
		result, err = s.process(ctx, tx, id, u, body, syntax, Today(now()))
		if err != nil {
			return err
		}
		result.Receipt.ID = id
		kept, receipt, err := s.keep(ctx, tx, id, u, body, result)
		if err != nil {
			return err
		}
		var key *string
		if result.Outcome == Created && u.IdempotencyKey != "" {
			key = &u.IdempotencyKey
		}
		_, err = tx.Exec(ctx, `UPDATE uploads SET status = $2, features = $3, receipt = $4, idempotency_key = $5, kept_bytes = $6 WHERE id = $1`,
			id, result.Receipt.Status, result.Receipt.Features, receipt, key, kept)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if result.Outcome == Created && result.Receipt.Features >= acreage.LargeUpload {
		// The figures' queries plan on these tables' statistics; after a
		// bulk load they are stale until autovacuum comes round, and the
		// date-filtered summary ran 5× slower (docs/benchmarks.md). The
		// upload is stored; a failure here only leaves that to autovacuum.
		// clearances too, for the next upload's and retraction's plans
		// (planned on an empty table's statistics, the near-duplicate search
		// took 33 s at 100,000 fields), but not its geometries, whose
		// statistics took 70% of this statement's time.
		s.DB.Exec(ctx, "ANALYZE "+analyzedClearances+`, clearance_parts, group_members, overlap_groups, group_steps, step_starts,
			acreage_daily, district_totals, field_days, field_totals, point_cells`)
	}
	return result, nil
}

// turn waits for one of the Concurrent places, before the upload takes a
// database connection, so uploads never take every connection the reads
// need; release gives it back.
func (s *Service) turn(ctx context.Context) (release func(), err error) {
	if s.Concurrent <= 0 {
		return func() {}, nil
	}
	s.slotsOnce.Do(func() { s.slots = make(chan struct{}, s.Concurrent) })
	wait := s.QueueWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-timer.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// keep stores what is kept of the body, and returns how many bytes that is
// and the receipt to keep. An accepted upload keeps every byte. A rejected
// one keeps its first keepRejected bytes and its receipt, unless its
// token's rejected uploads of the last day already hold RejectedBytesPerDay:
// then it keeps no bytes, and its receipt only counts its problems and
// warnings (the sender was told them all).
func (s *Service) keep(ctx context.Context, tx pgx.Tx, id int64, u Upload, body *spooled, result Result) (int64, Receipt, error) {
	n, receipt := body.size, result.Receipt
	if result.Outcome == Rejected {
		n = min(n, keepRejected)
		if s.RejectedBytesPerDay > 0 {
			var used int64
			err := tx.QueryRow(ctx, `
				SELECT coalesce(sum(kept_bytes + coalesce(pg_column_size(receipt), 0)), 0) FROM uploads
				WHERE token_id IS NOT DISTINCT FROM $1 AND status = 'rejected' AND received_at > now() - interval '1 day'`,
				u.TokenID).Scan(&used)
			if err != nil {
				return 0, receipt, err
			}
			if used >= s.RejectedBytesPerDay {
				n = 0
				receipt.MoreProblems += len(receipt.Problems)
				receipt.MoreWarnings += len(receipt.Warnings)
				receipt.Problems, receipt.Warnings = nil, []Problem{}
			}
		}
	}
	r, err := body.reader()
	if err != nil {
		return 0, receipt, err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"upload_chunks"}, []string{"upload_id", "seq", "data"},
		&chunkSource{id: id, r: io.LimitReader(r, n)})
	return n, receipt, err
}

// analyzedClearances are the columns of clearances that uploads analyze:
// the plain ones the plans of uploads and retractions need, not the
// geometries, whose statistics cost the most.
const analyzedClearances = "clearances (id, upload_id, crop, cleared_on, retracted, duplicate_of)"

// lockAndFindReplay serialises uploads of the same bytes or key by the same
// sender (so a retry racing its original waits for it), then returns the
// receipt of an earlier accepted upload this one repeats, if any.
func lockAndFindReplay(ctx context.Context, tx pgx.Tx, u Upload, sum []byte, params map[string]any) (*Receipt, error) {
	owner := "cli"
	if u.TokenID != nil {
		owner = fmt.Sprint(*u.TokenID)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "upload:"+owner+":"+hex.EncodeToString(sum)); err != nil {
		return nil, err
	}
	if u.IdempotencyKey != "" {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "upload-key:"+owner+":"+u.IdempotencyKey); err != nil {
			return nil, err
		}
	}
	var receipt Receipt
	var sameBytes bool
	var retracted KeyRetractedError
	var retractedAt *time.Time
	err := tx.QueryRow(ctx, `
		SELECT receipt, sha256 = $2 AND params = $3, id, coalesce(retracted_by, ''), retracted_at FROM uploads
		WHERE token_id IS NOT DISTINCT FROM $1
		  AND ((status = 'accepted' AND sha256 = $2 AND params = $3) OR idempotency_key = $4)
		ORDER BY (idempotency_key = $4) DESC NULLS LAST, id LIMIT 1`,
		u.TokenID, sum, params, u.IdempotencyKey).Scan(&receipt, &sameBytes, &retracted.Upload, &retracted.RetractedBy, &retractedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("finding an earlier upload: %w", err)
	case retractedAt != nil:
		retracted.Key, retracted.RetractedAt = u.IdempotencyKey, *retractedAt
		return nil, &retracted
	case !sameBytes:
		return nil, ErrKeyReused
	}
	return &receipt, nil
}

// insertUpload records the upload; its bytes are stored once its outcome
// says how many are kept.
func insertUpload(ctx context.Context, tx pgx.Tx, u Upload, body *spooled, params map[string]any) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO uploads (token_id, uploader, content_type, format, size_bytes, kept_bytes, sha256, partial, params, status)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, 'rejected') RETURNING id`,
		u.TokenID, u.Uploader, u.ContentType, u.Format.String(), body.size, body.sha256[:], u.Partial, params).Scan(&id)
	return id, err
}

// chunkSource feeds a body to COPY in 1 MiB rows.
type chunkSource struct {
	id  int64
	r   io.Reader
	seq int
	buf []byte
	err error
}

func (c *chunkSource) Next() bool {
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	n, err := io.ReadFull(c.r, c.buf)
	if n == 0 {
		if err != io.EOF {
			c.err = err
		}
		return false
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		c.err = err
		return false
	}
	c.buf = c.buf[:n]
	return true
}

func (c *chunkSource) Values() ([]any, error) {
	row := []any{c.id, c.seq, c.buf}
	c.seq++
	return row, nil
}

func (c *chunkSource) Err() error { return c.err }

// process checks the body and, unless it is rejected, stores its clearances.
// It works in a savepoint, so a rejection undoes everything but the upload
// row and its bytes.
func (s *Service) process(ctx context.Context, tx pgx.Tx, id int64, u Upload, body *spooled, syntax *SyntaxError, today time.Time) (Result, error) {
	if syntax != nil {
		return rejected(syntax.Error(), nil, true), nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return Result{}, err
	}
	defer sp.Rollback(ctx)

	r, err := body.reader()
	if err != nil {
		return Result{}, err
	}
	if u.Progress != nil {
		r = &progressReader{r: r, report: u.Progress}
	}
	dec := NewDecoder(r, u.Format)
	pieces, err := s.pieces.Get(ctx, sp)
	if err != nil {
		return Result{}, err
	}
	st := &stager{dec: dec, defaults: u.Defaults, today: today, seenIDs: map[string]int{}, pieces: pieces}
	st.start()
	defer st.close()
	if err := createStage(ctx, sp); err != nil {
		return Result{}, err
	}
	if _, err := sp.CopyFrom(ctx, pgx.Identifier{"stage"}, stageColumns, st); err != nil {
		// pgx reports a failing source as the server's "COPY failed"; the
		// source still holds the reason.
		var tooLarge *TooLargeError
		switch {
		case errors.As(st.err, &syntax):
			return rejected(syntax.Error(), nil, true), nil
		case errors.As(st.err, &tooLarge):
			return rejected(tooLarge.Error(), st, false), nil
		}
		return Result{}, err
	}
	if u.Progress != nil {
		u.Progress(-1)
	}
	if st.features == 0 {
		return rejected("the upload has no features", nil, false), nil
	}
	srid, msg, err := crsSRID(ctx, sp, dec.CRS())
	if err != nil {
		return Result{}, err
	}
	if msg != "" {
		return rejected(msg, nil, false), nil
	}
	if srid != 4326 {
		st.unplace()
	}
	if err := checkStaged(ctx, sp, srid, &st.problems, &st.warnings); err != nil {
		return Result{}, err
	}

	var valid int
	if err := sp.QueryRow(ctx, "SELECT count(*) FROM stage WHERE problem IS NULL").Scan(&valid); err != nil {
		return Result{}, err
	}
	bad := st.features - valid // rejected in Go, or in PostGIS after staging
	if valid == 0 || (bad > 0 && !u.Partial) {
		msg := fmt.Sprintf("%d of %d features have problems; nothing was stored. Fix them and upload again, or store the valid ones with a partial upload (?partial=true, or import --partial)", bad, st.features)
		if valid == 0 && u.Partial {
			msg = fmt.Sprintf("none of the %d features can be stored", st.features)
		}
		return rejected(msg, st, false), nil
	}

	receipt, err := storeClearances(ctx, sp, id, st.placed, &st.warnings)
	if err != nil {
		return Result{}, err
	}
	receipt.Status = "accepted"
	receipt.Warnings, receipt.MoreWarnings = st.warnings.sorted()
	receipt.Problems, receipt.MoreProblems = st.problems.sorted()
	return Result{Outcome: Created, Receipt: receipt}, sp.Commit(ctx)
}

func rejected(msg string, st *stager, syntax bool) Result {
	r := Receipt{Status: "rejected", Error: msg, Districts: []DistrictAcres{}, Warnings: []Problem{}}
	if st != nil {
		r.Problems, r.MoreProblems = st.problems.sorted()
		r.Warnings, r.MoreWarnings = st.warnings.sorted()
	}
	return Result{Outcome: Rejected, Receipt: r, SyntaxError: syntax}
}

// problemList keeps the first maxListed problems and counts the rest.
type problemList struct {
	items []Problem
	total int
}

func (l *problemList) add(ps ...Problem) {
	for _, p := range ps {
		l.total++
		if len(l.items) < maxListed {
			l.items = append(l.items, p)
		}
	}
}

func (l *problemList) sorted() ([]Problem, int) {
	sort.SliceStable(l.items, func(i, j int) bool { return l.items[i].Index < l.items[j].Index })
	if l.items == nil {
		return []Problem{}, 0
	}
	return l.items, l.total - len(l.items)
}

// progressReader reports how much has been read.
type progressReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.report(p.n)
	return n, err
}
