package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// fieldAt is a 0.002° square poppy field (about 10 acres) in Khyber.
func fieldAt(id string, lon, lat float64) string {
	return fmt.Sprintf(`{"type":"Feature","properties":{"field_id":%q,"crop":"poppy","cleared_on":"2026-03-14"},`+
		`"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}`,
		id, lon, lat, lon+0.002, lat, lon+0.002, lat+0.002, lon, lat+0.002, lon, lat)
}

var field = fieldAt("F-1", 71.1, 34.05)

// uploadService is a running API with the shipped boundaries and a token
// per role.
func uploadService(t *testing.T) (*service, map[auth.Role]string) {
	t.Helper()
	s := start(t, testdb.WithBoundaries(t))
	tokens := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Uploader, auth.Analyst, auth.Admin} {
		secret, err := auth.Create(context.Background(), s.pool, "t-"+string(role), role, "test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = secret
	}
	return s, tokens
}

func (s *service) post(t *testing.T, path, token, contentType string, body []byte, header ...string) response {
	t.Helper()
	return s.send(t, "POST", path, token, body, append([]string{"Content-Type", contentType}, header...)...)
}

type receipt struct {
	ID        int64
	Status    string
	Error     string
	Features  int
	Acres     float64
	Districts []struct {
		Code  string
		Acres float64
	}
	Problems []struct {
		Index   int
		FieldID string `json:"field_id"`
		Pointer string
		Message string
	}
}

func TestUploadFormats(t *testing.T) {
	s, tokens := uploadService(t)
	up := tokens[auth.Uploader]

	multipartBody := func(name, content string) ([]byte, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("note", "from the browser")
		w, _ := mw.CreateFormFile(name, "fields.geojson")
		io.WriteString(w, content)
		mw.Close()
		return buf.Bytes(), mw.FormDataContentType()
	}
	// Fields side by side, so none is a near-duplicate of another.
	next := 71.1
	f := func(id string) string { next += 0.004; return fieldAt(id, next, 34.05) }
	mp, mpType := multipartBody("file", `{"type":"FeatureCollection","features":[`+f("MP-1")+`]}`)
	seqMP, seqMPType := multipartBody("file", "\x1e"+f("MP-SEQ")+"\n")

	for _, c := range []struct {
		name, contentType string
		body              []byte
	}{
		{"geo+json collection", "application/geo+json", []byte(`{"type":"FeatureCollection","features":[` + f("GJ-1") + `]}`)},
		{"json feature", "application/json; charset=utf-8", []byte(f("J-1"))},
		{"no content type", "", []byte(f("NC-1"))},
		{"geojson-seq", "application/geo+json-seq", []byte("\x1e" + f("SEQ-1") + "\n\x1e" + f("SEQ-2") + "\n")},
		{"ndjson", "application/x-ndjson", []byte(f("ND-1") + "\n" + f("ND-2") + "\n")},
		{"multipart", mpType, mp},
		{"multipart with a sequence", seqMPType, seqMP},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			r := s.post(t, "/api/v1/uploads", up, c.contentType, body)
			var rc receipt
			r.json(t, &rc)
			want := bytes.Count(body, []byte(`"Feature"`))
			if r.status != 201 || rc.Status != "accepted" || rc.Features != want || rc.Acres < 10.1 || rc.Acres > 10.2*float64(want) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}

	var stored []string
	rows, _ := s.pool.Query(context.Background(), "SELECT u.content_type || ' ' || c.field_id FROM clearances c JOIN uploads u ON u.id = c.upload_id ORDER BY c.id")
	for rows.Next() {
		var v string
		rows.Scan(&v)
		stored = append(stored, v)
	}
	want := "application/geo+json GJ-1,application/json J-1,application/geo+json NC-1,application/geo+json-seq SEQ-1,application/geo+json-seq SEQ-2," +
		"application/x-ndjson ND-1,application/x-ndjson ND-2,application/octet-stream MP-1,application/octet-stream MP-SEQ"
	if strings.Join(stored, ",") != want {
		t.Fatalf("stored %v", stored)
	}
}

func TestUploadErrors(t *testing.T) {
	s, tokens := uploadService(t)
	up := tokens[auth.Uploader]
	fc := `{"type":"FeatureCollection","features":[` + field + `]}`
	for _, c := range []struct {
		name, path, contentType, body string
		status                        int
		msg                           string
		stored                        bool // a rejected upload row is kept
	}{
		{"wrong content type", "/api/v1/uploads", "text/csv", "a,b", 415, `Content-Type "text/csv" is not accepted`, false},
		{"unreadable content type", "/api/v1/uploads", "application/", "{}", 415, "cannot be read", false},
		{"multipart without file", "/api/v1/uploads", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--x--\r\n", 400, `the form has no "file" field`, false},
		{"bad crop in query", "/api/v1/uploads?crop=wheat", "application/geo+json", fc, 400, `crop="wheat": want poppy or cannabis`, false},
		{"bad date in query", "/api/v1/uploads?cleared_on=yesterday", "application/geo+json", fc, 400, `cleared_on="yesterday": want a date`, false},
		{"bad partial", "/api/v1/uploads?partial=maybe", "application/geo+json", fc, 400, `partial="maybe": want true or false`, false},
		{"not JSON", "/api/v1/uploads", "application/geo+json", "crop,geometry\npoppy,POLYGON", 400, "body is not valid GeoJSON at byte", true},
		{"bad feature", "/api/v1/uploads", "application/geo+json", strings.Replace(fc, "poppy", "wheat", 1), 422, "1 of 1 features have problems; nothing was stored", true},
		{"too large", "/api/v1/uploads", "application/geo+json", `{"type":"FeatureCollection","features":[` + strings.Repeat(field+",", 400) + field + `]}`, 413, "the upload is larger than 65536 bytes", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before int
			s.pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads").Scan(&before)
			wantError(t, s.post(t, c.path, up, c.contentType, []byte(c.body)), c.status, c.msg)
			var after, clearances int
			s.pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads").Scan(&after)
			s.pool.QueryRow(context.Background(), "SELECT count(*) FROM clearances").Scan(&clearances)
			if clearances != 0 || (after == before+1) != c.stored || (after != before && !c.stored) {
				t.Fatalf("uploads %d → %d, clearances %d", before, after, clearances)
			}
		})
	}

	r := s.post(t, "/api/v1/uploads", up, "application/geo+json", []byte(strings.Replace(fc, "poppy", "wheat", 1)))
	rc := wantProblem(t, r, 422, "/problems/upload-rejected", "nothing was stored")
	if len(rc.Problems) != 1 || rc.Problems[0].Pointer != "/features/0/properties/crop" || rc.Problems[0].FieldID != "F-1" || rc.Problems[0].Message != `crop "wheat" is not poppy or cannabis` {
		t.Fatalf("problems %+v", rc.Problems)
	}

	wantError(t, s.post(t, "/api/v1/uploads", tokens[auth.Analyst], "application/geo+json", []byte(fc)), 403, "the analyst role may not do this")
	wantError(t, s.post(t, "/api/v1/uploads", "", "application/geo+json", []byte(fc)), 401, "a token is required")
}

func TestUploadRepeatsAndKeys(t *testing.T) {
	s, tokens := uploadService(t)
	up := tokens[auth.Uploader]
	body := []byte(`{"type":"FeatureCollection","features":[` + field + `]}`)
	first := s.post(t, "/api/v1/uploads", up, "application/geo+json", body)
	again := s.post(t, "/api/v1/uploads", up, "application/geo+json", body)
	if first.status != 201 || again.status != 200 || again.body != first.body {
		t.Fatalf("first %d %s\nagain %d %s", first.status, first.body, again.status, again.body)
	}
	k1 := s.post(t, "/api/v1/uploads?crop=poppy", up, "application/geo+json", body, "Idempotency-Key", "k-1")
	k2 := s.post(t, "/api/v1/uploads?crop=poppy", up, "application/geo+json", body, "Idempotency-Key", "k-1")
	if k1.status != 201 || k2.status != 200 || k1.body != k2.body {
		t.Fatalf("keyed: %d %d", k1.status, k2.status)
	}
	other := []byte(`{"type":"FeatureCollection","features":[` + fieldAt("F-2", 71.2, 34.0) + `]}`)
	wantError(t, s.post(t, "/api/v1/uploads?crop=poppy", up, "application/geo+json", other, "Idempotency-Key", "k-1"), 422, "this Idempotency-Key was used for a different upload")
	wantError(t, s.post(t, "/api/v1/uploads", up, "application/geo+json", body, "Idempotency-Key", strings.Repeat("k", 256)), 400, "Idempotency-Key is longer than 255 characters")
}

func TestUploadsListReceiptRawAndRetraction(t *testing.T) {
	ctx := context.Background()
	s, tokens := uploadService(t)
	other, _ := auth.Create(ctx, s.pool, "other-team", auth.Uploader, "test")
	var ids []int64
	var bodies []string
	for i := 0; i < 3; i++ {
		body := fmt.Sprintf(`{"type":"FeatureCollection","features":[%s]}`, fieldAt("F-1", 71.1, 34.01+0.01*float64(i)))
		r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", []byte(body))
		var rc receipt
		r.json(t, &rc)
		if r.status != 201 {
			t.Fatal(r.body)
		}
		ids, bodies = append(ids, rc.ID), append(bodies, body)
	}
	s.post(t, "/api/v1/uploads", other, "application/geo+json", []byte(`{"type":"FeatureCollection","features":[`+fieldAt("O-1", 71.3, 34.0)+`]}`))

	// Newest first, paged by next links.
	var page struct {
		Uploads []struct {
			ID       int64
			Uploader string
			Status   string
			SHA256   string
		}
		Next string
	}
	r := s.do(t, "GET", "/api/v1/uploads?limit=2", tokens[auth.Analyst], "")
	r.json(t, &page)
	if r.status != 200 || len(page.Uploads) != 2 || page.Uploads[0].Uploader != "other-team" || page.Uploads[1].ID != ids[2] || page.Next != fmt.Sprintf("/api/v1/uploads?before=%d&limit=2", ids[2]) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = s.do(t, "GET", page.Next, tokens[auth.Analyst], "")
	page.Next = ""
	r.json(t, &page)
	if len(page.Uploads) != 2 || page.Uploads[0].ID != ids[1] || page.Uploads[1].ID != ids[0] || page.Next != fmt.Sprintf("/api/v1/uploads?before=%d&limit=2", ids[0]) {
		t.Fatalf("page 2: %s", r.body)
	}
	// An uploader sees only its own uploads.
	r = s.do(t, "GET", "/api/v1/uploads", other, "")
	page.Uploads, page.Next = nil, ""
	r.json(t, &page)
	if len(page.Uploads) != 1 || page.Uploads[0].Uploader != "other-team" || page.Next != "" {
		t.Fatalf("other team sees %s", r.body)
	}
	wantError(t, s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d", ids[0]), other, ""), 404, fmt.Sprintf("no upload %d", ids[0]))
	wantError(t, s.do(t, "GET", "/api/v1/uploads?limit=0", other, ""), 400, `limit: "0": want a whole number from 1 to 500`)
	wantError(t, s.do(t, "GET", "/api/v1/uploads/abc", other, ""), 404, "no upload abc")

	// The receipt, and the exact bytes.
	r = s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d", ids[1]), tokens[auth.Uploader], "")
	var info struct {
		Status, Uploader, SHA256 string
		Receipt                  receipt
	}
	r.json(t, &info)
	if r.status != 200 || info.Status != "accepted" || info.Uploader != "t-uploader" || len(info.SHA256) != 64 || info.Receipt.Features != 1 {
		t.Fatalf("%s", r.body)
	}
	r = s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d/raw", ids[1]), tokens[auth.Analyst], "")
	if r.status != 200 || r.body != bodies[1] || r.header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("raw: %d %q", r.status, r.body)
	}

	// Retraction: admins only; it stops counting and is idempotent.
	path := fmt.Sprintf("/api/v1/uploads/%d", ids[1])
	wantError(t, s.do(t, "DELETE", path, tokens[auth.Analyst], ""), 403, "the analyst role may not do this")
	r = s.do(t, "DELETE", path, tokens[auth.Admin], "")
	if r.status != 200 || !strings.Contains(r.body, `"status":"retracted"`) || !strings.Contains(r.body, `"retracted_by":"t-admin"`) {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}
	var retracted int
	s.pool.QueryRow(ctx, "SELECT count(*) FROM clearances WHERE retracted AND upload_id = $1", ids[1]).Scan(&retracted)
	if retracted != 1 {
		t.Fatal("clearances not retracted")
	}
	wantError(t, s.do(t, "DELETE", "/api/v1/uploads/99999", tokens[auth.Admin], ""), 404, "no upload 99999")
	bad := wantProblem(t, s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", []byte("{")), 400, "/problems/not-geojson", "body is not valid GeoJSON")
	wantError(t, s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", bad.Upload.ID), tokens[auth.Admin], ""), 409, "the upload was rejected")
}
