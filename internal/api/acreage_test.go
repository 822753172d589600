package api_test

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"clearmap/internal/auth"
)

func TestFiguresOverHTTP(t *testing.T) {
	s, tokens := uploadService(t)
	analyst, admin := tokens[auth.Analyst], tokens[auth.Admin]

	var before struct {
		MappedAcres float64 `json:"mapped_acres"`
		TargetAcres float64 `json:"target_acres"`
	}
	s.do(t, "GET", "/api/v1/summary", analyst, "").json(t, &before)
	if before.MappedAcres != 0 || before.TargetAcres != 40659 {
		t.Fatalf("empty summary %+v", before)
	}

	// A GET right after the 201 sees the upload.
	r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", []byte(field))
	var rc receipt
	r.json(t, &rc)
	var after struct {
		MappedAcres float64 `json:"mapped_acres"`
		Fields      int
		ByCrop      map[string]float64 `json:"by_crop"`
		ByProvince  []struct {
			Code  string
			Acres float64
		} `json:"by_province"`
		Progress float64
	}
	s.do(t, "GET", "/api/v1/summary", analyst, "").json(t, &after)
	if after.MappedAcres != rc.Acres || after.Fields != 1 || after.ByCrop["poppy"] != rc.Acres || after.Progress != 0.0002 {
		t.Fatalf("summary after upload: %+v (receipt %v acres)", after, rc.Acres)
	}

	r = s.do(t, "GET", "/api/v1/districts?province=PK-KP", analyst, "")
	var list []struct {
		Code          string
		Province      string
		Acres         float64
		Fields        int
		LastClearedOn *string `json:"last_cleared_on"`
	}
	r.json(t, &list)
	if len(list) != 35 || list[0].Province != "PK-KP" {
		t.Fatalf("KP districts: %d", len(list))
	}
	for _, d := range list {
		if (d.Code == "PK-KP-KHYBER") != (d.Acres > 0) || (d.Code == "PK-KP-KHYBER" && (d.Acres != rc.Acres || *d.LastClearedOn != "2026-03-14")) {
			t.Fatalf("%+v", d)
		}
	}

	r = s.do(t, "GET", "/api/v1/districts?format=csv&crop=poppy", analyst, "")
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || r.status != 200 || len(rows) != 157 || strings.Join(rows[0], ",") != "code,name,province,acres,gross_acres,acres_poppy,acres_cannabis,reported_acres,fields,mapped_features,last_cleared_on" {
		t.Fatalf("csv: %v %d rows", err, len(rows))
	}
	found := false
	for _, row := range rows {
		if row[0] == "PK-KP-KHYBER" {
			found = row[3] == fmt.Sprint(rc.Acres) && row[8] == "1" && row[9] == "1" && row[10] == "2026-03-14" && row[7] == ""
		}
	}
	if !found || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("Khyber row missing or wrong:\n%s", r.body)
	}

	r = s.do(t, "GET", "/api/v1/districts/PK-KP-KHYBER?from=2026-03-15", analyst, "")
	var one struct {
		Code     string
		Acres    float64
		Geometry struct {
			Type        string
			Coordinates []any
		}
	}
	r.json(t, &one)
	if r.status != 200 || one.Acres != 0 || one.Geometry.Type != "MultiPolygon" || len(one.Geometry.Coordinates) == 0 {
		t.Fatalf("one district: %d %.200s", r.status, r.body)
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/summary?crop=hemp", 400, `crop="hemp": want poppy or cannabis`},
		{"/api/v1/summary?from=2026-3-1", 400, `from="2026-3-1": want a date, YYYY-MM-DD`},
		{"/api/v1/districts?from=2026-03-02&to=2026-03-01", 400, "to is before from"},
		{"/api/v1/districts?format=xlsx", 400, `format="xlsx": want json or csv`},
		{"/api/v1/districts?province=PK-XX", 400, `province="PK-XX": no such province`},
		{"/api/v1/districts/PK-XX-NOWHERE", 404, "no district PK-XX-NOWHERE"},
		{"/api/v1/reported/abc", 405, "GET is not allowed"},
	} {
		wantError(t, s.do(t, "GET", c.path, analyst, ""), c.status, c.msg)
	}
	wantError(t, s.do(t, "GET", "/api/v1/summary", tokens[auth.Uploader], ""), 403, "the uploader role may not do this")

	// Reported figures: analysts read, admins write.
	figure := `{"scope":"PK-KP","from":"2026-01-01","to":"2026-06-30","acres":33000,"source":"KP government announcement"}`
	wantError(t, s.do(t, "POST", "/api/v1/reported", analyst, figure), 403, "the analyst role may not do this")
	wantError(t, s.do(t, "POST", "/api/v1/reported", admin, `{"scope":"PK-KP"`), 400, "body must be a JSON object")
	wantError(t, s.do(t, "POST", "/api/v1/reported", admin, `{"scope":"PK-KP","from":"2026-01-01","to":"2025-01-01","acres":-5,"source":""}`), 422,
		"to is before from; acres must be a number from 0 to 1,000,000,000; source must say where the figure comes from")
	r = s.do(t, "POST", "/api/v1/reported", admin, figure)
	var rep struct {
		ID          int64
		MappedAcres float64 `json:"mapped_acres"`
		BackedShare float64 `json:"backed_share"`
	}
	r.json(t, &rep)
	if r.status != 201 || rep.MappedAcres != rc.Acres {
		t.Fatalf("add reported: %d %s", r.status, r.body)
	}
	r = s.do(t, "GET", "/api/v1/summary", analyst, "")
	if !strings.Contains(r.body, `{"code":"PK-KP","name":"Khyber Pakhtunkhwa","acres":`+fmt.Sprint(rc.Acres)) || !strings.Contains(r.body, `"reported_acres":33000`) {
		t.Fatalf("summary lacks the reported figure: %s", r.body)
	}
	r = s.do(t, "GET", "/api/v1/reported", analyst, "")
	if !strings.Contains(r.body, `"scope":"PK-KP"`) || !strings.Contains(r.body, `"created_by":"t-admin"`) {
		t.Fatalf("list: %s", r.body)
	}
	wantError(t, s.do(t, "DELETE", fmt.Sprintf("/api/v1/reported/%d", rep.ID), analyst, ""), 403, "the analyst role may not do this")
	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/reported/%d", rep.ID), admin, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, s.do(t, "DELETE", fmt.Sprintf("/api/v1/reported/%d", rep.ID), admin, ""), 404, "no reported figure")
	wantError(t, s.do(t, "DELETE", "/api/v1/reported/x1", admin, ""), 404, "no reported figure x1")

	// A retraction shows at once too.
	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", rc.ID), admin, ""); r.status != 200 {
		t.Fatal(r.body)
	}
	s.do(t, "GET", "/api/v1/summary", analyst, "").json(t, &after)
	if after.MappedAcres != 0 || after.Fields != 0 {
		t.Fatalf("after retraction: %+v", after)
	}
}
