package api_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// loadUploads are the uploads of the load test: 12 of 40 fields, each
// field overlapping one of the next upload's by half, so concurrent
// uploads meet in the same overlap groups and districts.
func loadUploads() [][]byte {
	var out [][]byte
	for u := range 12 {
		var fs []string
		for i := range 40 {
			lon := 71.02 + float64(i%10)*0.004 + float64(u)*0.001
			lat := 33.92 + float64(i/10)*0.004
			f := fieldAt(fmt.Sprintf("L%d-%d", u, i), lon, lat)
			if (u+i)%3 == 0 {
				f = strings.Replace(f, "poppy", "cannabis", 1)
			}
			fs = append(fs, strings.Replace(f, "2026-03-14", fmt.Sprintf("2026-03-%02d", 1+(u*7+i)%28), 1))
		}
		out = append(out, []byte(`{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`]}`))
	}
	return out
}

// TestLoad sends the uploads from four teams at once, each twice (a retry
// after a dropped connection), while four readers fetch tiles, the summary
// and OGC items; a bounded number of requests within a time limit. Then
// every field is stored exactly once and every figure equals that of the
// same uploads sent one by one to a fresh server.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ctx := context.Background()
	uploads := loadUploads()
	opts := func(d *api.Deps) { d.UploadsPerMinute = 0 }
	loaded := startWith(t, testdb.WithBoundaries(t), opts)
	analyst, _ := auth.Create(ctx, loaded.pool, "reader", auth.Analyst, "test")

	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	created := make([]int, len(uploads))
	for team := range 4 {
		token, _ := auth.Create(ctx, loaded.pool, fmt.Sprintf("team-%d", team), auth.Uploader, "test")
		wg.Go(func() {
			for u := team; u < len(uploads); u += 4 {
				for range 2 {
					r := loaded.post(t, "/api/v1/uploads", token, "application/geo+json", uploads[u])
					switch r.status {
					case 201:
						mu.Lock()
						created[u]++
						mu.Unlock()
					case 200:
					default:
						fail("upload %d: %d %.200s", u, r.status, r.body)
					}
				}
			}
		})
	}
	paths := []string{"/tiles/12/2856/1642.mvt", "/tiles/9/357/205.mvt", "/tiles/6/44/25.mvt", "/api/v1/summary",
		"/api/v1/districts?crop=poppy", "/ogc/collections/clearances/items?limit=50&bbox=71,33.9,71.1,34"}
	reads := 0
	for reader := range 4 {
		wg.Go(func() {
			for i := range 60 {
				if ctx.Err() != nil {
					fail("reader %d out of time", reader)
					return
				}
				path := paths[(reader+i)%len(paths)]
				r := loaded.do(t, "GET", path, analyst, "")
				if r.status != 200 {
					fail("GET %s: %d %.200s", path, r.status, r.body)
				}
				mu.Lock()
				reads++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	for u, n := range created {
		if n != 1 {
			t.Fatalf("upload %d created %d times", u, n)
		}
	}

	// The same uploads one by one on a fresh server.
	serial := startWith(t, testdb.WithBoundaries(t), opts)
	token, _ := auth.Create(context.Background(), serial.pool, "team", auth.Uploader, "test")
	reader, _ := auth.Create(context.Background(), serial.pool, "reader", auth.Analyst, "test")
	for u, body := range uploads {
		if r := serial.post(t, "/api/v1/uploads", token, "application/geo+json", body); r.status != 201 {
			t.Fatalf("serial upload %d: %d", u, r.status)
		}
	}
	var n [2]int
	for i, s := range []*service{loaded, serial} {
		s.pool.QueryRow(context.Background(), "SELECT count(*) FROM clearances").Scan(&n[i])
	}
	if n[0] != 12*40 || n[1] != 12*40 {
		t.Fatalf("fields stored: %d under load, %d serially; want %d each", n[0], n[1], 12*40)
	}
	for _, q := range []string{"", "?crop=poppy", "?crop=cannabis", "?from=2026-03-05&to=2026-03-20"} {
		var a, b struct {
			MappedAcres float64 `json:"mapped_acres"`
			GrossAcres  float64 `json:"gross_acres"`
			Fields      int
		}
		loaded.do(t, "GET", "/api/v1/summary"+q, analyst, "").json(t, &a)
		serial.do(t, "GET", "/api/v1/summary"+q, reader, "").json(t, &b)
		if a.Fields != b.Fields || math.Abs(a.MappedAcres-b.MappedAcres) > 1e-6 || math.Abs(a.GrossAcres-b.GrossAcres) > 1e-6 || a.MappedAcres <= 0 {
			t.Fatalf("summary%s under load %+v, serially %+v", q, a, b)
		}
		if a.MappedAcres >= a.GrossAcres {
			t.Fatalf("summary%s: net %v not below gross %v although fields overlap", q, a.MappedAcres, a.GrossAcres)
		}
	}
	var da, db []struct {
		Code       string
		Acres      float64
		GrossAcres float64 `json:"gross_acres"`
		Fields     int
	}
	loaded.do(t, "GET", "/api/v1/districts", analyst, "").json(t, &da)
	serial.do(t, "GET", "/api/v1/districts", reader, "").json(t, &db)
	for i := range da {
		if da[i].Code != db[i].Code || da[i].Fields != db[i].Fields || math.Abs(da[i].Acres-db[i].Acres) > 1e-6 || math.Abs(da[i].GrossAcres-db[i].GrossAcres) > 1e-6 {
			t.Fatalf("district %s under load %+v, serially %+v", da[i].Code, da[i], db[i])
		}
	}
	t.Logf("%d uploads (each sent twice) and %d reads at once", len(uploads), reads)
}
