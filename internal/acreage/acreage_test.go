package acreage_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/acreage"
	"clearmap/internal/boundaries"
	"clearmap/internal/ingest"
	"clearmap/internal/store"
	"clearmap/internal/testdb"
	"clearmap/internal/testlog"
)

// Reference areas in m², computed with GeographicLib 2.2 (Geodesic.WGS84,
// Polygon), not by PostGIS. Squares are named by their south-west corner and
// side in degrees.
const (
	border         = 164391.5064380169  // 0.004° at 71.4996 E 33.7699 N, across Khyber–Peshawar
	borderKhyber   = 103004.30535626411 // its part west of the border (vertices from the boundary file)
	borderPeshawar = 61387.42147642374  // its part east of the border
	sqA            = 40989.68995440006  // 0.002° at 71.300 34.000 (Khyber)
	sqB            = 40989.68995440006  // 0.002° at 71.301 34.000, half over A
	unionAB        = 61484.534932136536 // A ∪ B: 0.003° × 0.002°
	peshawarSq     = 40989.68995440006  // 0.002° at 71.570 34.000 (Peshawar)
	khyberSq       = 40965.990983605385 // 0.002° at 71.100 34.050 (Khyber)
	holed          = 122967.64882779121 // 0.004° at 71.200 34.000 less a 0.002° hole
	sqP            = 40980.21413564682  // 0.002° at 71.200 34.020, poppy
	sqC            = 40979.74021291733  // 0.002° at 71.200 34.021, cannabis, half over P
	unionPC        = 61469.96575975418  // P ∪ C
	sqD            = 40975.47434103489  // 0.002° at 71.250, 71.251, 71.252 34.030: a chain
	unionD12       = 61463.211512327194 // D1 ∪ D2 (and D2 ∪ D3)
	unionD123      = 81950.94868373871  // D1 ∪ D2 ∪ D3
)

const acre = acreage.AcreM2

type fixture struct {
	pool *pgxpool.Pool
	svc  *ingest.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.WithBoundaries(t)
	return &fixture{pool, &ingest.Service{DB: pool, Now: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }}}
}

func square(lon, lat, side float64) string {
	return fmt.Sprintf(`[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]`, lon, lat, lon+side, lat, lon+side, lat+side, lon, lat+side, lon, lat)
}

func field(id, crop, day, geometryType, coordinates string) string {
	return fmt.Sprintf(`{"type":"Feature","properties":{"field_id":%q,"crop":%q,"cleared_on":%q},"geometry":{"type":%q,"coordinates":%s}}`,
		id, crop, day, geometryType, coordinates)
}

func poppy(id string, lon, lat, side float64) string {
	return field(id, "poppy", "2026-03-14", "Polygon", square(lon, lat, side))
}

// upload stores the features as one upload and returns its id.
func (f *fixture) upload(t *testing.T, features ...string) int64 {
	t.Helper()
	res, err := f.svc.Store(context.Background(), ingest.Upload{
		Body:     strings.NewReader(`{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`),
		Uploader: "test",
	})
	if err != nil || res.Outcome != ingest.Created {
		t.Fatalf("upload: %v %+v", err, res.Receipt)
	}
	return res.Receipt.ID
}

func (f *fixture) districts(t *testing.T, filter acreage.Filter) map[string]acreage.District {
	t.Helper()
	list, err := acreage.Districts(context.Background(), f.pool, filter)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]acreage.District{}
	for _, d := range list {
		out[d.Code] = d
	}
	return out
}

// within checks acres against a reference area in m², to 0.01%.
func within(t *testing.T, what string, gotAcres, wantM2 float64) {
	t.Helper()
	if math.Abs(gotAcres-wantM2/acre) > math.Max(wantM2/acre*1e-4, 1e-4) {
		t.Errorf("%s: %.4f acres, want %.4f", what, gotAcres, wantM2/acre)
	}
}

func TestUnionRule(t *testing.T) {
	f := newFixture(t)
	f.upload(t, poppy("X", 71.4996, 33.7699, 0.004))
	d := f.districts(t, acreage.Filter{})
	within(t, "Khyber part of the border field", d["PK-KP-KHYBER"].Acres, borderKhyber)
	within(t, "Peshawar part", d["PK-KP-PESHAWAR"].Acres, borderPeshawar)
	if d["PK-KP-KHYBER"].Fields != 1 || d["PK-KP-PESHAWAR"].Fields != 1 || d["PK-KP-KHYBER"].GrossAcres != d["PK-KP-KHYBER"].Acres {
		t.Fatalf("fields %d %d, gross %v", d["PK-KP-KHYBER"].Fields, d["PK-KP-PESHAWAR"].Fields, d["PK-KP-KHYBER"].GrossAcres)
	}

	// The same field again, from another team under another id: net unchanged, gross doubled.
	f.upload(t, poppy("Y-7", 71.4996, 33.7699, 0.004))
	d = f.districts(t, acreage.Filter{})
	within(t, "Khyber after re-upload", d["PK-KP-KHYBER"].Acres, borderKhyber)
	within(t, "Khyber gross after re-upload", d["PK-KP-KHYBER"].GrossAcres, 2*borderKhyber)
	within(t, "Peshawar after re-upload", d["PK-KP-PESHAWAR"].Acres, borderPeshawar)
	// A near-duplicate is the same field mapped again, not a new one.
	if d["PK-KP-KHYBER"].Fields != 1 || d["PK-KP-KHYBER"].MappedFeatures != 2 || d["PK-KP-PESHAWAR"].Fields != 1 {
		t.Fatalf("Khyber %d fields of %d features, Peshawar %d fields; want 1 of 2, 1",
			d["PK-KP-KHYBER"].Fields, d["PK-KP-KHYBER"].MappedFeatures, d["PK-KP-PESHAWAR"].Fields)
	}

	// Half-overlapping fields, a MultiPolygon in two districts, a field with a hole.
	f.upload(t, poppy("A", 71.300, 34.000, 0.002))
	f.upload(t, poppy("B", 71.301, 34.000, 0.002),
		field("M", "poppy", "2026-03-14", "MultiPolygon", "["+square(71.10, 34.05, 0.002)+","+square(71.57, 34.00, 0.002)+"]"),
		field("H", "poppy", "2026-03-14", "Polygon", `[[[71.2,34],[71.204,34],[71.204,34.004],[71.2,34.004],[71.2,34]],[[71.201,34.001],[71.201,34.003],[71.203,34.003],[71.203,34.001],[71.201,34.001]]]`))
	d = f.districts(t, acreage.Filter{})
	within(t, "Khyber", d["PK-KP-KHYBER"].Acres, borderKhyber+unionAB+khyberSq+holed)
	within(t, "Khyber gross", d["PK-KP-KHYBER"].GrossAcres, 2*borderKhyber+sqA+sqB+khyberSq+holed)
	within(t, "Peshawar", d["PK-KP-PESHAWAR"].Acres, borderPeshawar+peshawarSq)

	s, err := acreage.GetSummary(context.Background(), f.pool, acreage.Filter{}, 40659)
	if err != nil {
		t.Fatal(err)
	}
	within(t, "national", s.MappedAcres, borderKhyber+borderPeshawar+unionAB+khyberSq+holed+peshawarSq)
	// The border field (X, and Y-7 its near-duplicate), A, B, M, H: five
	// fields, each counted once nationally, from six features.
	if s.Fields != 5 || s.MappedFeatures != 6 || s.TargetAcres != 40659 || math.Abs(s.Progress-s.MappedAcres/40659) > 1e-4 {
		t.Fatalf("summary %+v", s)
	}
	var kp acreage.Province
	for _, p := range s.ByProvince {
		if p.Code == "PK-KP" {
			kp = p
		}
	}
	// All five fields lie in Khyber Pakhtunkhwa; the two crossing from
	// Khyber into Peshawar count once in the province.
	if math.Abs(kp.Acres-(d["PK-KP-KHYBER"].Acres+d["PK-KP-PESHAWAR"].Acres)) > 2e-4 || kp.Fields != 5 || kp.MappedFeatures != 6 || len(s.ByProvince) != 7 {
		t.Fatalf("KP %+v", kp)
	}
}

func TestCropsAndDates(t *testing.T) {
	f := newFixture(t)
	f.upload(t, field("P", "poppy", "2026-03-01", "Polygon", square(71.20, 34.020, 0.002)),
		field("C", "cannabis", "2026-04-01", "Polygon", square(71.20, 34.021, 0.002)))
	// A chain of three overlapping poppy fields on three days: one overlap group.
	f.upload(t, field("D1", "poppy", "2026-03-10", "Polygon", square(71.250, 34.03, 0.002)),
		field("D2", "poppy", "2026-03-20", "Polygon", square(71.251, 34.03, 0.002)),
		field("D3", "poppy", "2026-03-30", "Polygon", square(71.252, 34.03, 0.002)))

	k := f.districts(t, acreage.Filter{})["PK-KP-KHYBER"]
	within(t, "all crops", k.Acres, unionPC+unionD123)
	within(t, "poppy", k.AcresPoppy, sqP+unionD123)
	within(t, "cannabis", k.AcresCannabis, sqC)
	if k.Fields != 5 || *k.LastClearedOn != "2026-04-01" {
		t.Fatalf("%+v", k)
	}

	k = f.districts(t, acreage.Filter{Crop: "cannabis"})["PK-KP-KHYBER"]
	within(t, "crop=cannabis", k.Acres, sqC)
	if k.AcresPoppy != 0 || k.Fields != 1 || *k.LastClearedOn != "2026-04-01" {
		t.Fatalf("crop=cannabis: %+v", k)
	}

	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		from, to string
		crop     string
		want     float64
		fields   int
	}{
		{"2026-03-01", "2026-03-31", "", sqP + unionD123, 4}, // the whole chain, P; not C
		{"2026-03-15", "2026-03-31", "", unionD12, 2},        // D2 and D3 only: the range cuts the group
		{"2026-03-05", "2026-03-25", "poppy", unionD12, 2},   // D1 and D2
		{"2026-03-20", "2026-03-20", "", sqD, 1},             // D2 alone
		{"2026-04-01", "", "", sqC, 1},                       // open end
		{"", "2026-03-01", "", sqP, 1},                       // open start
		{"2026-05-01", "2026-06-01", "", 0, 0},               // nothing
		{"2026-03-01", "2026-04-01", "cannabis", sqC, 1},
	} {
		filter := acreage.Filter{Crop: c.crop}
		if c.from != "" {
			filter.From = day(c.from)
		}
		if c.to != "" {
			filter.To = day(c.to)
		}
		k := f.districts(t, filter)["PK-KP-KHYBER"]
		within(t, fmt.Sprintf("%s..%s %s", c.from, c.to, c.crop), k.Acres, c.want)
		if k.Fields != c.fields {
			t.Errorf("%s..%s: %d fields, want %d", c.from, c.to, k.Fields, c.fields)
		}
	}
}

func TestRetractionAndBoundaryReload(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	first := f.upload(t, poppy("A", 71.300, 34.000, 0.002))
	second := f.upload(t, poppy("B", 71.301, 34.000, 0.002), poppy("X", 71.4996, 33.7699, 0.004))

	if _, err := ingest.Retract(ctx, f.pool, first, "admin"); err != nil {
		t.Fatal(err)
	}
	d := f.districts(t, acreage.Filter{})
	within(t, "Khyber after retracting A", d["PK-KP-KHYBER"].Acres, sqB+borderKhyber)
	if d["PK-KP-KHYBER"].Fields != 2 {
		t.Fatalf("fields %d", d["PK-KP-KHYBER"].Fields)
	}
	if _, err := ingest.Retract(ctx, f.pool, second, "admin"); err != nil {
		t.Fatal(err)
	}
	d = f.districts(t, acreage.Filter{})
	if d["PK-KP-KHYBER"].Acres != 0 || d["PK-KP-PESHAWAR"].Acres != 0 || d["PK-KP-KHYBER"].Fields != 0 {
		t.Fatalf("after retracting everything: %+v", d["PK-KP-KHYBER"])
	}

	// A boundary set in which Khyber and Peshawar are one district.
	f.upload(t, poppy("X2", 71.4996, 33.7699, 0.004))
	merged := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"district_code":"PK-KP-KP","district_name":"Khyber and Peshawar","province_code":"PK-KP","province_name":"Khyber Pakhtunkhwa"},` +
		`"geometry":{"type":"Polygon","coordinates":[[[70.5,33.5],[72,33.5],[72,34.5],[70.5,34.5],[70.5,33.5]]]}}]}`
	set, err := boundaries.Parse("merged", []byte(merged), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boundaries.Load(ctx, f.pool, set, "test"); err != nil {
		t.Fatal(err)
	}
	d = f.districts(t, acreage.Filter{})
	within(t, "merged district", d["PK-KP-KP"].Acres, border)
	if len(d) != 1 || d["PK-KP-KP"].Fields != 1 {
		t.Fatalf("after reload: %+v", d)
	}
	if _, err := boundaries.Load(ctx, f.pool, boundaries.Embedded(), "test"); err != nil {
		t.Fatal(err)
	}
	d = f.districts(t, acreage.Filter{})
	within(t, "Khyber after reloading the shipped set", d["PK-KP-KHYBER"].Acres, borderKhyber)
	within(t, "Peshawar", d["PK-KP-PESHAWAR"].Acres, borderPeshawar)
}

func TestReportedFigures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.upload(t, poppy("A", 71.300, 34.000, 0.002))

	r, err := acreage.AddReported(ctx, f.pool, acreage.NewReported{Scope: "PK", From: "2025-10-01", To: "2026-09-30", Acres: 40659, Source: "ANF annual report"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	within(t, "mapped behind the national figure", r.MappedAcres, sqA)
	if r.BackedShare == nil || math.Abs(*r.BackedShare-sqA/acre/40659) > 1e-4 {
		t.Fatalf("%+v", r)
	}
	if _, err := acreage.AddReported(ctx, f.pool, acreage.NewReported{Scope: "PK-KP-KHYBER", From: "2026-01-01", To: "2026-06-30", Acres: 5000, Source: "KP home department"}, "admin"); err != nil {
		t.Fatal(err)
	}
	s, err := acreage.GetSummary(ctx, f.pool, acreage.Filter{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.TargetAcres != 40659 || s.ReportedAcres == nil || *s.ReportedAcres != 40659 {
		t.Fatalf("summary target %v reported %v", s.TargetAcres, s.ReportedAcres)
	}
	k := f.districts(t, acreage.Filter{})["PK-KP-KHYBER"]
	if k.ReportedAcres == nil || *k.ReportedAcres != 5000 {
		t.Fatalf("Khyber reported %v", k.ReportedAcres)
	}
	// A period outside the filter does not show.
	k = f.districts(t, acreage.Filter{From: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)})["PK-KP-KHYBER"]
	if k.ReportedAcres != nil {
		t.Fatalf("reported %v outside its period", *k.ReportedAcres)
	}

	for _, c := range []struct {
		n    acreage.NewReported
		want string
	}{
		{acreage.NewReported{Scope: "PK-XX", From: "2026-01-01", To: "2026-02-01", Acres: 1, Source: "x"}, `scope "PK-XX": want PK, a province code or a district code`},
		{acreage.NewReported{Scope: "PK", From: "2026-13-01", To: "2026-02-01", Acres: 1, Source: "x"}, `from "2026-13-01": want a date`},
		{acreage.NewReported{Scope: "PK", From: "2026-03-01", To: "2026-02-01", Acres: 1, Source: "x"}, "to is before from"},
		{acreage.NewReported{Scope: "PK", From: "2026-01-01", To: "2026-02-01", Acres: -1, Source: "x"}, "acres must be a number from 0"},
		{acreage.NewReported{Scope: "PK", From: "2026-01-01", To: "2026-02-01", Acres: 1, Source: " "}, "source must say where"},
	} {
		if _, err := acreage.AddReported(ctx, f.pool, c.n, "admin"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.n, err)
		}
	}
	list, err := acreage.ListReported(ctx, f.pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("%d figures after bad ones, want 2", len(list))
	}
	if err := acreage.DeleteReported(ctx, f.pool, r.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if s, err = acreage.GetSummary(ctx, f.pool, acreage.Filter{}, 40659); err != nil {
		t.Fatal(err)
	}
	if s.TargetAcres != 40659 || s.ReportedAcres != nil {
		t.Fatalf("after deleting the national figure: %+v", s)
	}
}

// TestIncrementalMatchesRecomputation uploads and retracts overlapping fields
// at random and checks every district's figures against a union computed
// from scratch.
func TestIncrementalMatchesRecomputation(t *testing.T) {
	f := newFixture(t)
	f.randomUploads(t, rand.New(rand.NewPCG(7, 7)), 12, 1)
	var dups int
	if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FROM clearances WHERE duplicate_of IS NOT NULL").Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups < 30 {
		t.Fatalf("%d near-duplicates, want the copies' 60 less those of retracted fields", dups)
	}
	f.matchesRecomputation(t)
}

// TestStepsLeftPending has uploads and retractions leave their groups'
// steps for StepPending, as large ones do: the figures are exact while the
// steps are pending, after later uploads merge pending groups with measured
// ones, and once every group is stepped.
func TestStepsLeftPending(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rng := rand.New(rand.NewPCG(8, 8))
	groups := func() (stepped, pending, steps int) {
		t.Helper()
		err := f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE stepped), count(*) FILTER (WHERE steps_pending),
			(SELECT count(*) FROM group_steps) FROM overlap_groups`).Scan(&stepped, &pending, &steps)
		if err != nil {
			t.Fatal(err)
		}
		return stepped, pending, steps
	}
	restore := acreage.SetStepsInline(0)
	f.randomUploads(t, rng, 8, 8)
	restore()
	stepped, pending, steps := groups()
	if stepped != 0 || pending < 10 || steps != 0 {
		t.Fatalf("%d stepped and %d pending groups, %d steps: want every group pending, with no steps", stepped, pending, steps)
	}
	f.matchesRecomputation(t)

	// Fields over members of five pending groups, measured in line: the
	// groups they join are measured again, and stepped.
	rows, err := f.pool.Query(ctx, `SELECT DISTINCT ON (g.id) ST_AsGeoJSON(ST_Translate(c.geom, 0.0002, 0.0001)), c.crop
		FROM clearances c JOIN group_members m ON m.clearance_id = c.id JOIN overlap_groups g ON g.id = m.group_id
		WHERE g.steps_pending ORDER BY g.id, c.id LIMIT 5`)
	if err != nil {
		t.Fatal(err)
	}
	var over []string
	for rows.Next() {
		var geometry, crop string
		if err := rows.Scan(&geometry, &crop); err != nil {
			t.Fatal(err)
		}
		over = append(over, fmt.Sprintf(`{"type":"Feature","properties":{"crop":%q,"cleared_on":"2026-04-02"},"geometry":%s}`, crop, geometry))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	f.upload(t, over...)
	before := pending
	stepped, pending, _ = groups()
	if len(over) != 5 || pending > before-len(over) {
		t.Fatalf("%d stepped and %d pending groups after fields over pending ones: want those stepped, the rest pending", stepped, pending)
	}
	f.matchesRecomputation(t)
	f.randomUploads(t, rng, 4, 8)
	stepped, pending, _ = groups()
	if stepped == 0 || pending == 0 {
		t.Fatalf("%d stepped and %d pending groups after uploads measured in line: want some of each", stepped, pending)
	}
	f.matchesRecomputation(t)

	measured := 0
	for {
		n, err := acreage.StepPending(ctx, f.pool)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		measured += n
	}
	if measured != pending {
		t.Errorf("StepPending measured %d groups, want the %d pending", measured, pending)
	}
	if _, pending, steps := groups(); pending != 0 || steps == 0 {
		t.Fatalf("%d groups still pending, %d steps", pending, steps)
	}
	f.matchesRecomputation(t)

	// What the server runs: KeepStepped measures what is pending from its
	// start, and what uploads leave while it runs, and stops with its
	// context.
	restore = acreage.SetStepsInline(0)
	f.randomUploads(t, rng, 3, 8)
	if _, pending, _ := groups(); pending == 0 {
		t.Fatal("no group pending")
	}
	// Districts an upload holds are skipped, not waited for.
	hold, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('clearmap.acreage:' || code))
		FROM (SELECT DISTINCT district_code FROM overlap_groups WHERE steps_pending ORDER BY 1) d(code)`); err != nil {
		t.Fatal(err)
	}
	waiting, cancel := context.WithTimeout(ctx, 10*time.Second)
	n, err := acreage.StepPending(waiting, f.pool)
	cancel()
	if err != nil || n != 0 {
		t.Fatalf("StepPending with every pending district held: %d groups, %v; want 0 at once", n, err)
	}
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	keeping, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		acreage.KeepStepped(keeping, f.pool, slog.New(slog.NewTextHandler(&logs, nil)), new(store.Signal), 0)
		close(done)
	}()
	f.randomUploads(t, rng, 6, 8)
	restore()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, pending, _ := groups(); pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("groups still pending after 20 s; log: %s", logs.String())
		}
	}
	stop()
	<-done
	if !strings.Contains(logs.String(), "measured overlap steps") {
		t.Errorf("KeepStepped logged %q", logs.String())
	}
	f.matchesRecomputation(t)
}

// randomUploads makes uploads of 15 fields at random, in an area of 0.02°
// by 0.01° times spread (at spread 1, most overlap others), every third
// upload near-duplicates of earlier fields, and after every fourth retracts
// one at random.
func (f *fixture) randomUploads(t *testing.T, rng *rand.Rand, uploads int, spread float64) {
	t.Helper()
	type shape struct {
		crop           string
		lon, lat, side float64
	}
	var ids []int64
	var shapes [][]shape
	for u := 0; u < uploads; u++ {
		var features []string
		var these []shape
		for i := 0; i < 15; i++ {
			sh := shape{[]string{"poppy", "cannabis"}[rng.IntN(2)], 71.30 + rng.Float64()*0.02*spread, 34.00 + rng.Float64()*0.01*spread, 0.001 + rng.Float64()*0.002}
			if u%3 == 2 {
				// Another team's copy of an earlier upload's field, nudged
				// a little: a near-duplicate, maybe of a near-duplicate,
				// cleared on another day.
				sh = shapes[rng.IntN(len(shapes))][i]
				sh.lon += sh.side * 0.02 * rng.Float64()
			}
			these = append(these, sh)
			features = append(features, field(fmt.Sprintf("R%d-%d", u, i), sh.crop, fmt.Sprintf("2026-03-%02d", 1+rng.IntN(28)), "Polygon", square(sh.lon, sh.lat, sh.side)))
		}
		shapes = append(shapes, these)
		ids = append(ids, f.upload(t, features...))
		if u%4 == 3 {
			if _, err := ingest.Retract(context.Background(), f.pool, ids[rng.IntN(len(ids))], "admin"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestNearDuplicateChains follows one field mapped three times on three
// days, each copy a near-duplicate of the one before (the third is not one
// of the first), through retractions: the field counts once while any copy
// counts.
func TestNearDuplicateChains(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	copyOn := func(id string, shift float64, day string) int64 {
		return f.upload(t, field(id, "poppy", day, "Polygon", square(71.300+shift, 34.000, 0.002)))
	}
	a := copyOn("A", 0, "2026-03-05")
	b := copyOn("B", 0.00015, "2026-03-12") // 92.5% of A
	c := copyOn("C", 0.0003, "2026-03-19")  // 92.5% of B, 85% of A
	var chain []*int64
	rows, err := f.pool.Query(ctx, "SELECT duplicate_of FROM clearances ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var of *int64
		if err := rows.Scan(&of); err != nil {
			t.Fatal(err)
		}
		chain = append(chain, of)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || chain[0] != nil || chain[1] == nil || chain[2] == nil || *chain[2] == *chain[1] {
		t.Fatalf("duplicate_of %v, want none, the first, the second", chain)
	}

	check := func(what string, fields, features int, filter acreage.Filter) {
		t.Helper()
		k := f.districts(t, filter)["PK-KP-KHYBER"]
		if k.Fields != fields || k.MappedFeatures != features {
			t.Errorf("%s: %d fields of %d features, want %d of %d", what, k.Fields, k.MappedFeatures, fields, features)
		}
	}
	mid := acreage.Filter{From: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)}
	check("three copies", 1, 3, acreage.Filter{})
	check("the middle copy's week", 1, 1, mid)
	f.matchesRecomputation(t)

	retract := func(id int64) {
		t.Helper()
		if _, err := ingest.Retract(ctx, f.pool, id, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	retract(b) // the link between A and C: they stay one field
	check("middle retracted", 1, 2, acreage.Filter{})
	check("middle retracted, its week", 0, 0, mid)
	f.matchesRecomputation(t)
	retract(a) // the original: C carries the field
	check("original retracted", 1, 1, acreage.Filter{})
	f.matchesRecomputation(t)
	copyOn("D", 0.0004, "2026-03-26") // a copy of C, the only one counted
	check("a copy of the survivor", 1, 2, acreage.Filter{})
	f.matchesRecomputation(t)
	retract(c)
	check("only the last copy", 1, 1, acreage.Filter{})
	f.matchesRecomputation(t)
}

// TestConcurrentOverlappingUploadsCountOnce races uploads whose fields
// overlap each other's: each must see the others' parts, or an overlap would
// be counted twice. Planned, each writes its new groups before it locks,
// and those of the others it meets are stored meanwhile.
func TestConcurrentOverlappingUploadsCountOnce(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) {
			f := newFixture(t)
			if !inline {
				defer acreage.SetStepsInline(0)()
			}
			var wg sync.WaitGroup
			for u := 0; u < 8; u++ {
				wg.Go(func() {
					var features []string
					for i := 0; i < 5; i++ {
						// Columns of fields, each upload's shifted a third of a field from the last.
						lon := 71.30 + float64(u)*0.0007 + float64(i)*0.01
						features = append(features, field(fmt.Sprintf("U%d-%d", u, i), "poppy", "2026-03-14", "Polygon", square(lon, 34.0, 0.002)))
					}
					f.upload(t, features...)
				})
			}
			wg.Wait()
			f.matchesRecomputation(t)
		})
	}
}

// scratch is what a district, a province or the nation should show under a
// filter, computed from the clearances alone.
type scratch struct {
	net, poppy, cannabis, gross float64 // m²
	fields, features            int
	last                        string
}

// recompute computes, per district, province and the nation ("PK"), the
// figures under filter straight from the counted clearances: unions of
// their parts, and fields as the distinct roots of their near-duplicate
// chains.
func (f *fixture) recompute(t *testing.T, filter acreage.Filter) map[string]scratch {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `
		WITH RECURSIVE chain (id, up, depth) AS (
			SELECT id, id, 0 FROM clearances
			UNION ALL
			SELECT chain.id, c.duplicate_of, chain.depth + 1 FROM chain JOIN clearances c ON c.id = chain.up WHERE c.duplicate_of IS NOT NULL),
		roots AS (SELECT DISTINCT ON (id) id, up AS root FROM chain ORDER BY id, depth DESC),
		parts AS (
			SELECT c.id, r.root, c.crop, c.cleared_on, d.code, d.province_code, ST_Intersection(c.geom, d.geom) AS g
			FROM clearances c JOIN roots r ON r.id = c.id JOIN districts d ON ST_Intersects(c.geom, d.geom)
			WHERE NOT c.retracted AND ($1 = '' OR c.crop = $1)
			  AND ($2::date IS NULL OR c.cleared_on >= $2) AND ($3::date IS NULL OR c.cleared_on <= $3)),
		counted AS (SELECT * FROM parts WHERE ST_Area(g) > 0)
		SELECT code, ST_Area(ST_Union(g)::geography),
		       coalesce(ST_Area(ST_Union(g) FILTER (WHERE crop = 'poppy')::geography), 0),
		       coalesce(ST_Area(ST_Union(g) FILTER (WHERE crop = 'cannabis')::geography), 0),
		       sum(ST_Area(g::geography)), count(DISTINCT root), count(DISTINCT id), max(cleared_on)::text
		FROM counted GROUP BY code
		UNION ALL
		SELECT province_code, 0, 0, 0, 0, count(DISTINCT root), count(DISTINCT id), '' FROM counted GROUP BY province_code
		UNION ALL
		SELECT 'PK', 0, 0, 0, 0, count(DISTINCT root), count(DISTINCT id), '' FROM counted HAVING count(*) > 0`,
		filter.Crop, nullDate(filter.From), nullDate(filter.To))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]scratch{}
	for rows.Next() {
		var code string
		var s scratch
		if err := rows.Scan(&code, &s.net, &s.poppy, &s.cannabis, &s.gross, &s.fields, &s.features, &s.last); err != nil {
			t.Fatal(err)
		}
		out[code] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConcurrentCopiesCountOnce races teams uploading the same fields: each
// upload's near-duplicates are found among the others' committed fields,
// so the fields count once, whatever the order.
func TestConcurrentCopiesCountOnce(t *testing.T) {
	f := newFixture(t)
	const teams, fields = 4, 20
	var wg sync.WaitGroup
	for u := range teams {
		wg.Go(func() {
			var features []string
			for i := range fields {
				features = append(features, field(fmt.Sprintf("T%d-%d", u, i), "poppy", "2026-03-14", "Polygon", square(71.30+float64(i)*0.004, 34.0, 0.002)))
			}
			f.upload(t, features...)
		})
	}
	wg.Wait()
	s, err := acreage.GetSummary(context.Background(), f.pool, acreage.Filter{}, 40659)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fields != fields || s.MappedFeatures != teams*fields {
		t.Fatalf("%d fields of %d features, want %d of %d", s.Fields, s.MappedFeatures, fields, teams*fields)
	}
	f.matchesRecomputation(t)
}

// matchesRecomputation compares, under several filters, every district's,
// province's and the nation's figures with those recomputed from scratch,
// both ways: each figure read must be recomputed, and each recomputed figure
// read.
func (f *fixture) matchesRecomputation(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// The groups' members are stored parts, as they are, in groups of their
	// district with two members or more.
	var strays, misfiled, small int
	err := f.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM group_members m LEFT JOIN clearance_parts p USING (clearance_id, district_code)
		 WHERE p.clearance_id IS NULL OR (p.crop, p.cleared_on, p.area_m2) IS DISTINCT FROM (m.crop, m.cleared_on, m.area_m2)),
		(SELECT count(*) FROM group_members m LEFT JOIN overlap_groups g ON g.id = m.group_id
		 WHERE g.id IS NULL OR g.district_code <> m.district_code),
		(SELECT count(*) FROM overlap_groups g WHERE (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) < 2)`).
		Scan(&strays, &misfiled, &small)
	if err != nil {
		t.Fatal(err)
	}
	if strays != 0 || misfiled != 0 || small != 0 {
		t.Errorf("%d members that are not their parts, %d not in a group of their district, %d groups of fewer than two", strays, misfiled, small)
	}
	from, to := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	for _, filter := range []acreage.Filter{{}, {Crop: "poppy"}, {Crop: "cannabis"}, {From: from, To: to},
		{Crop: "poppy", From: from, To: to}, {From: day(3)}, {To: day(15)}, {From: day(10), To: day(12)},
		{Crop: "cannabis", From: day(14), To: day(27)}, {From: day(20), To: day(20)}} {
		want := f.recompute(t, filter)
		got := f.districts(t, filter)
		summary, err := acreage.GetSummary(ctx, f.pool, filter, 40659)
		if err != nil {
			t.Fatal(err)
		}
		for code := range want {
			_, district := got[code]
			province := slices.ContainsFunc(summary.ByProvince, func(p acreage.Province) bool { return p.Code == code })
			if !district && !province && code != acreage.National {
				t.Errorf("%+v: %s recomputed but not read", filter, code)
			}
		}
		for code, d := range got {
			w := want[code]
			what := fmt.Sprintf("%s %+v", code, filter)
			within(t, what+" acres", d.Acres, w.net)
			within(t, what+" gross", d.GrossAcres, w.gross)
			within(t, what+" poppy", d.AcresPoppy, w.poppy)
			within(t, what+" cannabis", d.AcresCannabis, w.cannabis)
			last := ""
			if d.LastClearedOn != nil {
				last = *d.LastClearedOn
			}
			if d.Fields != w.fields || d.MappedFeatures != w.features || last != w.last {
				t.Errorf("%s: %d fields, %d features, last %q; recomputed %d, %d, %q", what, d.Fields, d.MappedFeatures, last, w.fields, w.features, w.last)
			}
		}
		for _, p := range summary.ByProvince {
			if w := want[p.Code]; p.Fields != w.fields || p.MappedFeatures != w.features {
				t.Errorf("province %s %+v: %d fields, %d features; recomputed %d, %d", p.Code, filter, p.Fields, p.MappedFeatures, w.fields, w.features)
			}
		}
		if w := want[acreage.National]; summary.Fields != w.fields || summary.MappedFeatures != w.features {
			t.Errorf("national %+v: %d fields, %d features; recomputed %d, %d", filter, summary.Fields, summary.MappedFeatures, w.fields, w.features)
		}
		if len(want) == 0 && filter == (acreage.Filter{}) {
			t.Fatal("nothing to compare")
		}
	}
}

func nullDate(d time.Time) *time.Time {
	if d.IsZero() {
		return nil
	}
	return &d
}

// TestGroupsWithManyDays covers a group with more member days than get
// steps: it is unioned per request, and must count the same.
func TestGroupsWithManyDays(t *testing.T) {
	f := newFixture(t)
	var features []string
	for i := 0; i < 20; i++ {
		features = append(features, field(fmt.Sprintf("CH-%d", i), []string{"poppy", "cannabis"}[i%2],
			fmt.Sprintf("2026-03-%02d", 1+i), "Polygon", square(71.30+float64(i)*0.0005, 34.0, 0.002)))
	}
	f.upload(t, features[:10]...)
	f.upload(t, poppy("LONE", 71.20, 34.02, 0.002), poppy("PAIR", 71.201, 34.02, 0.002))
	f.upload(t, features[10:]...)
	var stepped, unstepped int
	if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE stepped), count(*) FILTER (WHERE NOT stepped) FROM overlap_groups").Scan(&stepped, &unstepped); err != nil {
		t.Fatal(err)
	}
	if stepped != 1 || unstepped != 1 {
		t.Fatalf("%d stepped and %d unstepped groups, want 1 and 1", stepped, unstepped)
	}
	f.matchesRecomputation(t)
}

// TestProgressOverTwoYears stores 3,000 fields cleared over two years, some
// overlapping a neighbour cleared on another day, and reads them by week and
// by month: the weeks run Monday to Sunday without a gap, every week's
// cumulative figure is the summary's up to its end, and the series ends at
// the summary's figure. It logs how long the series take.
func TestProgressOverTwoYears(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(16, 5))
	first := time.Date(2024, 11, 28, 0, 0, 0, 0, time.UTC)
	var features []string
	for i := range 3000 {
		lon, lat := 71.05+float64(i%60)*0.003, 33.6+float64(i/60)*0.003
		if rng.IntN(20) == 0 {
			lon -= 0.0015 // over the western neighbour
		}
		crop := [2]string{"poppy", "cannabis"}[rng.IntN(10)/9]
		day := first.AddDate(0, 0, rng.IntN(730)).Format(time.DateOnly)
		features = append(features, field(fmt.Sprintf("Y-%d", i), crop, day, "Polygon", square(lon, lat, 0.002)))
		if len(features) == 500 {
			f.upload(t, features...)
			features = nil
		}
	}
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	summary, err := acreage.GetSummary(ctx, f.pool, acreage.Filter{}, 40659)
	if err != nil {
		t.Fatal(err)
	}
	for _, by := range []string{"week", "month"} {
		began := time.Now()
		p, err := acreage.GetProgress(ctx, f.pool, acreage.Filter{}, by, today, 40659)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("by %s: %d periods in %v", by, len(p.Periods), time.Since(began))
		if n := len(p.Periods); by == "week" && (n < 104 || n > 106) || by == "month" && n != 25 {
			t.Fatalf("by %s: %d periods", by, n)
		}
		var sum float64
		for i, period := range p.Periods {
			start, err := time.Parse(time.DateOnly, period.Start)
			if err != nil {
				t.Fatal(err)
			}
			end, err := time.Parse(time.DateOnly, period.End)
			if err != nil {
				t.Fatal(err)
			}
			if by == "week" && (start.Weekday() != time.Monday || end != start.AddDate(0, 0, 6)) ||
				i > 0 && p.Periods[i-1].End != start.AddDate(0, 0, -1).Format(time.DateOnly) {
				t.Fatalf("by %s: period %d is %s..%s after %+v", by, i, period.Start, period.End, p.Periods[max(i-1, 0)])
			}
			sum += period.Acres
			if by == "week" {
				s, err := acreage.GetSummary(ctx, f.pool, acreage.Filter{To: end}, 40659)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(period.CumulativeAcres-s.MappedAcres) > 1e-6 || math.Abs(sum-s.MappedAcres) > 1e-6 {
					t.Fatalf("week %s: cumulative %v, weeks so far %v; the summary to its end %v", period.Start, period.CumulativeAcres, sum, s.MappedAcres)
				}
			}
		}
		if last := p.Periods[len(p.Periods)-1]; last.Start != "2026-11-01" && last.Start != "2026-11-23" ||
			math.Abs(last.CumulativeAcres-summary.MappedAcres) > 1e-6 || math.Abs(sum-summary.MappedAcres) > 1e-6 ||
			summary.MappedAcres < 28000 || summary.MappedAcres > 31500 || p.TargetAcres != 40659 {
			t.Fatalf("by %s: last period %+v, periods add up to %v; summary %v", by, last, sum, summary.MappedAcres)
		}
	}
}

// TestUploadsStoredMeanwhile stores and retracts other uploads while an
// upload is between its two phases (planned against the fields stored
// when it began, not yet locked): copies of its fields, fields over them,
// an upload stored and retracted, the retraction of an earlier one. Under
// its locks the upload must take them all in: its copies of fields stored
// meanwhile are near-duplicates, the groups it planned are measured again
// where their members changed, and every figure matches a recomputation,
// whether the groups are measured in line or planned and left pending.
func TestUploadsStoredMeanwhile(t *testing.T) {
	ctx := context.Background()
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) {
			f := newFixture(t)
			rng := rand.New(rand.NewPCG(9, 9))
			if !inline {
				defer acreage.SetStepsInline(0)()
			}
			f.randomUploads(t, rng, 6, 1)
			var uploads []int64
			if err := f.pool.QueryRow(ctx, "SELECT array_agg(id ORDER BY id) FROM uploads WHERE status = 'accepted'").Scan(&uploads); err != nil {
				t.Fatal(err)
			}
			square := func(id, crop, day string, lon, lat, side float64) string {
				return field(id, crop, day, "Polygon", square(lon, lat, side))
			}
			for round := range 4 {
				type shape struct {
					crop           string
					lon, lat, side float64
				}
				var shapes []shape
				var features []string
				for i := range 12 {
					sh := shape{[]string{"poppy", "cannabis"}[rng.IntN(2)], 71.30 + rng.Float64()*0.02, 34.00 + rng.Float64()*0.01, 0.001 + rng.Float64()*0.002}
					shapes = append(shapes, sh)
					features = append(features, square(fmt.Sprintf("U%d-%d", round, i), sh.crop, fmt.Sprintf("2026-03-%02d", 1+rng.IntN(28)), sh.lon, sh.lat, sh.side))
				}
				// A field over two stored fields that overlap nothing else,
				// in uploads of their own: the first is retracted
				// meanwhile, and the group planned with both is not the one
				// written.
				// And a field over one such stored field, retracted
				// meanwhile: the upload's field is left in no group.
				lone := 71.34 + float64(round)*0.01
				lonely := f.upload(t, square(fmt.Sprintf("L%d-1", round), "poppy", "2026-03-05", lone, 34.05, 0.002),
					square(fmt.Sprintf("M%d", round), "cannabis", "2026-03-05", lone, 34.06, 0.002))
				f.upload(t, square(fmt.Sprintf("L%d-2", round), "poppy", "2026-03-06", lone+0.0025, 34.05, 0.002))
				features = append(features, square(fmt.Sprintf("U%d-L", round), "poppy", "2026-03-07", lone+0.001, 34.0505, 0.0025),
					square(fmt.Sprintf("U%d-M", round), "cannabis", "2026-03-07", lone+0.0005, 34.0605, 0.002))
				// Copies of stored fields: the upload joins their fields.
				rows, err := f.pool.Query(ctx, `SELECT ST_AsGeoJSON(ST_Translate(geom, 0.00002, 0)), crop, upload_id FROM clearances
					WHERE NOT retracted ORDER BY id OFFSET $1 LIMIT 3`, rng.IntN(40))
				if err != nil {
					t.Fatal(err)
				}
				var copiedUpload int64
				for rows.Next() {
					var geometry, crop string
					if err := rows.Scan(&geometry, &crop, &copiedUpload); err != nil {
						t.Fatal(err)
					}
					features = append(features, fmt.Sprintf(`{"type":"Feature","properties":{"crop":%q,"cleared_on":"2026-03-09"},"geometry":%s}`, crop, geometry))
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}

				// Meanwhile, each touching a quarter of the upload's fields:
				// another team's copies (nudged, another day), fields half
				// over them, an upload over them stored and retracted; and
				// the retractions of the upload of a field it copies, whose
				// planned groups lose that field, and of the first lonely
				// field. The last quarter's groups stay as planned.
				copied := map[string]bool{}
				restore := acreage.SetBeforeLock(func() {
					var copies, over, gone []string
					for i, sh := range shapes {
						switch i % 4 {
						case 0:
							copied[fmt.Sprintf("U%d-%d", round, i)] = true
							copies = append(copies, square(fmt.Sprintf("V%d-%d", round, i), sh.crop, "2026-03-20", sh.lon+sh.side*0.02, sh.lat, sh.side))
						case 1:
							over = append(over, square(fmt.Sprintf("W%d-%d", round, i), sh.crop, "2026-03-21", sh.lon+sh.side/2, sh.lat+sh.side/3, sh.side))
						case 2:
							gone = append(gone, square(fmt.Sprintf("X%d-%d", round, i), "poppy", "2026-03-22", sh.lon-sh.side/3, sh.lat, sh.side))
						}
					}
					uploads = append(uploads, f.upload(t, copies...), f.upload(t, over...))
					for _, id := range []int64{f.upload(t, gone...), copiedUpload, lonely} {
						if _, err := ingest.Retract(ctx, f.pool, id, "admin"); err != nil {
							t.Fatal(err)
						}
					}
				})
				id := f.upload(t, features...)
				restore()
				if len(copied) == 0 {
					t.Fatal("the upload did not lock")
				}
				uploads = append(uploads, id)
				rows, err = f.pool.Query(ctx, "SELECT field_id, duplicate_of IS NOT NULL FROM clearances WHERE upload_id = $1 AND field_id IS NOT NULL", id)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var fieldID string
					var duplicate bool
					if err := rows.Scan(&fieldID, &duplicate); err != nil {
						t.Fatal(err)
					}
					if copied[fieldID] && !duplicate {
						t.Errorf("round %d: %s, copied while it was stored, is not a near-duplicate", round, fieldID)
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				f.matchesRecomputation(t)
			}
		})
	}
}
