package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/ewkb"

	"clearmap/internal/acreage"
	"clearmap/internal/boundaries"
	"clearmap/internal/geoarea"
)

// The staging table holds the features that passed the Go-side rules while
// PostGIS checks them; problem is set on those it rejects. district is where
// Go placed the field (boundaries.Pieces), if it could.
const createStageSQL = `
	CREATE TEMP TABLE stage (
		idx int PRIMARY KEY, field_id text, crop text, cleared_on date,
		team text, method text, notes text,
		reported_area float8, reported_unit text, reported_area_m2 float8,
		props jsonb, geom geometry, geom_pointer text, district text,
		area_m2 float8, problem text
	) ON COMMIT DROP`

var stageColumns = []string{"idx", "field_id", "crop", "cleared_on", "team", "method", "notes",
	"reported_area", "reported_unit", "reported_area_m2", "props", "geom", "geom_pointer", "district", "area_m2"}

func createStage(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, createStageSQL)
	return err
}

// stager is the COPY source that decodes features, applies the Go-side
// rules, places each in a district if it can, and hands on the ones that
// pass.
//
// The work is spread over the cores: the decoder runs on a goroutine of its
// own and hands on batches of features; workers read each feature's geometry,
// place it and encode it for the COPY; Next, on the caller's goroutine,
// applies the rules that need the features in order (a field_id used twice)
// and yields the rows. A few batches are in flight at a time, so memory stays
// bounded by them, not by the body.
type stager struct {
	dec      *Decoder
	defaults Defaults
	today    time.Time
	seenIDs  map[string]int
	pieces   *boundaries.Pieces
	features int
	problems problemList
	warnings problemList
	// placed lists every staged feature with the district Go placed it in,
	// or "": 20 bytes a feature, the one thing kept per feature.
	placed acreage.Placement
	row    []any
	err    error

	batches chan *batch // in body order
	current *batch
	next    int // in current
	stop    chan struct{}
	wg      sync.WaitGroup
}

// batch is a run of decoded features, prepared by a worker.
type batch struct {
	features []*RawFeature
	prepared []prepared
	end      error         // what the decoder returned after features: io.EOF or a *SyntaxError
	ready    chan struct{} // closed once prepared is filled
}

// prepared is a feature's geometry as the stage takes it.
type prepared struct {
	ewkb     []byte
	district string  // where Pieces placed it, or ""
	area     float64 // geodesic, m²
}

// A batch ends at batchSize features, or once its features' JSON reaches
// batchBytes, so the few batches in flight hold a bounded amount of memory
// however large the features.
const (
	batchSize  = 128
	batchBytes = 4 << 20
)

// start sets the decoder and the workers going; close stops them.
func (s *stager) start() {
	workers := runtime.GOMAXPROCS(0)
	s.batches = make(chan *batch, 2*workers)
	s.stop = make(chan struct{})
	jobs := make(chan *batch, 2*workers)
	s.wg.Add(1 + workers)
	go s.decode(jobs)
	for range workers {
		go s.prepare(jobs)
	}
}

func (s *stager) close() {
	close(s.stop)
	s.wg.Wait()
}

func (s *stager) decode(jobs chan<- *batch) {
	defer s.wg.Done()
	defer close(jobs)
	defer close(s.batches)
	for {
		b := &batch{ready: make(chan struct{})}
		size := 0
		for b.end == nil && len(b.features) < batchSize && size < batchBytes {
			f, err := s.dec.Next()
			if err != nil {
				b.end = err
				break
			}
			b.features = append(b.features, f)
			size += len(f.Geometry) + len(f.Properties)
		}
		select {
		case s.batches <- b:
		case <-s.stop:
			return
		}
		select {
		case jobs <- b:
		case <-s.stop:
			return
		}
		if b.end != nil {
			return
		}
	}
}

func (s *stager) prepare(jobs <-chan *batch) {
	defer s.wg.Done()
	for b := range jobs {
		b.prepared = make([]prepared, len(b.features))
		for i, f := range b.features {
			g := f.geometry()
			if g.problem != "" {
				continue
			}
			// Tagged as longitude/latitude; a crs member, known only once
			// the whole body is read, is honoured after the COPY.
			b.prepared[i].ewkb = ewkb.MustMarshal(g.shape, 4326)
			b.prepared[i].district, _ = s.pieces.Within(g.shape)
			b.prepared[i].area = geoarea.MultiPolygon(g.shape)
		}
		close(b.ready)
	}
}

func (s *stager) Next() bool {
	for {
		if s.current == nil || s.next == len(s.current.features) {
			if s.current != nil && s.current.end != nil {
				if !errors.Is(s.current.end, io.EOF) {
					s.err = s.current.end
				}
				return false
			}
			var ok bool
			select {
			case s.current, ok = <-s.batches:
			case <-s.stop:
			}
			if !ok { // stopped, or the decoder ended early: no batch will come
				return false
			}
			<-s.current.ready
			s.next = 0
			continue
		}
		f, p := s.current.features[s.next], s.current.prepared[s.next]
		s.next++
		s.features++
		c, problems, warnings := checkFeature(f, s.defaults, s.today, s.seenIDs)
		s.problems.add(problems...)
		s.warnings.add(warnings...)
		if c == nil {
			continue
		}
		var placedIn *string
		if p.district != "" {
			placedIn = &p.district
		}
		s.placed.Indexes = append(s.placed.Indexes, int32(c.index))
		s.placed.Districts = append(s.placed.Districts, p.district)
		s.row = []any{c.index, c.fieldID, c.crop, c.clearedOn, c.team, c.method, c.notes,
			c.reportedArea, c.reportedUnit, c.reportedAreaM2, c.props, p.ewkb, c.geomPointer, placedIn, p.area}
		return true
	}
}

func (s *stager) Values() ([]any, error) { return s.row, nil }
func (s *stager) Err() error             { return s.err }

// unplace forgets where the fields were placed: they were placed as
// longitude/latitude, and the file turned out to be in another system.
func (s *stager) unplace() {
	clear(s.placed.Districts)
}

// crsCode reads an EPSG code from the names a legacy crs member uses:
// "EPSG:32642", "urn:ogc:def:crs:EPSG::32642", ".../EPSG/0/32642".
var crsCode = regexp.MustCompile(`(?i)EPSG(?::+|/0/)(\d{4,6})$`)

// crsSRID returns the SRID a legacy crs member names, checked against
// PostGIS's spatial_ref_sys; 4326 without one. msg explains a crs that cannot
// be honoured.
func crsSRID(ctx context.Context, tx pgx.Tx, raw json.RawMessage) (srid int, msg string, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 4326, "", nil
	}
	var crs struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	}
	if json.Unmarshal(raw, &crs) != nil || crs.Type != "name" {
		return 0, `the crs member is not understood: give {"type": "name", "properties": {"name": "EPSG:32642"}}, or leave it out for WGS84 longitude/latitude`, nil
	}
	name := crs.Properties.Name
	switch name {
	case "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "CRS84":
		return 4326, "", nil
	}
	m := crsCode.FindStringSubmatch(name)
	if m == nil {
		return 0, fmt.Sprintf("crs %q is not an EPSG code: clearmap accepts EPSG codes (e.g. EPSG:32642) or WGS84 longitude/latitude with no crs", name), nil
	}
	srid, _ = strconv.Atoi(m[1])
	var known bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = $1)", srid).Scan(&known); err != nil {
		return 0, "", err
	}
	if !known {
		return 0, fmt.Sprintf("crs %q: EPSG:%d is not a coordinate system PostGIS knows", name, srid), nil
	}
	return srid, "", nil
}

// checkStaged runs the PostGIS rules over the staged features, adding each
// rejection to problems and marking it in the stage.
func checkStaged(ctx context.Context, tx pgx.Tx, srid int, problems, warnings *problemList) error {
	if srid != 4326 {
		// Go placed and measured the fields as longitude/latitude.
		if _, err := tx.Exec(ctx, `UPDATE stage SET district = NULL,
			geom = ST_Transform(ST_SetSRID(geom, $1::int), 4326)`, srid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE stage SET area_m2 = ST_Area(geom::geography)`); err != nil {
			return err
		}
	}

	// Validity first: nothing else may touch an invalid geometry (GEOS
	// would fail the whole statement).
	rows, err := tx.Query(ctx, `
		UPDATE stage s SET problem = v.reason FROM (
			SELECT idx, (ST_IsValidDetail(geom)).* FROM stage) v
		WHERE v.idx = s.idx AND NOT v.valid
		RETURNING s.idx, coalesce(s.field_id, ''), s.geom_pointer, v.reason,
		          coalesce(ST_X(v.location), ST_X(ST_StartPoint(ST_ExteriorRing(ST_GeometryN(s.geom, 1))))),
		          coalesce(ST_Y(v.location), ST_Y(ST_StartPoint(ST_ExteriorRing(ST_GeometryN(s.geom, 1)))))`)
	if err != nil {
		return err
	}
	err = forEach(rows, func(idx int, fieldID, pointer string, reason string, x, y float64) {
		problems.add(Problem{idx, fieldID, pointer, fmt.Sprintf("%s near %.5f %.5f", plainReason(reason), x, y)})
	})
	if err != nil {
		return err
	}

	// Then fields that touch no district.
	rows, err = tx.Query(ctx, `
		UPDATE stage s SET problem = 'outside' WHERE problem IS NULL AND district IS NULL
		  AND NOT EXISTS (SELECT 1 FROM district_pieces p WHERE ST_Intersects(p.geom, s.geom))
		RETURNING idx, coalesce(field_id, ''), geom_pointer,
		  CASE WHEN ST_Intersects(ST_FlipCoordinates(geom), ST_MakeEnvelope(60.9, 23.6, 77.8, 37.1, 4326)) THEN 'swapped'
		       WHEN ST_XMin(geom) < -180 OR ST_XMax(geom) > 180 OR ST_YMin(geom) < -90 OR ST_YMax(geom) > 90 THEN 'projected'
		       ELSE 'outside' END,
		  ST_X(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)), ST_Y(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1))`)
	if err != nil {
		return err
	}
	err = forEach(rows, func(idx int, fieldID, pointer string, kind string, x, y float64) {
		var msg string
		switch kind {
		case "swapped":
			msg = fmt.Sprintf("coordinates look like lat,lon (first position %.5f %.5f): GeoJSON is lon,lat — swap them", x, y)
		case "projected":
			msg = fmt.Sprintf("coordinates are not longitude/latitude (first position %.1f %.1f): GeoJSON is WGS84 lon,lat; a projected file needs its crs member", x, y)
		default:
			msg = fmt.Sprintf("the field lies outside every district of Pakistan (first position %.5f %.5f)", x, y)
		}
		problems.add(Problem{idx, fieldID, pointer, msg})
	})
	if err != nil {
		return err
	}

	// Then area (measured in Go, geoarea) and the part inside districts:
	// only for fields of a size to warn about or reject, and for those Go
	// could not place, which may lie partly outside every district. Most
	// fields lie within one piece of a district, which spares the
	// intersection; the pieces do not overlap, so the parts' areas add up.
	rows, err = tx.Query(ctx, `
		WITH measured AS MATERIALIZED ( -- once a row, not once for each use below
			SELECT idx, area_m2 AS area,
			       CASE WHEN s.district IS NOT NULL OR EXISTS (SELECT 1 FROM district_pieces p WHERE ST_Within(s.geom, p.geom))
			            THEN area_m2
			            ELSE (SELECT sum(ST_Area(ST_Intersection(s.geom, p.geom)::geography))
			                  FROM district_pieces p WHERE ST_Intersects(p.geom, s.geom)) END AS inside
			FROM stage s WHERE problem IS NULL AND (district IS NULL OR area_m2 > $1 OR area_m2 < $2))
		UPDATE stage s SET problem = CASE WHEN m.area > $1 THEN 'too large' END
		FROM measured m WHERE m.idx = s.idx
		  AND (m.area > $1 OR m.area < $2 OR m.inside < m.area * 0.999)
		RETURNING s.idx, coalesce(s.field_id, ''), s.geom_pointer, s.problem IS NOT NULL, m.area, m.inside`,
		maxFieldAcres*acreM2, tinyFieldAcres*acreM2)
	if err != nil {
		return err
	}
	return forEach(rows, func(idx int, fieldID, pointer string, tooLarge bool, area, inside float64) {
		acres := area / acreM2
		switch {
		case tooLarge:
			problems.add(Problem{idx, fieldID, pointer, fmt.Sprintf("the field is %.0f acres; more than %d acres is implausible for one field", acres, maxFieldAcres)})
		case acres < tinyFieldAcres:
			warnings.add(Problem{idx, fieldID, pointer, fmt.Sprintf("the field is only %.4f acres (%.1f m²): is it complete?", acres, area)})
		default:
			warnings.add(Problem{idx, fieldID, pointer, fmt.Sprintf("%.2f of the field's %.2f acres lie outside every district and are not counted", (area-inside)/acreM2, acres)})
		}
	})
}

// forEach scans rows of (index, field_id, pointer, T, float64, float64):
// a feature, what is wrong with it, and two numbers saying where or how much.
func forEach[T any](rows pgx.Rows, fn func(int, string, string, T, float64, float64)) error {
	defer rows.Close()
	for rows.Next() {
		var idx int
		var fieldID, pointer string
		var v T
		var a, b float64
		if err := rows.Scan(&idx, &fieldID, &pointer, &v, &a, &b); err != nil {
			return err
		}
		fn(idx, fieldID, pointer, v, a, b)
	}
	return rows.Err()
}

// plainReason words PostGIS's validity reasons for people in the field.
func plainReason(reason string) string {
	switch reason {
	case "Self-intersection":
		return "the outline crosses itself"
	case "Ring Self-intersection":
		return "a ring touches itself"
	case "Hole lies outside shell":
		return "a hole lies outside its polygon"
	case "Nested holes":
		return "a hole lies inside another hole"
	case "Interior is disconnected":
		return "holes cut the polygon in two"
	case "Nested shells":
		return "one polygon lies inside another of the same MultiPolygon"
	case "Duplicate Rings":
		return "a ring is repeated"
	case "Too few points":
		return "a ring has too few distinct positions"
	}
	return "invalid geometry (" + reason + ")"
}
