package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/auth"
	"clearmap/internal/ingest"
)

// postUpload stores an upload (SPEC §4): 201 with a receipt, 200 with the
// first receipt for a repeat, 422 listing every problem, 400 for a body that
// is not GeoJSON, 409 for the key of a retracted upload, 413 over the size
// limit (of the decompressed bytes, for a gzip body), 415 for other content
// types and encodings, 503 when as many uploads as the server takes at once
// kept it busy too long.
func (a *api) postUpload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	defaults, err := ingest.ParseDefaults(q.Get("crop"), q.Get("cleared_on"), q.Get("team"), ingest.Today(time.Now()))
	if err != nil {
		badParameter(w, err.Error())
		return
	}
	partial := false
	if p := q.Get("partial"); p != "" {
		if partial, err = strconv.ParseBool(p); err != nil {
			badParameter(w, fmt.Sprintf("partial=%q: want true or false", p))
			return
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		writeError(w, http.StatusBadRequest, "Idempotency-Key is longer than 255 characters")
		return
	}
	if !utf8.ValidString(key) {
		writeError(w, http.StatusBadRequest, "Idempotency-Key is not UTF-8 text")
		return
	}

	// A body announced over the limit is refused before it is sent (a
	// gzip body's limit is on what it expands to, known only by reading).
	if r.ContentLength > a.MaxUploadBytes && r.Header.Get("Content-Encoding") == "" {
		a.tooLarge(w)
		return
	}

	tok := tokenFrom(r.Context())
	u := ingest.Upload{Defaults: defaults, Partial: partial, IdempotencyKey: key, TokenID: &tok.ID, Uploader: tok.Name}
	body := http.MaxBytesReader(w, r.Body, a.MaxUploadBytes)
	if status, msg := uploadBody(r, body, a.MaxUploadBytes, &u); status != 0 {
		writeError(w, status, msg)
		return
	}

	res, err := a.Ingest.Store(r.Context(), u)
	a.Tiles.Changed() // before answering, so the uploader's next tile shows it
	var tooLarge *http.MaxBytesError
	var readErr *ingest.ReadError
	var badGzip *gzipError
	var retracted *ingest.KeyRetractedError
	switch {
	case err != nil && r.Context().Err() != nil: // the client went, or the server is going
		a.fail(w, r, err)
		return
	case errors.As(err, &tooLarge):
		a.tooLarge(w)
		return
	case errors.Is(err, errExpands):
		a.Metrics.Upload("too_large", 0)
		writeError(w, http.StatusRequestEntityTooLarge, errExpands.Error())
		return
	case errors.As(err, &badGzip):
		writeError(w, http.StatusBadRequest, badGzip.Error())
		return
	case errors.Is(err, ingest.ErrBusy):
		a.Metrics.Upload("busy", 0)
		w.Header().Set("Retry-After", "10")
		writeProblem(w, problem{Type: typeBusy, Title: "Busy", Status: http.StatusServiceUnavailable, Detail: err.Error()})
		return
	case errors.As(err, &readErr):
		writeError(w, http.StatusBadRequest, "the upload was cut off before its end: "+readErr.Err.Error())
		return
	case errors.Is(err, ingest.ErrKeyReused):
		writeProblem(w, problem{Type: typeKeyReused, Title: "Idempotency-Key reused", Status: http.StatusUnprocessableEntity, Detail: err.Error()})
		return
	case errors.As(err, &retracted):
		writeProblem(w, problem{Type: typeKeyRetracted, Title: "Upload retracted", Status: http.StatusConflict, Detail: err.Error()})
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	switch res.Outcome {
	case ingest.Created:
		a.Metrics.Upload("accepted", res.Receipt.Features)
	case ingest.Replayed:
		a.Metrics.Upload("replayed", 0)
	default:
		a.Metrics.Upload("rejected", 0)
	}
	switch {
	case res.Outcome == ingest.Created:
		writeJSON(w, http.StatusCreated, res.Receipt)
	case res.Outcome == ingest.Replayed:
		writeJSON(w, http.StatusOK, res.Receipt)
	case res.SyntaxError:
		writeProblem(w, problem{Type: typeNotGeoJSON, Title: "Not GeoJSON", Status: http.StatusBadRequest,
			Detail: res.Receipt.Error, Upload: &res.Receipt})
	default:
		writeProblem(w, problem{Type: typeUploadRejected, Title: "Upload rejected", Status: http.StatusUnprocessableEntity,
			Detail: res.Receipt.Error, Problems: res.Receipt.Problems, MoreProblems: res.Receipt.MoreProblems, Upload: &res.Receipt})
	}
}

// tooLarge answers an upload over the size limit; nothing of it is kept.
func (a *api) tooLarge(w http.ResponseWriter) {
	a.Metrics.Upload("too_large", 0)
	writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than %d bytes; split the file, or send it as newline-delimited GeoJSON in parts", a.MaxUploadBytes))
}

// uploadBody sets u's body and format from the request's content type and
// encoding. It returns a status and message when the request cannot be an
// upload.
func uploadBody(r *http.Request, body io.Reader, limit int64, u *ingest.Upload) (int, string) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		body = newGunzip(body, limit)
	default:
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not accepted: send the body as it is, or gzip-compressed", enc)
	}
	ct := r.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ct)
	if ct == "" {
		mediaType, err = "application/geo+json", nil
	}
	if err != nil {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q cannot be read: %v", ct, err)
	}
	u.ContentType, u.Body = mediaType, body
	switch mediaType {
	case "application/geo+json", "application/json":
		u.Format = ingest.Document
	case "application/geo+json-seq", "application/json-seq":
		u.Format = ingest.Sequence
	case "application/x-ndjson", "application/ndjson", "application/jsonl":
		u.Format = ingest.Lines
	case "multipart/form-data":
		return multipartFile(multipart.NewReader(body, params["boundary"]), u)
	default:
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not accepted: send application/geo+json, application/geo+json-seq, application/x-ndjson, or multipart/form-data with a file field", mediaType)
	}
	return 0, ""
}

// multipartFile finds the form's file field, as a browser sends it, and reads
// the upload from it; the format is told by the file's name and first byte
// (ingest.FileFormat).
func multipartFile(mr *multipart.Reader, u *ingest.Upload) (int, string) {
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return http.StatusBadRequest, `the form has no "file" field`
		}
		if err != nil {
			return http.StatusBadRequest, "the multipart body cannot be read: " + err.Error()
		}
		if part.FormName() != "file" {
			continue
		}
		br := bufio.NewReader(part)
		first, _ := br.Peek(1)
		u.Format = ingest.FileFormat(part.FileName(), first)
		u.Body = br
		// Kept as a media type only: a part's header may hold any bytes.
		u.ContentType = "application/octet-stream"
		if mediaType, _, err := mime.ParseMediaType(part.Header.Get("Content-Type")); err == nil {
			u.ContentType = mediaType
		}
		return 0, ""
	}
}

// uploadScope limits uploaders to their own uploads.
func uploadScope(t auth.Token) ingest.Scope {
	if t.Role == auth.Uploader {
		return ingest.Scope{TokenID: &t.ID}
	}
	return ingest.Scope{}
}

func (a *api) listUploads(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), 50, 1, 500)
	if err != nil {
		badParameter(w, "limit: "+err.Error())
		return
	}
	before, err := intParam(q.Get("before"), 0, 1, 1<<62)
	if err != nil {
		badParameter(w, "before: "+err.Error())
		return
	}
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	list, err := ingest.List(r.Context(), db, uploadScope(tokenFrom(r.Context())), int64(before), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page := map[string]any{"uploads": list}
	if len(list) == limit {
		page["next"] = fmt.Sprintf("/api/v1/uploads?before=%d&limit=%d", list[len(list)-1].ID, limit)
	}
	writeJSON(w, http.StatusOK, page)
}

// intParam reads an optional integer query parameter within [min, max].
func intParam(s string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%q: want a whole number from %d to %d", s, min, max)
	}
	return n, nil
}

// upload finds, in db, the upload named in the path that the caller may
// see, or answers the request itself and returns false.
func (a *api) upload(w http.ResponseWriter, r *http.Request, db *pgxpool.Pool) (ingest.Info, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusNotFound, "no upload "+chi.URLParam(r, "id"))
		return ingest.Info{}, false
	}
	info, err := ingest.Get(r.Context(), db, uploadScope(tokenFrom(r.Context())), id)
	switch {
	case errors.Is(err, ingest.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no upload %d", id))
		return info, false
	case err != nil:
		a.fail(w, r, err)
		return info, false
	}
	return info, true
}

func (a *api) getUpload(w http.ResponseWriter, r *http.Request) {
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	if info, ok := a.upload(w, r, db); ok {
		writeJSON(w, http.StatusOK, info)
	}
}

// rawTypes are the media type and file name extension /raw serves a
// checked upload as, by its format.
var rawTypes = map[string][2]string{
	"document": {"application/geo+json", "geojson"},
	"lines":    {"application/x-ndjson", "geojsonl"},
	"sequence": {"application/geo+json-seq", "geojsons"},
}

// getUploadRaw returns the bytes kept of an upload: all that was received,
// or, of a rejected upload, its first MiB, and then Upload-Truncated says
// how much was kept of how much. An upload that was accepted is served as
// the GeoJSON it was read as, a rejected one as bytes, never as the type
// its sender claimed (text/html would be a stored script).
func (a *api) getUploadRaw(w http.ResponseWriter, r *http.Request) {
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	info, ok := a.upload(w, r, db)
	if !ok {
		return
	}
	contentType, ext := "application/octet-stream", "bin"
	if info.Status != "rejected" {
		contentType, ext = rawTypes[info.Format][0], rawTypes[info.Format][1]
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.FormatInt(info.KeptBytes, 10))
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="upload-%d.%s"`, info.ID, ext))
	if info.KeptBytes < info.SizeBytes {
		h.Set("Upload-Truncated", fmt.Sprintf("%d of %d bytes kept", info.KeptBytes, info.SizeBytes))
	}
	if err := ingest.WriteRaw(r.Context(), db, info.ID, w); err != nil {
		// Headers are gone; all that is left is to cut the response short.
		a.Logger.WarnContext(r.Context(), "raw upload cut short", "upload", info.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// retractUpload stops an upload's clearances from counting.
func (a *api) retractUpload(w http.ResponseWriter, r *http.Request) {
	info, ok := a.upload(w, r, a.DB)
	if !ok {
		return
	}
	info, err := ingest.Retract(r.Context(), a.DB, info.ID, tokenFrom(r.Context()).Name)
	a.Tiles.Changed()
	switch {
	case errors.Is(err, ingest.ErrNotRetractable):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		a.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, info)
	}
}
