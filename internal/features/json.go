package features

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// The features are written by hand, not by encoding/json, for two reasons:
// each page is streamed a row at a time without building values to
// marshal, and every number property keeps one JSON type in every feature
// (GDAL and QGIS type a field from the values they sample, so a real
// written 2 in one feature and 2.75 in another becomes an integer field
// that truncates the second).

// appendString appends s as a JSON string. Text from PostgreSQL is UTF-8;
// anything else is replaced, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendReal appends v as a JSON number that always has a decimal part
// (2.0, never 2), so every client reads the property as a real. A value
// JSON cannot hold is null.
func appendReal(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	for _, c := range b[n:] {
		if c == '.' {
			return b
		}
	}
	return append(b, '.', '0')
}

// appendRound4 appends v rounded to 4 decimals (a ten-thousandth of an
// acre is 0.4 m²), as appendReal does.
func appendRound4(b []byte, v float64) []byte {
	return appendReal(b, math.Round(v*1e4)/1e4)
}

// member appends "name": after a comma unless it is the first member.
func member(b []byte, name string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = appendString(b, name)
	return append(b, ':')
}
