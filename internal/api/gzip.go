package api

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
)

// maxExpansion bounds how many times larger than sent a gzip body may grow,
// once it has grown past expansionChecked: GeoJSON compresses some ten-fold,
// a zip bomb a thousand-fold.
const (
	maxExpansion     = 200
	expansionChecked = 1 << 20
)

// errExpands says a gzip body grew more than maxExpansion-fold.
var errExpands = errors.New("the gzip body expands more than 200-fold; send it uncompressed")

// gzipError says a gzip body is not gzip, or is corrupt.
type gzipError struct{ err error }

func (e *gzipError) Error() string { return "the gzip body cannot be decompressed: " + e.err.Error() }
func (e *gzipError) Unwrap() error { return e.err }

// gunzip decompresses a gzip body as it is read. The size limit applies to
// the decompressed bytes (a *http.MaxBytesError past it, as for a plain
// body), and errExpands stops a body that grows too far long before the
// limit is reached.
type gunzip struct {
	sent  countingReader
	zr    *gzip.Reader
	limit int64
	n     int64 // decompressed bytes read
}

func newGunzip(body io.Reader, limit int64) *gunzip {
	return &gunzip{sent: countingReader{r: body}, limit: limit}
}

func (g *gunzip) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(&g.sent)
		if err != nil {
			return 0, corrupt(err)
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	g.n += int64(n)
	switch {
	case g.n > g.limit:
		return n, &http.MaxBytesError{Limit: g.limit}
	case g.n > expansionChecked && g.n > maxExpansion*g.sent.n:
		return n, errExpands
	}
	return n, corrupt(err)
}

// corrupt marks the errors that say the body is not good gzip; others
// (the client went away, the compressed body is over the limit) pass.
func corrupt(err error) error {
	var flateErr flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &flateErr) {
		return &gzipError{err}
	}
	return err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
