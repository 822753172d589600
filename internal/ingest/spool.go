package ingest

import (
	"crypto/sha256"

	"io"
	"os"
	"unicode/utf8"
)

// spooled is an upload body kept in a temporary file: read once from the
// network, then read again to store the original bytes and to decode, with
// memory bounded whatever the body's size.
type spooled struct {
	file   *os.File
	size   int64
	sha256 [32]byte
}

// ReadError says the body could not be read (the client went away, or it
// was over the size limit): nothing was stored.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "reading the upload: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// spool copies r to a temporary file, hashing it and checking that it is
// UTF-8 (RFC 8259 requires it; a JSON decoder would silently replace bad
// bytes instead).
func spool(r io.Reader) (*spooled, error) {
	f, err := os.CreateTemp("", "clearmap-upload-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // unlinked now; the space returns when f is closed
	h := sha256.New()
	check := &utf8Check{}
	size, err := io.Copy(io.MultiWriter(f, h, check), r)
	if err != nil {
		f.Close()
		return nil, &ReadError{err}
	}
	s := &spooled{file: f, size: size}
	copy(s.sha256[:], h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if bad := check.firstInvalid(); bad >= 0 {
		return s, &SyntaxError{bad, "the body is not UTF-8 text"}
	}
	return s, nil
}

// reader returns the body from its start.
func (s *spooled) reader() (io.Reader, error) {
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.file, nil
}

func (s *spooled) close() { s.file.Close() }

// utf8Check finds the first byte that is not part of valid UTF-8, across
// writes that may split a character.
type utf8Check struct {
	offset int64  // bytes consumed before carry
	carry  []byte // the start of a character cut by the end of a write
	bad    int64
	found  bool
}

func (c *utf8Check) Write(p []byte) (int, error) {
	if c.found {
		return len(p), nil
	}
	buf := append(c.carry, p...)
	i := 0
	for i < len(buf) {
		if buf[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(buf[i:])
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRune(buf[i:]) {
				break // may complete in the next write
			}
			c.bad, c.found = c.offset+int64(i), true
			return len(p), nil
		}
		i += n
	}
	c.offset += int64(i)
	c.carry = append([]byte(nil), buf[i:]...)
	return len(p), nil
}

// firstInvalid returns the offset of the first invalid byte, or -1.
func (c *utf8Check) firstInvalid() int64 {
	if c.found {
		return c.bad
	}
	if len(c.carry) > 0 {
		return c.offset
	}
	return -1
}
