package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/ingest"
	"clearmap/internal/testdb"
)

const acre = 4046.8564224

// fixture is a database with the shipped boundaries and an ingest service
// whose clock says 2026-11-27.
type fixture struct {
	pool *pgxpool.Pool
	svc  *ingest.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.WithBoundaries(t)
	now := func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }
	return &fixture{pool: pool, svc: &ingest.Service{DB: pool, Now: now}}
}

func (f *fixture) store(t *testing.T, body string, change ...func(*ingest.Upload)) ingest.Result {
	t.Helper()
	// Read in pieces, as from the network (a strings.Reader would hand
	// the spool the whole body in one write).
	u := ingest.Upload{Body: struct{ io.Reader }{strings.NewReader(body)}, ContentType: "application/geo+json", Uploader: "test"}
	for _, c := range change {
		c(&u)
	}
	res, err := f.svc.Store(context.Background(), u)
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	return res
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) raw(t *testing.T, id int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ingest.WriteRaw(context.Background(), f.pool, id, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// squareFeature is a lon/lat square field with its south-west corner at lon, lat.
func squareFeature(fieldID string, lon, lat, size float64) string {
	return fmt.Sprintf(`{"type":"Feature","properties":{"field_id":%q,"crop":"poppy","cleared_on":"2026-03-14"},`+
		`"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}`,
		fieldID, lon, lat, lon+size, lat, lon+size, lat+size, lon, lat+size, lon, lat)
}

func collection(features ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",\n") + `]}`
}

func near(got, want, rel float64) bool { return math.Abs(got-want) <= math.Abs(want)*rel }

// Reference areas in m², from GeographicLib 2.2 (Geodesic.WGS84.Polygon),
// not from PostGIS.
const (
	khy0001 = 40965.990983605385 // 0.002° square at 71.100 E 34.050 N
	khy0002 = 122967.64882779121 // 0.004° square at 71.200 34.000 less a 0.002° hole
	khy0101 = 10235.62451773882  // 0.001° square at 71.100 34.100
	khyK17  = 40989.68995440006  // 0.002° square at 71.300 34.000
	qf3     = 40961.24742090702  // 0.002° square at 71.120 34.060
	s12344  = 40942.260610342026 // 0.002° square at 71.120 34.100
	seqEach = 10259.307457387447 // 0.001° squares at 71.400 and 71.410 33.900
	union   = 61484.534932136536 // 0.003°×0.002° rectangle at 71.300 34.000
)

func TestFieldToolExports(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		file     string
		features int
		m2       float64
		rel      float64 // tolerance against GeographicLib
		warnings []string
		check    string // a query over the upload's clearances ($1) that must return 1
	}{
		{"odk-central.geojson", 2, khy0001 + khy0002, 1e-5, nil,
			`SELECT count(*) FROM clearances WHERE upload_id = $1 AND field_id = 'KHY-0001' AND reported_unit = 'kanal' AND reported_area_m2 = 4046.8564224 AND props->>'__system/submitterName' = 'enum-07'`},
		{"odk-odata-unnested.geojson", 1, khy0101, 1e-5, []string{"read as one ring", "ring 0 was not closed"},
			`SELECT count(*) FROM clearances WHERE upload_id = $1 AND field_id = 'KHY-0101' AND ST_NPoints(geom) = 5`},
		{"kobotoolbox.geojson", 1, khyK17, 1e-5, nil,
			`SELECT count(*) FROM clearances WHERE upload_id = $1 AND field_id = 'KHY-K-17' AND crop = 'cannabis' AND team = 'FC Bara' AND reported_area_m2 = 4046.8564224`},
		// UTM coordinates rounded to the centimetre, and straight in UTM
		// rather than geodesic: 1 m² in 41,000.
		{"qfield-utm42n.geojson", 1, qf3, 1e-4, nil,
			`SELECT count(*) FROM clearances WHERE upload_id = $1 AND field_id = 'QF-3' AND cleared_on = '2026-03-18' AND abs(ST_XMin(geom) - 71.12) < 1e-6`},
		{"gdal-geojsonseq.geojsons", 2, 2 * seqEach, 1e-5, nil,
			`SELECT count(*) / 2 FROM clearances WHERE upload_id = $1 AND field_id LIKE 'SEQ-_'`},
		{"survey123.geojson", 1, s12344, 1e-5, nil,
			`SELECT count(*) FROM clearances WHERE upload_id = $1 AND field_id = 'S123-44' AND cleared_on = '2026-03-14' AND crop = 'poppy'`},
	} {
		t.Run(c.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			res := f.store(t, string(body), func(u *ingest.Upload) {
				if bytes.HasPrefix(body, []byte{0x1e}) {
					u.Format = ingest.Sequence
				}
			})
			r := res.Receipt
			if res.Outcome != ingest.Created || r.Features != c.features {
				t.Fatalf("outcome %v, receipt %+v", res.Outcome, r)
			}
			if !near(r.Acres, c.m2/acre, c.rel) || len(r.Districts) != 1 || r.Districts[0].Code != "PK-KP-KHYBER" {
				t.Fatalf("acres %v (districts %+v), want %v in Khyber", r.Acres, r.Districts, c.m2/acre)
			}
			if !near(r.Hectares, c.m2/10000, 1e-4) {
				t.Fatalf("hectares %v, want %v", r.Hectares, c.m2/10000)
			}
			if len(r.Warnings) != len(c.warnings) {
				t.Fatalf("warnings %+v, want %q", r.Warnings, c.warnings)
			}
			for i, w := range c.warnings {
				if !strings.Contains(r.Warnings[i].Message, w) {
					t.Fatalf("warning %d: %q, want %q", i, r.Warnings[i].Message, w)
				}
			}
			if n := f.count(t, c.check, r.ID); n != 1 {
				t.Fatalf("stored clearances fail %s", c.check)
			}
			if !bytes.Equal(f.raw(t, r.ID), body) {
				t.Fatal("raw bytes differ from the file")
			}
		})
	}
	// Each stored area agrees with GeographicLib too.
	rows, _ := f.pool.Query(context.Background(), "SELECT field_id, area_m2 FROM clearances")
	want := map[string]float64{"KHY-0001": khy0001, "KHY-0002": khy0002, "KHY-0101": khy0101, "KHY-K-17": khyK17, "QF-3": qf3, "S123-44": s12344, "SEQ-1": seqEach, "SEQ-2": seqEach}
	n := 0
	for rows.Next() {
		var id string
		var m2 float64
		rows.Scan(&id, &m2)
		if !near(m2, want[id], 1e-4) {
			t.Errorf("%s: area %v m², GeographicLib %v", id, m2, want[id])
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d clearances, want %d", n, len(want))
	}
}

func TestOverlappingFieldsInOneUploadCountOnce(t *testing.T) {
	f := newFixture(t)
	// Two 0.002° squares, the second shifted 0.001° east: their union is a
	// 0.003° × 0.002° rectangle.
	r := f.store(t, collection(squareFeature("A", 71.300, 34.000, 0.002), squareFeature("B", 71.301, 34.000, 0.002))).Receipt
	if r.Features != 2 || !near(r.Acres, union/acre, 1e-5) {
		t.Fatalf("acres %v, want the union's %v", r.Acres, union/acre)
	}
}

func TestFieldAcrossADistrictBorderIsSplit(t *testing.T) {
	f := newFixture(t)
	// A 0.004° square around a point of the Khyber–Peshawar border.
	r := f.store(t, collection(squareFeature("X", 71.4996, 33.7699, 0.004))).Receipt
	if len(r.Districts) != 2 || r.Districts[0].Code != "PK-KP-KHYBER" || r.Districts[1].Code != "PK-KP-PESHAWAR" {
		t.Fatalf("districts %+v", r.Districts)
	}
	// The parts add up to the whole (GeographicLib: 164,391.506 m² for this square).
	const whole = 164391.5064380169
	if r.Districts[0].Acres < 1 || r.Districts[1].Acres < 1 ||
		!near(r.Districts[0].Acres+r.Districts[1].Acres, whole/acre, 1e-5) || !near(r.Acres, whole/acre, 1e-5) {
		t.Fatalf("parts %v + %v, total %v; want %v", r.Districts[0].Acres, r.Districts[1].Acres, r.Acres, whole/acre)
	}
}

// manyFields is a collection of n 0.001° squares on a grid in Khyber; the
// feature at bad, if any, is a bowtie.
func manyFields(n, bad int) string {
	features := make([]string, n)
	for i := range features {
		lon, lat := 71.10+float64(i%40)*0.002, 34.00+float64(i/40)*0.002
		features[i] = squareFeature(fmt.Sprintf("F-%04d", i), lon, lat, 0.001)
		if i == bad {
			features[i] = fmt.Sprintf(`{"type":"Feature","properties":{"field_id":"F-%04d","crop":"poppy","cleared_on":"2026-03-14"},`+
				`"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}`,
				i, lon, lat, lon+0.001, lat+0.001, lon+0.001, lat, lon, lat+0.001, lon, lat)
		}
	}
	return collection(features...)
}

func TestOneBadFeatureRejectsTheUploadButKeepsItsBytes(t *testing.T) {
	f := newFixture(t)
	body := manyFields(1000, 500)
	res := f.store(t, body)
	r := res.Receipt
	if res.Outcome != ingest.Rejected || res.SyntaxError || r.Status != "rejected" || r.Features != 0 {
		t.Fatalf("outcome %v receipt %+v", res.Outcome, r)
	}
	if len(r.Problems) != 1 || r.Problems[0].Index != 500 || r.Problems[0].FieldID != "F-0500" ||
		r.Problems[0].Pointer != "/features/500/geometry" || r.Problems[0].Message != "the outline crosses itself near 71.14050 34.02450" {
		t.Fatalf("problems %+v", r.Problems)
	}
	if r.Error != "1 of 1000 features have problems; nothing was stored. Fix them and upload again, or store the valid ones with a partial upload (?partial=true, or import --partial)" {
		t.Fatalf("error %q", r.Error)
	}
	if n := f.count(t, "SELECT count(*) FROM clearances"); n != 0 {
		t.Fatalf("%d clearances stored from a rejected upload", n)
	}
	if f.count(t, "SELECT count(*) FROM uploads WHERE status = 'rejected'") != 1 || !bytes.Equal(f.raw(t, r.ID), []byte(body)) {
		t.Fatal("the rejected original was not kept byte for byte")
	}

	// ?partial=true stores the 999 good fields and lists the bad one.
	res = f.store(t, body, func(u *ingest.Upload) { u.Partial = true })
	if res.Outcome != ingest.Created || res.Receipt.Features != 999 || len(res.Receipt.Problems) != 1 || res.Receipt.Problems[0].Index != 500 {
		t.Fatalf("partial: %v %+v", res.Outcome, res.Receipt.Problems)
	}
	if n := f.count(t, "SELECT count(*) FROM clearances WHERE upload_id = $1 AND feature_index <> 500", res.Receipt.ID); n != 999 {
		t.Fatalf("%d clearances stored, want 999", n)
	}
}

func TestRulesCheckedInPostGIS(t *testing.T) {
	f := newFixture(t)
	notUTF8 := collection(strings.Replace(squareFeature("F-1", 71.1, 34.05, 0.001), "poppy", "popp\xff", 1))
	feature := func(geom string) string {
		return `{"type":"Feature","properties":{"field_id":"F-1","crop":"poppy","cleared_on":"2026-03-14"},"geometry":` + geom + `}`
	}
	for _, c := range []struct {
		name, body string
		syntax     bool
		want       string // the error, or else the one problem's message
	}{
		{"self-intersection", collection(feature(`{"type":"Polygon","coordinates":[[[71.1,34.05],[71.101,34.051],[71.101,34.05],[71.1,34.051],[71.1,34.05]]]}`)), false,
			"the outline crosses itself near 71.10050 34.05050"},
		{"hole outside its shell", collection(feature(`{"type":"Polygon","coordinates":[[[71.1,34.05],[71.101,34.05],[71.101,34.051],[71.1,34.051],[71.1,34.05]],[[71.2,34.05],[71.201,34.05],[71.201,34.051],[71.2,34.05]]]}`)), false,
			"a hole lies outside its polygon near 71.20000 34.05000"},
		{"lat,lon swapped", collection(feature(`{"type":"Polygon","coordinates":[[[34.05,71.1],[34.05,71.101],[34.051,71.101],[34.05,71.1]]]}`)), false,
			"coordinates look like lat,lon (first position 34.05000 71.10000): GeoJSON is lon,lat — swap them"},
		{"outside Pakistan", collection(feature(`{"type":"Polygon","coordinates":[[[77.2,28.6],[77.201,28.6],[77.201,28.601],[77.2,28.6]]]}`)), false,
			"the field lies outside every district of Pakistan (first position 77.20000 28.60000)"},
		{"projected without crs", collection(feature(`{"type":"Polygon","coordinates":[[[695656,3770836],[695841,3770840],[695836,3771062],[695656,3770836]]]}`)), false,
			"coordinates are not longitude/latitude (first position 695656.0 3770836.0): GeoJSON is WGS84 lon,lat; a projected file needs its crs member"},
		{"implausibly large", collection(squareFeature("F-1", 71.10, 34.00, 0.1)), false,
			// GeographicLib: 102,416,151.7 m², 25,307.6 acres.
			"the field is 25308 acres; more than 2500 acres is implausible for one field"},
		{"unknown EPSG code", `{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:99999"}},"features":[` + squareFeature("F-1", 71.1, 34.05, 0.001) + `]}`, false,
			`crs "EPSG:99999": EPSG:99999 is not a coordinate system PostGIS knows`},
		{"crs not EPSG", `{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"+proj=utm +zone=42"}},"features":[` + squareFeature("F-1", 71.1, 34.05, 0.001) + `]}`, false,
			`crs "+proj=utm +zone=42" is not an EPSG code: clearmap accepts EPSG codes (e.g. EPSG:32642) or WGS84 longitude/latitude with no crs`},
		{"crs link", `{"type":"FeatureCollection","crs":{"type":"link","properties":{"href":"x"}},"features":[` + squareFeature("F-1", 71.1, 34.05, 0.001) + `]}`, false,
			`the crs member is not understood: give {"type": "name", "properties": {"name": "EPSG:32642"}}, or leave it out for WGS84 longitude/latitude`},
		{"no features", `{"type":"FeatureCollection","features":[]}`, false, "the upload has no features"},
		{"truncated", collection(squareFeature("F-1", 71.1, 34.05, 0.001))[:120], true, "body is not valid GeoJSON at byte 40: the body ends inside the JSON value that starts here (truncated upload?)"},
		{"not UTF-8", notUTF8, true, fmt.Sprintf("body is not valid GeoJSON at byte %d: the body is not UTF-8 text", strings.IndexByte(notUTF8, 0xff))},
		{"empty body", "", false, "the upload has no features"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.count(t, "SELECT count(*) FROM clearances")
			res := f.store(t, c.body)
			r := res.Receipt
			if res.Outcome != ingest.Rejected || res.SyntaxError != c.syntax {
				t.Fatalf("outcome %v syntax %v: %+v", res.Outcome, res.SyntaxError, r)
			}
			got := r.Error
			if len(r.Problems) > 0 {
				got = r.Problems[0].Message
				if len(r.Problems) != 1 || r.Problems[0].FieldID != "F-1" || r.Problems[0].Pointer != "/features/0/geometry" {
					t.Fatalf("problems %+v", r.Problems)
				}
			}
			if got != c.want {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
			if f.count(t, "SELECT count(*) FROM clearances") != before {
				t.Fatal("a rejected upload stored clearances")
			}
			if f.count(t, "SELECT count(*) FROM uploads WHERE id = $1 AND status = 'rejected' AND receipt->>'error' <> ''", r.ID) != 1 ||
				!bytes.Equal(f.raw(t, r.ID), []byte(c.body)) {
				t.Fatal("the rejected upload and its bytes were not kept")
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	f := newFixture(t)
	// 0.00005° square: about 25 m², under 0.01 acre.
	r := f.store(t, collection(squareFeature("tiny", 71.1, 34.05, 0.00005))).Receipt
	if r.Status != "accepted" || len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0].Message, "the field is only 0.0063 acres") {
		t.Fatalf("%+v", r)
	}
	// Across Khyber's border with Afghanistan near Torkham: partly outside
	// every district; only the inside part counts.
	r = f.store(t, collection(squareFeature("border", 71.066, 34.096, 0.008))).Receipt
	if r.Status != "accepted" || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Message, "acres lie outside every district and are not counted") {
		t.Fatalf("%+v", r)
	}
	var whole float64
	f.pool.QueryRow(context.Background(), "SELECT area_m2 FROM clearances WHERE field_id = 'border'").Scan(&whole)
	if r.Acres <= 0 || r.Acres >= whole/acre*0.999 {
		t.Fatalf("receipt counts %v acres of a %v-acre field that is partly outside", r.Acres, whole/acre)
	}
}

func TestNearDuplicatesAreFlagged(t *testing.T) {
	f := newFixture(t)
	first := f.store(t, collection(squareFeature("A-1", 71.2, 34.02, 0.002))).Receipt
	// The same ground mapped again by another team, shifted by 2% of its side.
	again := f.store(t, collection(squareFeature("B-7", 71.20004, 34.02, 0.002))).Receipt
	if len(again.Warnings) != 1 || !strings.HasPrefix(again.Warnings[0].Message, fmt.Sprintf("overlaps clearance 1 of upload %d (field_id \"A-1\") by 90%% or more", first.ID)) {
		t.Fatalf("warnings %+v", again.Warnings)
	}
	if f.count(t, "SELECT count(*) FROM clearances WHERE field_id = 'B-7' AND duplicate_of = 1") != 1 {
		t.Fatal("duplicate_of not set")
	}
	// Shifted by 20%: overlap 80%, not a near-duplicate; another crop: never.
	f.store(t, collection(squareFeature("C-1", 71.2004, 34.02, 0.002)))
	f.store(t, collection(strings.Replace(squareFeature("D-1", 71.2, 34.02, 0.002), "poppy", "cannabis", 1)))
	if n := f.count(t, "SELECT count(*) FROM clearances WHERE duplicate_of IS NOT NULL"); n != 1 {
		t.Fatalf("%d near-duplicates, want 1", n)
	}
}

func TestRepeatsCountOnce(t *testing.T) {
	f := newFixture(t)
	body := manyFields(20, -1)
	first := f.store(t, body)
	if first.Outcome != ingest.Created {
		t.Fatal(first.Receipt)
	}
	// The response was lost; the phone sends the same bytes again.
	again := f.store(t, body)
	if again.Outcome != ingest.Replayed || again.Receipt.ID != first.Receipt.ID || again.Receipt.Acres != first.Receipt.Acres {
		t.Fatalf("retry: %v %+v", again.Outcome, again.Receipt)
	}
	if f.count(t, "SELECT count(*) FROM clearances") != 20 || f.count(t, "SELECT count(*) FROM uploads") != 1 {
		t.Fatal("a retry stored something")
	}
	// The same bytes with a default crop are another upload.
	other := f.store(t, body, func(u *ingest.Upload) { u.Defaults.Team = "night shift" })
	if other.Outcome != ingest.Created || other.Receipt.ID == first.Receipt.ID {
		t.Fatalf("different query values: %v", other.Outcome)
	}

	// An Idempotency-Key identifies a retry; reused for other data it is refused.
	withKey := func(k string) func(*ingest.Upload) { return func(u *ingest.Upload) { u.IdempotencyKey = k } }
	k1 := f.store(t, manyFields(3, -1), withKey("phone-7:42"))
	k2 := f.store(t, manyFields(3, -1), withKey("phone-7:42"))
	if k1.Outcome != ingest.Created || k2.Outcome != ingest.Replayed || k2.Receipt.ID != k1.Receipt.ID {
		t.Fatalf("key retry: %v %v", k1.Outcome, k2.Outcome)
	}
	_, err := f.svc.Store(context.Background(), ingest.Upload{Body: strings.NewReader(manyFields(4, -1)), Uploader: "test", IdempotencyKey: "phone-7:42"})
	if !errors.Is(err, ingest.ErrKeyReused) {
		t.Fatalf("key reused for other bytes: %v", err)
	}

	// Once its upload is retracted, the key is refused, naming the
	// retraction, and nothing is stored.
	if _, err := ingest.Retract(context.Background(), f.svc.DB, k1.Receipt.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	uploads := f.count(t, "SELECT count(*) FROM uploads")
	_, err = f.svc.Store(context.Background(), ingest.Upload{Body: strings.NewReader(manyFields(3, -1)), Uploader: "test", IdempotencyKey: "phone-7:42"})
	var retracted *ingest.KeyRetractedError
	if !errors.As(err, &retracted) || retracted.Upload != k1.Receipt.ID || retracted.RetractedBy != "admin" || retracted.Key != "phone-7:42" {
		t.Fatalf("key of a retracted upload: %v", err)
	}
	if n := f.count(t, "SELECT count(*) FROM uploads"); n != uploads {
		t.Fatalf("the refused retry stored %d uploads", n-uploads)
	}
}

func TestConcurrentUploadsAreStoredExactlyOnce(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	results := make([]ingest.Result, 24)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 16 different uploads, and 8 copies of one more racing each other.
			body := collection(squareFeature(fmt.Sprintf("T-%d", i), 71.10+float64(i%16)*0.003, 34.03, 0.001))
			if i >= 16 {
				body = collection(squareFeature("SAME", 71.30, 34.03, 0.001))
			}
			res, err := f.svc.Store(context.Background(), ingest.Upload{Body: strings.NewReader(body), Uploader: "test"})
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	created, replayed := 0, 0
	for _, r := range results {
		switch r.Outcome {
		case ingest.Created:
			created++
		case ingest.Replayed:
			replayed++
		}
	}
	if created != 17 || replayed != 7 {
		t.Fatalf("%d created, %d replayed; want 17 and 7", created, replayed)
	}
	if n := f.count(t, "SELECT count(*) FROM clearances"); n != 17 {
		t.Fatalf("%d clearances, want 17", n)
	}
	if n := f.count(t, "SELECT count(DISTINCT field_id) FROM clearances"); n != 17 {
		t.Fatalf("%d distinct fields, want 17", n)
	}
}

func TestRetract(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := f.store(t, manyFields(5, -1)).Receipt
	info, err := ingest.Retract(ctx, f.pool, r.ID, "boss")
	if err != nil || info.Status != "retracted" || info.RetractedBy != "boss" || info.RetractedAt == nil {
		t.Fatalf("%+v %v", info, err)
	}
	if f.count(t, "SELECT count(*) FROM clearances WHERE retracted") != 5 ||
		f.count(t, "SELECT count(*) FROM audit_log WHERE action = 'upload.retract' AND actor = 'boss'") != 1 {
		t.Fatal("clearances not retracted, or not audited")
	}
	if _, err := ingest.Retract(ctx, f.pool, r.ID, "boss"); err != nil || f.count(t, "SELECT count(*) FROM audit_log WHERE action = 'upload.retract'") != 1 {
		t.Fatalf("second retraction: %v", err)
	}
	bad := f.store(t, "{").Receipt
	if _, err := ingest.Retract(ctx, f.pool, bad.ID, "boss"); !errors.Is(err, ingest.ErrNotRetractable) {
		t.Fatalf("retracting a rejected upload: %v", err)
	}
	if _, err := ingest.Retract(ctx, f.pool, 999, "boss"); !errors.Is(err, ingest.ErrNotFound) {
		t.Fatalf("retracting nothing: %v", err)
	}
	// Nothing was deleted.
	if f.count(t, "SELECT count(*) FROM clearances") != 5 {
		t.Fatal("retraction deleted clearances")
	}
	// The same bytes can be uploaded again after a retraction.
	if res := f.store(t, manyFields(5, -1)); res.Outcome != ingest.Created {
		t.Fatalf("re-upload after retraction: %v", res.Outcome)
	}
}

// TestLargeUploadsRefreshStatistics checks that an upload of 10,000 fields
// leaves the figures' tables analyzed, so their queries are planned on
// what is now in them.
func TestLargeUploadsRefreshStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 10,000 fields")
	}
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	features := make([]string, 10000)
	for i := range features {
		features[i] = squareFeature(fmt.Sprintf("S-%05d", i), 72.0+float64(i%100)*0.002, 31.0+float64(i/100)*0.002, 0.001)
	}
	res, err := (&ingest.Service{DB: pool}).Store(ctx, ingest.Upload{Body: strings.NewReader(collection(features...)), Uploader: "t"})
	if err != nil || res.Outcome != ingest.Created {
		t.Fatalf("%v %+v", err, res.Receipt.Error)
	}
	// clearances too: planned on the statistics of an empty table, the
	// next upload's search for near-duplicates took 33 s at 100,000 fields,
	// and a retraction's point cells 24 s.
	rows, err := pool.Query(ctx, `SELECT relname::text FROM pg_stat_user_tables
		WHERE relname IN ('clearances', 'clearance_parts', 'acreage_daily', 'step_starts') AND last_analyze IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	unanalyzed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(unanalyzed) > 0 {
		t.Fatalf("not analyzed after a large upload: %v", unanalyzed)
	}
}
