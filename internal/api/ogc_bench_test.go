package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"clearmap/internal/auth"
	"clearmap/internal/features"
	"clearmap/internal/fieldgen"
)

// go test -run '^$' -bench BenchmarkOGC -benchtime 2s ./internal/api/
// (results and the command in docs/benchmarks.md)

// getBody asks for path and reads the whole answer, returning its size.
func getBody(b *testing.B, url, token string) int64 {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%s: %d %v", url, resp.StatusCode, err)
	}
	return n
}

// BenchmarkOGCPages times pages of 100,000 generated fields at the start,
// the middle and the end: read by key, a page costs the same at any depth.
// The offset sub-benchmarks run the query offset paging ran (SQL only) at
// the same depths, for comparison.
func BenchmarkOGCPages(b *testing.B) {
	s, tokens := bigUploadService(b)
	var body bytes.Buffer
	if err := fieldgen.Write(&body, 0, 100000, false, 1); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.url+"/api/v1/uploads", &body)
	req.Header.Set("Authorization", "Bearer "+tokens[auth.Uploader])
	req.Header.Set("Content-Type", "application/geo+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		b.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	var first, last, n int64
	if err := s.pool.QueryRow(context.Background(), "SELECT min(id), max(id), count(*) FROM clearances WHERE NOT retracted").Scan(&first, &last, &n); err != nil || n != 100000 {
		b.Fatalf("%d stored: %v", n, err)
	}
	analyst := tokens[auth.Analyst]
	for _, limit := range []int64{10, 1000} {
		for _, at := range []struct {
			name  string
			after int64
		}{{"first", 0}, {"middle", first + n/2}, {"last", last - limit}} {
			b.Run(fmt.Sprintf("cursor/limit=%d/%s", limit, at.name), func(b *testing.B) {
				url := fmt.Sprintf("%s/ogc/collections/clearances/items?limit=%d", s.url, limit)
				if at.after > 0 {
					url += "&cursor=" + features.Cursor("clearances", strconv.FormatInt(at.after, 10))
				}
				var size int64
				for b.Loop() {
					size = getBody(b, url, analyst)
				}
				b.SetBytes(size)
			})
		}
		for _, offset := range []int64{0, n / 2, n - limit} {
			b.Run(fmt.Sprintf("offset/limit=%d/offset=%d", limit, offset), func(b *testing.B) {
				for b.Loop() {
					rows, err := s.pool.Query(context.Background(), `SELECT json_build_object('type', 'Feature', 'id', c.id,
						'geometry', ST_AsGeoJSON(c.geom, 7)::json, 'properties', json_build_object('crop', c.crop)) FROM clearances c
						WHERE NOT c.retracted ORDER BY c.id LIMIT $1 OFFSET $2`, limit, offset)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					if rows.Err() != nil {
						b.Fatal(rows.Err())
					}
				}
			})
		}
	}
}

// BenchmarkOGCLargePage reads a page of 10,000 fields of 1,000 vertices
// each (about 280 MB of GeoJSON) and reports the heap's peak while it is
// served: the page is streamed, so the heap stays a small fraction of it.
func BenchmarkOGCLargePage(b *testing.B) {
	s, tokens := bigUploadService(b)
	ctx := context.Background()
	// One small upload to hang them on, then the large fields straight in:
	// this measures reading them, not the ingest.
	req, _ := http.NewRequest("POST", s.url+"/api/v1/uploads", bytes.NewReader([]byte(`{"type":"FeatureCollection","features":[`+fieldAt("seed", 71.1, 34.05)+`]}`)))
	req.Header.Set("Authorization", "Bearer "+tokens[auth.Uploader])
	req.Header.Set("Content-Type", "application/geo+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		b.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO clearances (upload_id, feature_index, crop, cleared_on, props, area_m2, geom, geom_3857, point_3857, team, notes)
		SELECT 1, i, 'poppy', '2026-03-14', '{"source":"generated"}', ST_Area(g::geography), g, ST_Transform(g, 3857), ST_PointOnSurface(ST_Transform(g, 3857)),
		       'team ' || (i % 40), 'a field of a thousand vertices'
		FROM generate_series(1, 10000) i,
		     LATERAL (SELECT ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(70.9 + (i % 500) * 0.004, 30.1 + (i / 500) * 0.004), 4326), 0.0015, 250)) AS g) s`); err != nil {
		b.Fatal(err)
	}
	url := s.url + "/ogc/collections/clearances/items?limit=10000"
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if h := heap(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	}()
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		size = getBody(b, url, tokens[auth.Analyst])
	}
	close(done)
	b.SetBytes(size)
	b.ReportMetric(float64(size)/1e6, "response-MB")
	b.ReportMetric(float64(peak.Load())/1e6, "peak-heap-MB")
}
