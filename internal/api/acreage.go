package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"clearmap/internal/acreage"
	"clearmap/internal/ingest"
)

// filter reads ?crop=&from=&to=&province=&district= and answers 400 itself when one is
// wrong.
func (a *api) filter(w http.ResponseWriter, r *http.Request) (acreage.Filter, bool) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		badParameter(w, err.Error())
		return f, false
	}
	return f, true
}

// parseFilter reads the filters every figure and tile takes.
func parseFilter(q url.Values) (acreage.Filter, error) {
	var f acreage.Filter
	var err error
	switch f.Crop = q.Get("crop"); f.Crop {
	case "", "poppy", "cannabis":
	default:
		return f, fmt.Errorf("crop=%q: want poppy or cannabis", f.Crop)
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(d.name); v != "" {
			if *d.dst, err = acreage.ParseDate(v); err != nil {
				return f, fmt.Errorf("%s=%q: %w", d.name, v, err)
			}
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, errors.New("to is before from")
	}
	f.Province, f.District = q.Get("province"), q.Get("district")
	return f, nil
}

func (a *api) summary(w http.ResponseWriter, r *http.Request) {
	f, ok := a.filter(w, r)
	if !ok {
		return
	}
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	s, err := acreage.GetSummary(r.Context(), db, f, a.TargetAcres)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// progress serves the mapped acres by ?by=month (the default) or week,
// under the summary's filters and province= and district=.
func (a *api) progress(w http.ResponseWriter, r *http.Request) {
	f, ok := a.filter(w, r)
	if !ok {
		return
	}
	by := r.URL.Query().Get("by")
	switch by {
	case "":
		by = "month"
	case "month", "week":
	default:
		badParameter(w, fmt.Sprintf("by=%q: want month or week", by))
		return
	}
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	p, err := acreage.GetProgress(r.Context(), db, f, by, ingest.Today(time.Now()), a.TargetAcres)
	switch {
	case errors.Is(err, acreage.ErrUnknown):
		badParameter(w, err.Error())
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// districts lists every district's figures, as JSON or (?format=csv) CSV.
func (a *api) districts(w http.ResponseWriter, r *http.Request) {
	f, ok := a.filter(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		badParameter(w, fmt.Sprintf("format=%q: want json or csv", format))
		return
	}
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	list, err := acreage.Districts(r.Context(), db, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if f.Province != "" && len(list) == 0 {
		badParameter(w, fmt.Sprintf("province=%q: no such province", f.Province))
		return
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, list)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="districts.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"code", "name", "province", "acres", "gross_acres", "acres_poppy", "acres_cannabis", "reported_acres", "fields", "mapped_features", "last_cleared_on"})
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, d := range list {
		reported, last := "", ""
		if d.ReportedAcres != nil {
			reported = num(*d.ReportedAcres)
		}
		if d.LastClearedOn != nil {
			last = *d.LastClearedOn
		}
		cw.Write([]string{d.Code, d.Name, d.Province, num(d.Acres), num(d.GrossAcres), num(d.AcresPoppy),
			num(d.AcresCannabis), reported, strconv.Itoa(d.Fields), strconv.Itoa(d.MappedFeatures), last})
	}
	cw.Flush()
}

func (a *api) district(w http.ResponseWriter, r *http.Request) {
	f, ok := a.filter(w, r)
	if !ok {
		return
	}
	code := chi.URLParam(r, "code")
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	d, err := acreage.OneDistrict(r.Context(), db, f, code)
	switch {
	case errors.Is(err, acreage.ErrUnknown):
		writeError(w, http.StatusNotFound, "no district "+code)
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, d)
	}
}

func (a *api) listReported(w http.ResponseWriter, r *http.Request) {
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	list, err := acreage.ListReported(r.Context(), db)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// addReported records an official figure from {"scope", "from", "to",
// "acres", "source"}.
func (a *api) addReported(w http.ResponseWriter, r *http.Request) {
	var n acreage.NewReported
	if !decodeBody(w, r, 16<<10, &n, `{"scope", "from", "to", "acres", "source"}`) {
		return
	}
	rep, err := acreage.AddReported(r.Context(), a.DB, n, tokenFrom(r.Context()).Name)
	var invalid *acreage.InvalidError
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusUnprocessableEntity, invalid.Error())
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, rep)
	}
}

func (a *api) deleteReported(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err == nil {
		err = acreage.DeleteReported(r.Context(), a.DB, id, tokenFrom(r.Context()).Name)
	}
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, acreage.ErrUnknown), errors.Is(err, strconv.ErrSyntax), errors.Is(err, strconv.ErrRange):
		writeError(w, http.StatusNotFound, "no reported figure "+chi.URLParam(r, "id"))
	default:
		a.fail(w, r, err)
	}
}
