package ingest

import (
	"bytes"
	"context"
	"testing"

	"clearmap/internal/boundaries"
	"clearmap/internal/fieldgen"
	"clearmap/internal/testdb"
)

// BenchmarkStage measures the Go side of an upload: decoding, the rules,
// reading, placing and encoding each geometry, up to the rows handed to
// COPY. PostgreSQL is only asked for the district pieces, once.
//
//	go test -run '^$' -bench Stage -benchtime 5x ./internal/ingest
func BenchmarkStage(b *testing.B) {
	const fields = 20000
	var body bytes.Buffer
	if err := fieldgen.Write(&body, 0, fields, false, 3); err != nil {
		b.Fatal(err)
	}
	var cache boundaries.PieceCache
	pieces, err := cache.Get(context.Background(), testdb.WithBoundaries(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(body.Len()))
	b.ResetTimer()
	for range b.N {
		st := &stager{dec: NewDecoder(bytes.NewReader(body.Bytes()), Document), today: testToday, seenIDs: map[string]int{}, pieces: pieces}
		st.start()
		rows := 0
		for st.Next() {
			rows++
		}
		st.close()
		if st.err != nil || rows != fields {
			b.Fatalf("%d rows, err %v", rows, st.err)
		}
	}
	b.ReportMetric(float64(fields*b.N)/b.Elapsed().Seconds(), "fields/s")
}
