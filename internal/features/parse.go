package features

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"clearmap/internal/acreage"
)

// ParseBBox reads bbox= as four numbers (min lon, min lat, max lon, max
// lat, in CRS84) or six (min lon, min lat, min height, max lon, max lat, max
// height; the heights are ignored: fields have none). A box whose min
// longitude is greater than its max crosses the antimeridian and is
// returned as two boxes, one each side of it.
func ParseBBox(s string) ([][4]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 && len(parts) != 6 {
		return nil, fmt.Errorf("bbox=%q: want four numbers, min longitude, min latitude, max longitude, max latitude (or six, with a min and max height after each latitude)", s)
	}
	v := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("bbox=%q: %q is not a number", s, p)
		}
		v[i] = f
	}
	b := [4]float64{v[0], v[1], v[2], v[3]}
	if len(v) == 6 {
		b = [4]float64{v[0], v[1], v[3], v[4]}
		if v[2] > v[5] {
			return nil, fmt.Errorf("bbox=%q: the min height is above the max height", s)
		}
	}
	if b[0] < -180 || b[0] > 180 || b[2] < -180 || b[2] > 180 || b[1] < -90 || b[1] > 90 || b[3] < -90 || b[3] > 90 || b[1] > b[3] {
		return nil, fmt.Errorf("bbox=%q: not a longitude/latitude box with min latitude before max (longitudes -180 to 180, latitudes -90 to 90)", s)
	}
	if b[0] > b[2] { // across the antimeridian
		return [][4]float64{{b[0], b[1], 180, b[3]}, {-180, b[1], b[2], b[3]}}, nil
	}
	return [][4]float64{b}, nil
}

// ParseDatetime reads datetime= as a date, an RFC 3339 time, or an interval
// of them with ".." (or nothing) for an open end, but not both. Clearances
// have dates, so a time stands for its own date. GDAL 3.6 writes a date it
// filters on as "2026-03-01T", with nothing after the T; that is read as
// the date.
func ParseDatetime(s string) (from, to time.Time, err error) {
	bad := fmt.Errorf("datetime=%q: want a date (YYYY-MM-DD, years 1 to 9999), an RFC 3339 time, or an interval of them (start/end, with .. for an open end)", s)
	one := func(v string) (time.Time, error) {
		if v == ".." || v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, strings.TrimSuffix(v, "T"))
		if err != nil {
			t, err = time.Parse(time.RFC3339, v)
		}
		if err != nil || !acreage.ValidDate(t) {
			return time.Time{}, bad
		}
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	}
	start, end, interval := strings.Cut(s, "/")
	if from, err = one(start); err != nil {
		return
	}
	if !interval {
		if from.IsZero() {
			return from, to, bad
		}
		return from, from, nil
	}
	if to, err = one(end); err != nil {
		return
	}
	switch {
	case from.IsZero() && to.IsZero():
		err = fmt.Errorf("datetime=%q: an interval needs at least one end; leave datetime out for all dates", s)
	case !from.IsZero() && !to.IsZero() && to.Before(from):
		err = fmt.Errorf("datetime=%q: the interval ends before it starts", s)
	}
	return
}

// A cursor names the last feature of a page: the next page holds the
// features after it in key order (clearances by id, districts by code). A
// feature's key never changes and ids are never reused, so a client that
// follows next links gets every feature that exists from its first page to
// its last exactly once, whatever is uploaded or retracted meanwhile: a
// retraction leaves the keys after it where they were (an offset would
// shift), and a new upload's clearances only add keys. The cursor is
// opaque to clients: base64url of the collection and the key.

// Cursor returns the cursor that continues collection after key.
func Cursor(collection, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(collection + ":" + key))
}

// ErrCursor means a cursor this service did not give out for the
// collection.
var ErrCursor = errors.New("not a cursor this service gave out for the collection; follow the next link of a page")

// ParseCursor returns the key a cursor continues after.
func ParseCursor(collection, cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", ErrCursor
	}
	key, ok := strings.CutPrefix(string(b), collection+":")
	if !ok || key == "" || len(key) > 200 || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return "", ErrCursor
	}
	if collection == "clearances" {
		if id, err := strconv.ParseInt(key, 10, 64); err != nil || id < 0 || strconv.FormatInt(id, 10) != key {
			return "", ErrCursor
		}
	}
	// Only as given out: base64 decoding skips line breaks and spare bits.
	if Cursor(collection, key) != cursor {
		return "", ErrCursor
	}
	return key, nil
}
