// Package features serves clearances and districts as GeoJSON features for
// OGC API - Features: filtered by bounding box, date and crop, paged by
// key, and streamed: a page is written as its rows arrive from PostgreSQL,
// never built whole in memory.
package features

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/acreage"
)

// Query selects a page of features.
type Query struct {
	// Boxes are CRS84 boxes (min lon, min lat, max lon, max lat); a
	// feature whose bounding box meets any of them matches. None is no
	// spatial filter.
	Boxes    [][4]float64
	From, To time.Time // dates, inclusive; zero is open
	Crop     string
	Limit    int
	// After is the key of the last feature of the page before (see
	// Cursor); empty for the first page.
	After string
}

// Page is what a page held, and whether more follow.
type Page struct {
	Returned int
	// Next is the key the next page continues after; empty on the last
	// page.
	Next string
	// Matched counts the features that match the query, on every page,
	// when Counted: it is counted only where that is cheap.
	Matched int64
	Counted bool
}

// Sink receives a page as it is read. Begin runs once, when the database
// has answered (with numberMatched known), before the first feature is
// written to W: the place to send the status and headers. Features are
// written to W one by one, separated by commas.
type Sink struct {
	W     *bufio.Writer
	Begin func(Page) error
	begun bool
}

// Begun says whether Begin has run: after it, an error can no longer be
// answered with a status, only by cutting the response short.
func (s *Sink) Begun() bool { return s.begun }

// Start runs Begin, once: the page calls it when the database has
// answered, before the first feature.
func (s *Sink) Start(p Page) error {
	if s.begun {
		return nil
	}
	s.begun = true
	return s.Begin(p)
}

// ErrNotFound means no feature has that id.
var ErrNotFound = errors.New("no such feature")

// fetchRows is how many rows a page reads from its cursor at a time. Each
// FETCH is its own statement, so statement_timeout bounds the database's
// work on one batch, never the time a slow client takes to read a page.
const fetchRows = 500

// page runs query (which must order by key and read at most q.Limit+1
// rows) through a cursor and writes each row with write, which returns the
// row's key. count, when not nil, counts the matching features first, in
// the same snapshot.
func page(ctx context.Context, db *pgxpool.Pool, s *Sink, q Query, count func(pgx.Tx) (int64, error),
	query string, args []any, write func(*bufio.Writer, pgx.Rows) (string, error)) (Page, error) {
	var p Page
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return p, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if count != nil {
		if p.Matched, err = count(tx); err != nil {
			return p, err
		}
		p.Counted = true
	}
	// The whole page is read, so plan for all of its rows, not the first
	// tenth a cursor is planned for by default.
	if _, err := tx.Exec(ctx, "SET LOCAL cursor_tuple_fraction = 1"); err != nil {
		return p, err
	}
	if _, err := tx.Exec(ctx, "DECLARE page NO SCROLL CURSOR FOR "+query, args...); err != nil {
		return p, err
	}
	var last string
	for {
		// Described each time: the cursor's columns differ between the
		// collections, and a statement prepared on one would misread the
		// other.
		rows, err := tx.Query(ctx, "FETCH "+strconv.Itoa(fetchRows)+" FROM page", pgx.QueryExecModeDescribeExec)
		if err != nil {
			return p, err
		}
		n := 0
		for rows.Next() {
			n++
			if p.Returned == q.Limit { // the row after the page: there is a next one
				p.Next = last
				continue
			}
			if err := s.Start(p); err != nil {
				rows.Close()
				return p, err
			}
			if p.Returned > 0 {
				s.W.WriteByte(',')
			}
			if last, err = write(s.W, rows); err != nil {
				rows.Close()
				return p, err
			}
			p.Returned++
		}
		if err := rows.Err(); err != nil {
			return p, err
		}
		if n < fetchRows {
			break
		}
	}
	return p, s.Start(p)
}

// where builds the filter of a query, numbering its arguments after the
// ones already in args.
func (q Query) where(args []any, geom string, dated bool) (string, []any) {
	var cond []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(q.Boxes) > 0 {
		var boxes []string
		for _, b := range q.Boxes {
			boxes = append(boxes, fmt.Sprintf("%s && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", geom, arg(b[0]), arg(b[1]), arg(b[2]), arg(b[3])))
		}
		cond = append(cond, "("+strings.Join(boxes, " OR ")+")")
	}
	if dated {
		if !q.From.IsZero() {
			cond = append(cond, "c.cleared_on >= "+arg(q.From.Format(time.DateOnly))+"::date")
		}
		if !q.To.IsZero() {
			cond = append(cond, "c.cleared_on <= "+arg(q.To.Format(time.DateOnly))+"::date")
		}
		if q.Crop != "" {
			cond = append(cond, "c.crop = "+arg(q.Crop))
		}
	}
	if len(cond) == 0 {
		return "true", args
	}
	return strings.Join(cond, " AND "), args
}

// clearanceColumns are what writeClearance reads, in its order.
const clearanceColumns = `c.id, c.crop, c.cleared_on, c.field_id, c.area_m2, c.team, c.method, c.notes,
	c.reported_area, c.reported_unit, c.upload_id, c.duplicate_of, c.props::text, ST_AsGeoJSON(c.geom, 7)`

// Clearances writes a page of counted clearances, in id order, to s.
// numberMatched is counted from clearance_days when no box filters the
// page; with a box it would take a scan, so it is left out.
func Clearances(ctx context.Context, db *pgxpool.Pool, q Query, s *Sink) (Page, error) {
	after := int64(0)
	if q.After != "" {
		var err error
		if after, err = strconv.ParseInt(q.After, 10, 64); err != nil {
			return Page{}, ErrCursor
		}
	}
	where, args := q.where([]any{after}, "c.geom", true)
	args = append(args, q.Limit+1)
	query := `SELECT ` + clearanceColumns + ` FROM clearances c
		WHERE NOT c.retracted AND c.id > $1 AND ` + where + `
		ORDER BY c.id LIMIT $` + strconv.Itoa(len(args))
	var count func(pgx.Tx) (int64, error)
	if len(q.Boxes) == 0 {
		count = func(tx pgx.Tx) (int64, error) { return countClearances(ctx, tx, q) }
	}
	var buf []byte
	return page(ctx, db, s, q, count, query, args, func(w *bufio.Writer, rows pgx.Rows) (string, error) {
		var err error
		var id int64
		buf, id, err = appendClearance(buf[:0], w, rows)
		return strconv.FormatInt(id, 10), err
	})
}

// countClearances sums the counted clearances of the crop and dates.
func countClearances(ctx context.Context, tx pgx.Tx, q Query) (int64, error) {
	from, to := "0001-01-01", "9999-12-31"
	if !q.From.IsZero() {
		from = q.From.Format(time.DateOnly)
	}
	if !q.To.IsZero() {
		to = q.To.Format(time.DateOnly)
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT coalesce(sum(features), 0) FROM clearance_days
		WHERE day BETWEEN $1::date AND $2::date AND ($3 = '' OR crop = $3)`, from, to, q.Crop).Scan(&n)
	return n, err
}

// appendClearance writes the row's clearance to w as a GeoJSON Feature,
// using buf for its properties, and returns buf and the clearance's id.
// The geometry goes from the row to w without a copy.
func appendClearance(buf []byte, w *bufio.Writer, rows pgx.Rows) ([]byte, int64, error) {
	var (
		id, uploadID                 int64
		crop                         string
		clearedOn                    time.Time
		area                         float64
		fieldID, team, method, notes pgtype.Text
		reportedUnit                 pgtype.Text
		reportedArea                 pgtype.Float8
		duplicateOf                  pgtype.Int8
	)
	if err := rows.Scan(&id, &crop, &clearedOn, &fieldID, &area, &team, &method, &notes,
		&reportedArea, &reportedUnit, &uploadID, &duplicateOf, nil, nil); err != nil {
		return buf, 0, err
	}
	raw := rows.RawValues()
	props, geom := raw[12], raw[13]
	buf = append(buf, `{"type":"Feature","id":`...)
	buf = strconv.AppendInt(buf, id, 10)
	buf = append(buf, `,"geometry":`...)
	w.Write(buf)
	w.Write(geom)
	buf = append(buf[:0], `,"properties":{`...)
	buf = strconv.AppendInt(member(buf, "clearance_id", true), id, 10)
	buf = appendString(member(buf, "crop", false), crop)
	buf = member(buf, "cleared_on", false)
	buf = clearedOn.AppendFormat(append(buf, '"'), time.DateOnly)
	buf = append(buf, '"')
	buf = appendText(member(buf, "field_id", false), fieldID)
	buf = appendRound4(member(buf, "acres", false), area/acreage.AcreM2)
	buf = appendText(member(buf, "team", false), team)
	buf = appendText(member(buf, "method", false), method)
	buf = appendText(member(buf, "notes", false), notes)
	buf = member(buf, "reported_area", false)
	if reportedArea.Valid {
		buf = appendReal(buf, reportedArea.Float64)
	} else {
		buf = append(buf, "null"...)
	}
	buf = appendText(member(buf, "reported_unit", false), reportedUnit)
	buf = strconv.AppendInt(member(buf, "upload_id", false), uploadID, 10)
	buf = member(buf, "duplicate_of", false)
	if duplicateOf.Valid {
		buf = strconv.AppendInt(buf, duplicateOf.Int64, 10)
	} else {
		buf = append(buf, "null"...)
	}
	buf = member(buf, "source_properties", false)
	w.Write(buf)
	w.Write(props)
	_, err := w.WriteString("}}")
	return buf, id, err
}

func appendText(b []byte, t pgtype.Text) []byte {
	if !t.Valid {
		return append(b, "null"...)
	}
	return appendString(b, t.String)
}

// Clearance returns one counted clearance as a GeoJSON Feature.
func Clearance(ctx context.Context, db *pgxpool.Pool, id string) ([]byte, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != id {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `SELECT `+clearanceColumns+` FROM clearances c WHERE c.id = $1 AND NOT c.retracted`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if _, _, err := appendClearance(nil, w, rows); err != nil {
		return nil, err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Districts writes a page of districts, in code order, with their figures
// under the date and crop filters, to s.
func Districts(ctx context.Context, db *pgxpool.Pool, q Query, s *Sink) (Page, error) {
	figures, err := acreage.Districts(ctx, db, acreage.Filter{Crop: q.Crop, From: q.From, To: q.To})
	if err != nil {
		return Page{}, err
	}
	props := make(map[string]acreage.District, len(figures))
	for _, d := range figures {
		props[d.Code] = d
	}
	where, args := q.where([]any{q.After}, "d.geom", false)
	args = append(args, q.Limit+1)
	query := `SELECT d.code, ST_AsGeoJSON(d.geom, 6) FROM districts d
		WHERE d.code > $1 AND ` + where + ` ORDER BY d.code LIMIT $` + strconv.Itoa(len(args))
	countWhere, countArgs := q.where(nil, "d.geom", false)
	count := func(tx pgx.Tx) (int64, error) {
		var n int64
		err := tx.QueryRow(ctx, "SELECT count(*) FROM districts d WHERE "+countWhere, countArgs...).Scan(&n)
		return n, err
	}
	var buf []byte
	return page(ctx, db, s, q, count, query, args, func(w *bufio.Writer, rows pgx.Rows) (string, error) {
		var code string
		if err := rows.Scan(&code, nil); err != nil {
			return "", err
		}
		buf = appendDistrict(buf[:0], w, props[code], rows.RawValues()[1])
		_, err := w.Write(buf)
		return code, err
	})
}

// appendDistrict writes d as a GeoJSON Feature: the start to w, with its
// geometry, and the rest into buf, which it returns.
func appendDistrict(buf []byte, w *bufio.Writer, d acreage.District, geom []byte) []byte {
	buf = append(buf, `{"type":"Feature","id":`...)
	buf = appendString(buf, d.Code)
	buf = append(buf, `,"geometry":`...)
	w.Write(buf)
	w.Write(geom)
	buf = append(buf[:0], `,"properties":{`...)
	buf = appendString(member(buf, "code", true), d.Code)
	buf = appendString(member(buf, "name", false), d.Name)
	buf = appendString(member(buf, "province", false), d.Province)
	buf = appendReal(member(buf, "acres", false), d.Acres)
	buf = appendReal(member(buf, "gross_acres", false), d.GrossAcres)
	buf = appendReal(member(buf, "acres_poppy", false), d.AcresPoppy)
	buf = appendReal(member(buf, "acres_cannabis", false), d.AcresCannabis)
	buf = member(buf, "reported_acres", false)
	if d.ReportedAcres != nil {
		buf = appendReal(buf, *d.ReportedAcres)
	} else {
		buf = append(buf, "null"...)
	}
	buf = strconv.AppendInt(member(buf, "fields", false), int64(d.Fields), 10)
	buf = strconv.AppendInt(member(buf, "mapped_features", false), int64(d.MappedFeatures), 10)
	buf = member(buf, "last_cleared_on", false)
	if d.LastClearedOn != nil {
		buf = appendString(buf, *d.LastClearedOn)
	} else {
		buf = append(buf, "null"...)
	}
	return append(buf, "}}"...)
}

// District returns one district with its unfiltered figures as a GeoJSON
// Feature.
func District(ctx context.Context, db *pgxpool.Pool, code string) ([]byte, error) {
	d, err := acreage.OneDistrict(ctx, db, acreage.Filter{}, code)
	if errors.Is(err, acreage.ErrUnknown) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	w.Write(appendDistrict(nil, w, d, d.Geometry))
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Extent is where and when a collection's features lie.
type Extent struct {
	// BBox is min lon, min lat, max lon, max lat; nil when there are no
	// features.
	BBox *[4]float64
	// First and Last are the first and last days a counted field was
	// cleared on; nil when there are none.
	First, Last *time.Time
}

// ClearanceExtent is the bounding box and the days of the counted
// clearances, from clearance_days: a few hundred rows, whatever the
// number of clearances.
func ClearanceExtent(ctx context.Context, db *pgxpool.Pool) (Extent, error) {
	var e Extent
	var box [4]pgtype.Float8
	err := db.QueryRow(ctx, `SELECT min(min_lon), min(min_lat), max(max_lon), max(max_lat), min(day), max(day)
		FROM clearance_days WHERE features > 0`).Scan(&box[0], &box[1], &box[2], &box[3], &e.First, &e.Last)
	if err == nil && box[0].Valid {
		e.BBox = &[4]float64{box[0].Float64, box[1].Float64, box[2].Float64, box[3].Float64}
	}
	return e, err
}

// DistrictExtent is the bounding box of the districts, and the days of the
// counted clearances (the districts' figures filter by them).
func DistrictExtent(ctx context.Context, db *pgxpool.Pool) (Extent, error) {
	e, err := ClearanceExtent(ctx, db)
	if err != nil {
		return e, err
	}
	e.BBox = nil
	var box [4]pgtype.Float8
	err = db.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
		FROM (SELECT ST_Extent(geom) AS e FROM districts) s`).Scan(&box[0], &box[1], &box[2], &box[3])
	if err == nil && box[0].Valid {
		e.BBox = &[4]float64{box[0].Float64, box[1].Float64, box[2].Float64, box[3].Float64}
	}
	return e, err
}
