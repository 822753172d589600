package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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

// Decoder reads the features of a GeoJSON body one at a time, so memory stays
// bounded by the largest feature, not the body. It accepts a FeatureCollection,
// a Feature or a bare geometry, or any sequence of them (newline-delimited
// JSON, or RFC 8142 text sequences when made with NewSequenceDecoder).
type Decoder struct {
	dec   *json.Decoder
	index int
	// state of the top-level object being read
	inObject   bool
	inFeatures bool
	members    map[string]json.RawMessage
	crs        json.RawMessage
}

// NewDecoder reads GeoJSON, or newline-delimited GeoJSON, from r. A leading
// byte order mark is skipped.
func NewDecoder(r io.Reader) *Decoder {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	return &Decoder{dec: json.NewDecoder(br)}
}

// NewSequenceDecoder reads an RFC 8142 GeoJSON text sequence from r: records
// that each start with the record separator 0x1E.
func NewSequenceDecoder(r io.Reader) *Decoder {
	return NewDecoder(&separatorsAsSpace{r: r})
}

// separatorsAsSpace turns RFC 8142's record separators into white space, so
// the records read as a plain sequence of JSON values. A separator cannot
// stand inside a JSON string (control characters must be escaped), so this
// changes no value.
type separatorsAsSpace struct{ r io.Reader }

func (s *separatorsAsSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for i, b := range p[:n] {
		if b == 0x1e {
			p[i] = ' '
		}
	}
	return n, err
}

// CRS returns the legacy crs member of the top-level object, if there was
// one. It is complete once Next has returned io.EOF.
func (d *Decoder) CRS() json.RawMessage { return d.crs }

// Next returns the next feature, or io.EOF after the last. Any other error is
// a *SyntaxError.
func (d *Decoder) Next() (*RawFeature, error) {
	for {
		switch {
		case d.inFeatures:
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
		default:
			tok, err := d.dec.Token()
			if err == io.EOF {
				return nil, io.EOF
			}
			if err != nil {
				return nil, d.syntax(err)
			}
			if tok != json.Delim('{') {
				return nil, &SyntaxError{d.dec.InputOffset(), "expected a JSON object: a FeatureCollection, a Feature or a Polygon"}
			}
			d.inObject = true
			d.members = map[string]json.RawMessage{}
		}
	}
}

// member reads one member of the top-level object, or its end, which yields
// the object itself when it is a Feature or a geometry.
func (d *Decoder) member() (*RawFeature, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(err)
	}
	if tok == json.Delim('}') {
		d.inObject = false
		return d.endObject()
	}
	key := tok.(string) // object keys are always strings
	if _, seen := d.members[key]; seen {
		return nil, &SyntaxError{d.dec.InputOffset(), fmt.Sprintf("member %q appears twice", key)}
	}
	if key == "features" {
		if err := d.expectDelim('['); err != nil {
			return nil, &SyntaxError{d.dec.InputOffset(), "features must be an array"}
		}
		d.members[key] = nil
		d.inFeatures = true
		return nil, nil
	}
	var v json.RawMessage
	if err := d.dec.Decode(&v); err != nil {
		return nil, d.syntax(err)
	}
	if key == "crs" {
		d.crs = v
	}
	d.members[key] = v
	return nil, nil
}

func (d *Decoder) endObject() (*RawFeature, error) {
	var typ string
	if err := json.Unmarshal(d.members["type"], &typ); err != nil || typ == "" {
		return nil, &SyntaxError{d.dec.InputOffset(), `the top-level object has no "type": want FeatureCollection, Feature or Polygon`}
	}
	_, hasFeatures := d.members["features"]
	switch {
	case typ == "FeatureCollection" && hasFeatures:
		return nil, nil // its features have been read
	case typ == "FeatureCollection":
		return nil, &SyntaxError{d.dec.InputOffset(), `the FeatureCollection has no "features" array`}
	case hasFeatures:
		return nil, &SyntaxError{d.dec.InputOffset(), fmt.Sprintf(`a %q cannot have "features"`, typ)}
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
		return nil, d.syntax(err)
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
	tok, err := d.dec.Token()
	if err != nil {
		return d.syntax(err)
	}
	if tok != want {
		return &SyntaxError{d.dec.InputOffset(), fmt.Sprintf("expected %q", want)}
	}
	return nil
}

func (d *Decoder) syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{se.Offset, se.Error()}
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return &SyntaxError{d.dec.InputOffset(), "the body ends inside the JSON value that starts here (truncated upload?)"}
	}
	return &SyntaxError{d.dec.InputOffset(), err.Error()}
}
