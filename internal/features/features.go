// Package features serves clearances and districts as GeoJSON features for
// OGC API - Features: filtered by bounding box, date and crop, paged.
package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/acreage"
)

// Query selects features.
type Query struct {
	BBox     *[4]float64 // min lon, min lat, max lon, max lat (WGS84)
	From, To time.Time   // dates, inclusive; zero is open
	Crop     string
	Limit    int
	Offset   int
}

// Page is one page of features.
type Page struct {
	Features []json.RawMessage
	Matched  int
}

// ErrNotFound means no feature has that id.
var ErrNotFound = errors.New("no such feature")

// clearanceFeature renders a counted clearance as a GeoJSON Feature. The
// properties the team sent that clearmap does not interpret are returned
// as they came, under source_properties.
const clearanceFeature = `json_build_object(
	'type', 'Feature', 'id', c.id,
	'geometry', ST_AsGeoJSON(c.geom, 7)::json,
	'properties', json_build_object(
		'crop', c.crop, 'cleared_on', c.cleared_on, 'field_id', c.field_id,
		'acres', round((c.area_m2 / 4046.8564224)::numeric, 4), 'team', c.team,
		'method', c.method, 'notes', c.notes,
		'reported_area', c.reported_area, 'reported_unit', c.reported_unit,
		'upload_id', c.upload_id, 'duplicate_of', c.duplicate_of,
		'source_properties', c.props))`

const clearanceFilter = `NOT c.retracted
	AND ($1::float8 IS NULL OR c.geom && ST_MakeEnvelope($1, $2, $3, $4, 4326))
	AND c.cleared_on BETWEEN $5::date AND $6::date AND ($7 = '' OR c.crop = $7)`

func (q Query) args() []any {
	var b [4]*float64
	if q.BBox != nil {
		for i := range b {
			b[i] = &q.BBox[i]
		}
	}
	from, to := "2000-01-01", "9999-12-31"
	if !q.From.IsZero() {
		from = q.From.Format(time.DateOnly)
	}
	if !q.To.IsZero() {
		to = q.To.Format(time.DateOnly)
	}
	return []any{b[0], b[1], b[2], b[3], from, to, q.Crop}
}

// Clearances returns a page of counted clearances, in id order.
func Clearances(ctx context.Context, db *pgxpool.Pool, q Query) (Page, error) {
	var p Page
	args := q.args()
	if err := db.QueryRow(ctx, `SELECT count(*) FROM clearances c WHERE `+clearanceFilter, args...).Scan(&p.Matched); err != nil {
		return p, err
	}
	rows, err := db.Query(ctx, `SELECT `+clearanceFeature+` FROM clearances c WHERE `+clearanceFilter+`
		ORDER BY c.id LIMIT $8 OFFSET $9`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return p, err
	}
	p.Features, err = pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
	return p, err
}

// Clearance returns one counted clearance.
func Clearance(ctx context.Context, db *pgxpool.Pool, id string) (json.RawMessage, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, ErrNotFound
	}
	var f json.RawMessage
	err = db.QueryRow(ctx, `SELECT `+clearanceFeature+` FROM clearances c WHERE c.id = $1 AND NOT c.retracted`, n).Scan(&f)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return f, err
}

// Districts returns a page of districts, in code order, with their figures
// under the date and crop filters.
func Districts(ctx context.Context, db *pgxpool.Pool, q Query) (Page, error) {
	figures, err := acreage.Districts(ctx, db, acreage.Filter{Crop: q.Crop, From: q.From, To: q.To})
	if err != nil {
		return Page{}, err
	}
	props := map[string]acreage.District{}
	for _, d := range figures {
		props[d.Code] = d
	}
	args := q.args()[:4]
	rows, err := db.Query(ctx, `SELECT code, ST_AsGeoJSON(geom, 6)::json FROM districts
		WHERE $1::float8 IS NULL OR geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) ORDER BY code`, args...)
	if err != nil {
		return Page{}, err
	}
	type row struct {
		code string
		geom json.RawMessage
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var v row
		return v, r.Scan(&v.code, &v.geom)
	})
	if err != nil {
		return Page{}, err
	}
	p := Page{Matched: len(all), Features: []json.RawMessage{}}
	for i := q.Offset; i < len(all) && i < q.Offset+q.Limit; i++ {
		f, err := districtFeature(props[all[i].code], all[i].geom)
		if err != nil {
			return Page{}, err
		}
		p.Features = append(p.Features, f)
	}
	return p, nil
}

// District returns one district with its figures.
func District(ctx context.Context, db *pgxpool.Pool, code string) (json.RawMessage, error) {
	d, err := acreage.OneDistrict(ctx, db, acreage.Filter{}, code)
	if errors.Is(err, acreage.ErrUnknown) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	geom := d.Geometry
	d.Geometry = nil
	return districtFeature(d, geom)
}

func districtFeature(d acreage.District, geom json.RawMessage) (json.RawMessage, error) {
	return json.Marshal(map[string]any{"type": "Feature", "id": d.Code, "geometry": geom, "properties": d})
}

// Dates returns the first and last day a counted field was cleared on;
// nil when there are none.
func Dates(ctx context.Context, db *pgxpool.Pool) (first, last *time.Time, err error) {
	// acreage_daily holds a row per district, crop and day with counted
	// fields in it: a few thousand rows against the clearances' million.
	err = db.QueryRow(ctx, "SELECT min(day), max(day) FROM acreage_daily").Scan(&first, &last)
	return first, last, err
}

// ParseBBox reads bbox=minLon,minLat,maxLon,maxLat (WGS84).
func ParseBBox(s string) (*[4]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, fmt.Errorf("bbox=%q: want four numbers, min longitude, min latitude, max longitude, max latitude", s)
	}
	var b [4]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("bbox=%q: %q is not a number", s, p)
		}
		b[i] = v
	}
	if b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[1] > b[3] {
		return nil, fmt.Errorf("bbox=%q: not a longitude/latitude box with min before max", s)
	}
	if b[0] > b[2] {
		return nil, fmt.Errorf("bbox=%q: boxes across the antimeridian are not supported", s)
	}
	return &b, nil
}

// ParseDatetime reads datetime= as a date, a timestamp, or an interval of
// them with ".." for an open end; clearances have dates, so times are cut
// to their dates.
func ParseDatetime(s string) (from, to time.Time, err error) {
	one := func(v string) (time.Time, error) {
		if v == ".." || v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			t, err = time.Parse(time.RFC3339, v)
		}
		if err != nil || !acreage.ValidDate(t) {
			return time.Time{}, fmt.Errorf("datetime=%q: want a date (years 1 to 9999), an RFC 3339 time, or an interval of them (start/end, .. for open)", s)
		}
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	}
	start, end, interval := strings.Cut(s, "/")
	if from, err = one(start); err != nil {
		return
	}
	if !interval {
		if from.IsZero() {
			return from, to, fmt.Errorf("datetime=%q: want a date, an RFC 3339 time, or an interval of them", s)
		}
		return from, from, nil
	}
	if to, err = one(end); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		err = fmt.Errorf("datetime=%q: the interval ends before it starts", s)
	}
	return
}
