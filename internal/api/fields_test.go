package api_test

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"clearmap/internal/auth"
)

// fieldCounts is what every read says `fields` is, under one query.
type fieldCounts struct {
	national, kp, khyber, peshawar      int // summary JSON
	khyberList, peshawarList, khyberCSV int // district list JSON and CSV
	khyberOne                           int // GET /api/v1/districts/PK-KP-KHYBER
	khyberTile                          int // the districts layer of a tile
	khyberOGC, peshawarOGC              int // OGC district items
	features                            int // summary mapped_features
	mappedAcres                         float64
}

// readFieldCounts reads `fields` from each place that shows it, with query
// (crop, from, to) applied.
func readFieldCounts(t *testing.T, s *service, token, query string) fieldCounts {
	t.Helper()
	var c fieldCounts
	var summary struct {
		Fields         int
		MappedFeatures int     `json:"mapped_features"`
		MappedAcres    float64 `json:"mapped_acres"`
		ByProvince     []struct {
			Code   string
			Fields int
		} `json:"by_province"`
	}
	s.do(t, "GET", "/api/v1/summary?"+query, token, "").json(t, &summary)
	c.national, c.features, c.mappedAcres = summary.Fields, summary.MappedFeatures, summary.MappedAcres
	for _, p := range summary.ByProvince {
		if p.Code == "PK-KP" {
			c.kp = p.Fields
		}
	}

	var list []struct {
		Code   string
		Fields int
	}
	s.do(t, "GET", "/api/v1/districts?province=PK-KP&"+query, token, "").json(t, &list)
	for _, d := range list {
		switch d.Code {
		case "PK-KP-KHYBER":
			c.khyberList = d.Fields
		case "PK-KP-PESHAWAR":
			c.peshawarList = d.Fields
		}
	}
	c.khyber, c.peshawar = c.khyberList, c.peshawarList

	r := s.do(t, "GET", "/api/v1/districts?format=csv&"+query, token, "")
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || r.status != 200 || len(rows) < 2 {
		t.Fatalf("csv: %d %v %q", r.status, err, r.body)
	}
	column := -1
	for i, name := range rows[0] {
		if name == "fields" {
			column = i
		}
	}
	for _, row := range rows[1:] {
		if row[0] == "PK-KP-KHYBER" && column >= 0 {
			if c.khyberCSV, err = strconv.Atoi(row[column]); err != nil {
				t.Fatalf("csv fields %q: %v", row[column], err)
			}
		}
	}

	var one struct{ Fields int }
	s.do(t, "GET", "/api/v1/districts/PK-KP-KHYBER?"+query, token, "").json(t, &one)
	c.khyberOne = one.Fields

	layers := decodeTile(t, s.send(t, "GET", tileOf(71.1, 34.05, 6)+"?"+query, token, nil), false)
	if d := layers["districts"]; d != nil {
		for _, f := range d.Features {
			if f.Properties["code"] == "PK-KP-KHYBER" {
				c.khyberTile = int(f.Properties["fields"].(float64))
			}
		}
	}

	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	ogcQuery := url.Values{"limit": {"200"}}
	if crop := q.Get("crop"); crop != "" {
		ogcQuery.Set("crop", crop)
	}
	if from, to := q.Get("from"), q.Get("to"); from != "" || to != "" {
		ogcQuery.Set("datetime", cmp.Or(from, "..")+"/"+cmp.Or(to, ".."))
	}
	var page itemsPage
	s.do(t, "GET", "/ogc/collections/districts/items?"+ogcQuery.Encode(), token, "").json(t, &page)
	for _, f := range page.Features {
		n, _ := f.Properties["fields"].(float64)
		switch f.ID {
		case "PK-KP-KHYBER":
			c.khyberOGC = int(n)
		case "PK-KP-PESHAWAR":
			c.peshawarOGC = int(n)
		}
	}
	return c
}

// want says every read shows the same field counts.
func (c fieldCounts) want(t *testing.T, what string, national, khyber, peshawar, features int) {
	t.Helper()
	got := []int{c.national, c.kp, c.khyberList, c.khyberCSV, c.khyberOne, c.khyberTile, c.khyberOGC, c.peshawarList, c.peshawarOGC, c.features}
	want := []int{national, national, khyber, khyber, khyber, khyber, khyber, peshawar, peshawar, features}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: fields national, KP, Khyber (list, CSV, one, tile, OGC), Peshawar (list, OGC), mapped_features = %v; want %v", what, got, want)
	}
}

// TestFieldsCountNearDuplicatesOnce uploads 40 fields, then the same 40
// from a second uploader (flagged as near-duplicates): fields stay 40 in
// every read, and retracting the first upload leaves them counted through
// the second.
func TestFieldsCountNearDuplicatesOnce(t *testing.T) {
	s, tokens := uploadService(t)
	analyst, admin := tokens[auth.Analyst], tokens[auth.Admin]
	second, err := auth.Create(context.Background(), s.pool, "t-uploader-2", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	// 39 fields in Khyber and one across the Khyber–Peshawar border; every
	// fourth cannabis. The second uploader's copies of fields 20–39 say they
	// were cleared on 2026-04-20.
	batch := func(prefix string, lateDay string) []byte {
		var fs []string
		for i := 0; i < 40; i++ {
			f := fieldAt(fmt.Sprintf("%s-%02d", prefix, i), 71.10+float64(i%8)*0.004, 34.00+float64(i/8)*0.004)
			if i == 39 {
				f = fieldAt(fmt.Sprintf("%s-%02d", prefix, i), 71.5006, 33.7709)
			}
			if i%4 == 0 {
				f = strings.Replace(f, "poppy", "cannabis", 1)
			}
			if i >= 20 {
				f = strings.Replace(f, "2026-03-14", lateDay, 1)
			}
			fs = append(fs, f)
		}
		return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`)
	}
	upload := func(token string, body []byte) int64 {
		var rc receipt
		r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
		r.json(t, &rc)
		if r.status != 201 || rc.Features != 40 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		return rc.ID
	}
	first := upload(tokens[auth.Uploader], batch("F", "2026-03-14"))
	once := readFieldCounts(t, s, analyst, "")
	once.want(t, "one upload", 40, 40, 1, 40)

	later := upload(second, batch("G", "2026-04-20"))
	var dups int
	if err := s.pool.QueryRow(context.Background(),
		"SELECT count(*) FROM clearances WHERE upload_id = $1 AND duplicate_of IS NOT NULL", later).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 40 {
		t.Fatalf("%d of the second upload's fields flagged near-duplicates, want 40", dups)
	}
	twice := readFieldCounts(t, s, analyst, "")
	twice.want(t, "the same 40 again", 40, 40, 1, 80)
	if twice.mappedAcres != once.mappedAcres {
		t.Errorf("mapped acres %v after the re-upload, want %v", twice.mappedAcres, once.mappedAcres)
	}
	// Dated and crop filters: the range decides which clearances count, and
	// a field counts once if any of its clearances is in range.
	readFieldCounts(t, s, analyst, "from=2026-04-01").want(t, "from April", 20, 20, 1, 20)
	readFieldCounts(t, s, analyst, "from=2026-03-01&to=2026-03-31").want(t, "March", 40, 40, 1, 60)
	readFieldCounts(t, s, analyst, "crop=cannabis").want(t, "cannabis", 10, 10, 0, 20)
	readFieldCounts(t, s, analyst, "crop=poppy&from=2026-04-01").want(t, "poppy from April", 15, 15, 1, 15)

	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", first), admin, ""); r.status != 200 {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}
	kept := readFieldCounts(t, s, analyst, "")
	kept.want(t, "after retracting the first upload", 40, 40, 1, 40)
	if kept.mappedAcres != once.mappedAcres {
		t.Errorf("mapped acres %v after retracting the first upload, want %v", kept.mappedAcres, once.mappedAcres)
	}
	readFieldCounts(t, s, analyst, "from=2026-04-01").want(t, "from April, first retracted", 20, 20, 1, 20)
	readFieldCounts(t, s, analyst, "to=2026-03-31").want(t, "to March, first retracted", 20, 20, 0, 20)
	readFieldCounts(t, s, analyst, "crop=cannabis&to=2026-03-31").want(t, "cannabis to March, first retracted", 5, 5, 0, 5)

	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", later), admin, ""); r.status != 200 {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}
	none := readFieldCounts(t, s, analyst, "")
	none.want(t, "after retracting both", 0, 0, 0, 0)
	if none.mappedAcres != 0 {
		t.Errorf("mapped acres %v after retracting both", none.mappedAcres)
	}
	readFieldCounts(t, s, analyst, "from=2026-03-01&to=2026-04-30").want(t, "dated, both retracted", 0, 0, 0, 0)
}
