package ingest_test

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"clearmap/internal/ingest"
)

// peakHeap runs f and returns how far the heap in use rose above where it
// stood before, sampled every millisecond. The collector runs when the
// heap has grown by a tenth, so what is measured is what f holds, not
// garbage left for a later collection.
func peakHeap(f func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base, peak := m.HeapInuse, m.HeapInuse
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak - base
}

// ring is a closed ring of n positions around a circle in Khyber.
func ring(n int) string {
	var b strings.Builder
	b.Grow(n * 24)
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		a := 2 * math.Pi * float64(i%(n-1)) / float64(n-1) // the last repeats the first
		fmt.Fprintf(&b, "[%.8f,%.8f]", 71.1+0.015*math.Cos(a), 34.05+0.015*math.Sin(a))
	}
	b.WriteString("]")
	return b.String()
}

func polygonFeature(rings ...string) string {
	return `{"type":"Feature","properties":{"field_id":"BIG","crop":"poppy","cleared_on":"2026-03-14"},` +
		`"geometry":{"type":"Polygon","coordinates":[` + strings.Join(rings, ",") + `]}}`
}

// TestGeometryLimits: a feature may have at most 100,000 positions, and a
// ring 50,000; past that the feature is a problem naming it, read without
// building the geometry.
func TestGeometryLimits(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, feature, msg string
	}{
		{"one ring too long", polygonFeature(ring(50_001)),
			"ring 0 has 50001 positions; a field's outline needs far fewer (at most 50000 a ring, 100000 a field): simplify it"},
		{"too many in all", polygonFeature(ring(40_000), ring(40_000), ring(40_000)),
			"the geometry has 120000 positions; a field's outline needs far fewer (at most 50000 a ring, 100000 a field): simplify it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := f.store(t, collection(squareFeature("OK", 71.2, 34.0, 0.001), c.feature))
			p := res.Receipt.Problems
			if res.Outcome != ingest.Rejected || len(p) != 1 || p[0].Index != 1 || p[0].FieldID != "BIG" ||
				p[0].Pointer != "/features/1/geometry" || p[0].Message != c.msg {
				t.Fatalf("outcome %v, problems %+v", res.Outcome, p)
			}
		})
	}
	// At the limit is fine: a 50,000-position ring is read and checked.
	res := f.store(t, polygonFeature(ring(50_000)))
	if res.Outcome != ingest.Created || res.Receipt.Features != 1 {
		t.Fatalf("a ring at the limit: %v %+v", res.Outcome, res.Receipt)
	}
}

// TestHugeBodiesAreReadInBoundedMemory: memory holds a bounded piece of a
// huge polygon or of a huge member nobody reads, not all of it.
func TestHugeBodiesAreReadInBoundedMemory(t *testing.T) {
	f := newFixture(t)
	const mb = 1 << 20

	// 1.2 million positions, 31 MB, in one polygon.
	huge := collection(polygonFeature(ring(1_200_000)))
	var res ingest.Result
	grew := peakHeap(func() { res = f.store(t, huge) })
	t.Logf("a %d MB polygon: heap rose %d MB", len(huge)/mb, grew/mb)
	if res.Outcome != ingest.Rejected || res.SyntaxError || !strings.Contains(res.Receipt.Error, "feature 0 is larger than 16 MiB") {
		t.Fatalf("huge polygon: %v %+v", res.Outcome, res.Receipt)
	}
	if grew > 80*mb {
		t.Errorf("a %d MB polygon took %d MB of heap", len(huge)/mb, grew/mb)
	}

	// 40 MB of a member nobody reads, then the features.
	junk := `{"type":"FeatureCollection","junk":["` + strings.Repeat(strings.Repeat("j", 1023)+`","`, 40<<10) + `"],` +
		`"features":[` + squareFeature("J-1", 71.1, 34.05, 0.001) + `]}`
	grew = peakHeap(func() { res = f.store(t, junk) })
	t.Logf("a %d MB unknown member: heap rose %d MB", len(junk)/mb, grew/mb)
	if res.Outcome != ingest.Created || res.Receipt.Features != 1 {
		t.Fatalf("junk member: %v %+v", res.Outcome, res.Receipt)
	}
	if grew > 32*mb {
		t.Errorf("a %d MB unknown member took %d MB of heap", len(junk)/mb, grew/mb)
	}
}
