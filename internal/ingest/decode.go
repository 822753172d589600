package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/paulmach/orb"
)

// RawFeature is one feature as it arrived, before any rule is applied.
type RawFeature struct {
	Index   int    // position among all features of the upload, from 0
	Pointer string // JSON pointer to the feature: "/features/3" in a collection, "" otherwise
	// Type is the GeoJSON type of the object: "Feature", or a geometry type
	// for a bare geometry.
	Type       string
	Geometry   json.RawMessage // the geometry object; for a bare geometry, the object itself
	Properties json.RawMessage // null or absent for a bare geometry

	parsed *parsedGeometry // Geometry read, once: see geometry
}

// parsedGeometry is what parseGeometry makes of a feature's geometry.
type parsedGeometry struct {
	shape   orb.MultiPolygon
	repairs []string
	problem string
}

// geometry reads the feature's geometry, the first time it is asked for.
// Uploads read it ahead on worker goroutines (stage.go); the rules then find
// it read.
func (f *RawFeature) geometry() *parsedGeometry {
	if f.parsed == nil {
		shape, repairs, problem := parseGeometry(f.Geometry)
		f.parsed = &parsedGeometry{shape, repairs, problem}
	}
	return f.parsed
}

// SyntaxError says the body is not JSON (or not a GeoJSON text sequence):
// nothing in it can be trusted, so it is rejected whole.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("body is not valid GeoJSON at byte %d: %s", e.Offset, e.Msg)
}

// Format is how a body holds its GeoJSON.
type Format int

const (
	// Document is one FeatureCollection, Feature or geometry; nothing but
	// white space may follow it.
	Document Format = iota
	// Lines is newline-delimited GeoJSON: one value a line.
	Lines
	// Sequence is an RFC 8142 text sequence: one value a record, each
	// record starting with the separator 0x1E.
	Sequence
)

var formatNames = [...]string{Document: "document", Lines: "lines", Sequence: "sequence"}

// String names the format as the uploads table stores it.
func (f Format) String() string { return formatNames[f] }

// FileFormat tells a file's format from its name and first byte, for a
// browser's form or the command line, which give no media type to go by:
// an RFC 8142 record separator starts a Sequence; a .geojsonl, .geojsons,
// .ndjson or .jsonl file is newline-delimited (Lines); anything else is one
// Document.
func FileFormat(name string, first []byte) Format {
	if len(first) > 0 && first[0] == 0x1e {
		return Sequence
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".geojsonl", ".geojsons", ".ndjson", ".jsonl":
		return Lines
	}
	return Document
}

// maxValueBytes bounds what the decoder holds at once: a feature of a
// collection, a member of the top-level object, or a single string or
// number in a member it skips. A field's outline at the position limit
// takes a few MB.
const maxValueBytes = 16 << 20

// maxDepth bounds the nesting of a skipped member, as encoding/json bounds
// the values it decodes.
const maxDepth = 10000

// kept are the members of a top-level object the decoder keeps: the rest
// are skipped unread.
var kept = map[string]bool{"type": true, "crs": true, "geometry": true, "properties": true, "coordinates": true}

// Decoder reads the features of a GeoJSON body one at a time, so memory stays
// bounded by the largest feature, not the body. It accepts a FeatureCollection,
// a Feature or a bare geometry: one (Document), or one a line (Lines) or a
// record (Sequence).
type Decoder struct {
	dec    *json.Decoder
	br     *bufio.Reader // what dec reads through capped
	capped *cappedReader
	format Format
	// skipped counts the bytes read past dec (a byte order mark, the blanks
	// after a value): added to dec's offsets, they give the body's.
	skipped int64
	index   int
	done    bool // a Document's value has been read
	// state of the top-level object being read
	inObject   bool
	inFeatures bool
	members    map[string]json.RawMessage
	crs        json.RawMessage
}

// NewDecoder reads GeoJSON in the given format from r. A leading byte order
// mark is skipped.
func NewDecoder(r io.Reader, format Format) *Decoder {
	if format == Sequence {
		r = &recordsAsLines{r: r}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	d := &Decoder{br: br, capped: &cappedReader{r: br}, format: format}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
		d.skipped = 3
	}
	d.dec = json.NewDecoder(d.capped)
	d.dec.UseNumber() // a skipped number is never parsed: 1e400 fits no float64
	return d
}

// recordsAsLines turns RFC 8142's record separators into newlines, and
// newlines into carriage returns, so a sequence reads as newline-delimited
// JSON with one record a line. Neither a separator nor a newline can stand
// inside a JSON string (control characters must be escaped), and both
// newline and carriage return are white space, so this changes no value.
type recordsAsLines struct{ r io.Reader }

func (s *recordsAsLines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for i, b := range p[:n] {
		switch b {
		case 0x1e:
			p[i] = '\n'
		case '\n':
			p[i] = '\r'
		}
	}
	return n, err
}

// cappedReader gives the JSON decoder bytes only up to maxBytes, so a value
// larger than maxValueBytes fails with errValueTooLarge instead of being
// buffered whole.
type cappedReader struct {
	r        io.Reader
	read     int64
	maxBytes int64
}

var errValueTooLarge = errors.New("value too large")

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.read >= c.maxBytes {
		return 0, errValueTooLarge
	}
	if int64(len(p)) > c.maxBytes-c.read {
		p = p[:c.maxBytes-c.read]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

// TooLargeError says a feature or member is larger than the decoder holds
// at once: no cleared field is that large, and the body is rejected whole.
type TooLargeError struct {
	Offset int64
	What   string // "feature 3", or a member
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d MiB (at byte %d): no feature of a cleared field needs that much; nothing was stored",
		e.What, maxValueBytes>>20, e.Offset)
}

// CRS returns the legacy crs member of the top-level object, if there was
// one. It is complete once Next has returned io.EOF.
func (d *Decoder) CRS() json.RawMessage { return d.crs }

// Next returns the next feature, or io.EOF after the last. Any other error
// is a *SyntaxError, a *TooLargeError, or an error reading the body.
func (d *Decoder) Next() (*RawFeature, error) {
	for {
		switch {
		case d.inFeatures:
			d.allow()
			if d.dec.More() {
				return d.collectionFeature()
			}
			if err := d.expectDelim(']'); err != nil {
				return nil, err
			}
			d.inFeatures = false
		case d.inObject:
			f, err := d.member()
			if f != nil || err != nil {
				return f, err
			}
		case d.done:
			return nil, io.EOF
		default:
			d.allow()
			tok, err := d.dec.Token()
			if err == io.EOF {
				return nil, io.EOF
			}
			if err != nil {
				return nil, d.fail(err, "the body")
			}
			if tok != json.Delim('{') {
				return nil, &SyntaxError{d.offset(), "expected a JSON object: a FeatureCollection, a Feature or a Polygon"}
			}
			d.inObject = true
			d.members = map[string]json.RawMessage{}
		}
	}
}

// allow lets the JSON decoder buffer one more value of up to maxValueBytes.
func (d *Decoder) allow() {
	d.capped.maxBytes = d.dec.InputOffset() + maxValueBytes
}

// offset is where the JSON decoder stands in the body.
func (d *Decoder) offset() int64 { return d.dec.InputOffset() + d.skipped }

// member reads one member of the top-level object, or its end, which yields
// the object itself when it is a Feature or a geometry. Members no rule reads
// are skipped without being kept.
func (d *Decoder) member() (*RawFeature, error) {
	d.allow()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.fail(err, "a member name")
	}
	if tok == json.Delim('}') {
		d.inObject = false
		f, err := d.endObject()
		if err != nil {
			return nil, err
		}
		if err := d.endOfValue(); err != nil {
			return nil, err
		}
		return f, nil
	}
	key := tok.(string) // object keys are always strings
	what := fmt.Sprintf("member %q", key)
	if key != "features" && !kept[key] {
		return nil, d.skipValue(what)
	}
	if _, seen := d.members[key]; seen {
		return nil, &SyntaxError{d.offset(), fmt.Sprintf("member %q appears twice", key)}
	}
	if key == "features" {
		if err := d.expectDelim('['); err != nil {
			return nil, &SyntaxError{d.offset(), "features must be an array"}
		}
		d.members[key] = nil
		d.inFeatures = true
		return nil, nil
	}
	var v json.RawMessage
	d.allow()
	if err := d.dec.Decode(&v); err != nil {
		return nil, d.fail(err, what)
	}
	if key == "crs" {
		d.crs = v
	}
	d.members[key] = v
	return nil, nil
}

// skipValue reads past a member's value token by token, so memory holds
// one token at a time, not the value.
func (d *Decoder) skipValue(what string) error {
	depth := 0
	for {
		d.allow()
		tok, err := d.dec.Token()
		if err != nil {
			return d.fail(err, what)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxDepth {
				return &SyntaxError{d.offset(), fmt.Sprintf("%s is nested more than %d deep", what, maxDepth)}
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// endOfValue reads the white space after a top-level value: to the end of
// the body in a Document, to the end of the line (or record) otherwise.
// Anything else there is a syntax error at the byte where it starts.
func (d *Decoder) endOfValue() error {
	offset := d.offset()
	// What follows the value is first in the JSON decoder's buffer, then
	// still unread in br; blanks read from br are counted in skipped.
	buffered := bufio.NewReaderSize(d.dec.Buffered(), 64)
	for {
		b, err := buffered.ReadByte()
		if err != nil {
			break
		}
		if b == '\n' && d.format != Document {
			return nil
		}
		if !isBlank(b) {
			return d.trailing(offset)
		}
		offset++
	}
	for {
		b, err := d.br.ReadByte()
		if err == io.EOF {
			d.done = d.format == Document
			return nil
		}
		if err != nil {
			return err
		}
		if b == '\n' && d.format != Document {
			d.skipped++
			return nil
		}
		if !isBlank(b) {
			d.br.UnreadByte()
			return d.trailing(offset)
		}
		d.skipped++
		offset++
	}
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// trailing is the error for data after a value where its line, record or
// body should end.
func (d *Decoder) trailing(offset int64) error {
	msg := map[Format]string{
		Document: "more data after the GeoJSON object: a body holds one FeatureCollection or Feature (send several as newline-delimited GeoJSON, application/x-ndjson)",
		Lines:    "a second JSON value on the same line: newline-delimited GeoJSON holds one Feature a line",
		Sequence: "a second JSON value in the same record: each record of a GeoJSON text sequence holds one Feature",
	}[d.format]
	return &SyntaxError{offset, msg}
}

func (d *Decoder) endObject() (*RawFeature, error) {
	var typ string
	if err := json.Unmarshal(d.members["type"], &typ); err != nil || typ == "" {
		return nil, &SyntaxError{d.offset(), `the top-level object has no "type": want FeatureCollection, Feature or Polygon`}
	}
	_, hasFeatures := d.members["features"]
	switch {
	case typ == "FeatureCollection" && hasFeatures:
		return nil, nil // its features have been read
	case typ == "FeatureCollection":
		return nil, &SyntaxError{d.offset(), `the FeatureCollection has no "features" array`}
	case hasFeatures:
		return nil, &SyntaxError{d.offset(), fmt.Sprintf(`a %q cannot have "features"`, typ)}
	}
	f := &RawFeature{Index: d.index, Type: typ}
	d.index++
	if typ == "Feature" {
		f.Geometry, f.Properties = d.members["geometry"], d.members["properties"]
	} else {
		f.Geometry, _ = json.Marshal(d.members)
	}
	return f, nil
}

func (d *Decoder) collectionFeature() (*RawFeature, error) {
	var obj struct {
		Type       string          `json:"type"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties json.RawMessage `json:"properties"`
	}
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return nil, d.fail(err, fmt.Sprintf("feature %d", d.index))
	}
	f := &RawFeature{Index: d.index, Pointer: fmt.Sprintf("/features/%d", d.index)}
	d.index++
	if err := json.Unmarshal(raw, &obj); err != nil {
		f.Type = "" // not an object: reported by the rules as not a Feature
		return f, nil
	}
	f.Type, f.Geometry, f.Properties = obj.Type, obj.Geometry, obj.Properties
	return f, nil
}

func (d *Decoder) expectDelim(want json.Delim) error {
	d.allow()
	tok, err := d.dec.Token()
	if err != nil {
		return d.fail(err, "the body")
	}
	if tok != want {
		return &SyntaxError{d.offset(), fmt.Sprintf("expected %q", want)}
	}
	return nil
}

// fail turns an error of the JSON decoder, met reading what, into the
// decoder's own.
func (d *Decoder) fail(err error, what string) error {
	if errors.Is(err, errValueTooLarge) {
		return &TooLargeError{d.offset(), what}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{se.Offset + d.skipped, se.Error()}
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return &SyntaxError{d.offset(), "the body ends inside the JSON value that starts here (truncated upload?)"}
	}
	return &SyntaxError{d.offset(), err.Error()}
}
