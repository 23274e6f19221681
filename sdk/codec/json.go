package codec

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe[b] is true for ASCII bytes that need no escaping in a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string. Control characters, quotes
// and backslashes are escaped; invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendJSONBytes appends b as a standard base64 JSON string, or null for
// a nil slice.
func AppendJSONBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// AppendJSONBool appends true or false.
func AppendJSONBool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

// AppendJSONInt appends v as a JSON number.
func AppendJSONInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// AppendJSONUint appends v as a JSON number.
func AppendJSONUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// AppendJSONFloat appends f as the shortest JSON number that parses back
// to f at the given bit size (32 or 64); NaN and infinities, which JSON
// numbers cannot hold, are written as the strings "NaN", "+Inf", "-Inf".
func AppendJSONFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// AppendJSONTime appends t as an RFC 3339 string in UTC with a Z, with
// fractional seconds only when they are not zero:
// "2024-01-01T00:05:00Z", "2024-01-01T00:05:00.25Z". RFC 3339 holds the
// years 0000 to 9999 only; a time in another year (such as the end of a
// window of the last minutes of 9999) is written with ISO 8601's expanded
// year, a sign and at least four digits: "+10000-01-01T00:00:00Z",
// "-0001-12-31T00:00:00Z". [JSONReader.Time] reads both forms.
func AppendJSONTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = append(dst, '"')
	if y := t.Year(); y < 0 || y > 9999 {
		sign := byte('+')
		if y < 0 {
			sign, y = '-', -y
		}
		dst = append(dst, sign)
		for p := 1000; p > y; p /= 10 {
			dst = append(dst, '0')
		}
		dst = strconv.AppendInt(dst, int64(y), 10)
		dst = t.AppendFormat(dst, "-01-02T15:04:05.999999999Z07:00")
	} else {
		dst = t.AppendFormat(dst, time.RFC3339Nano)
	}
	return append(dst, '"')
}

// AppendJSONDuration appends d as integer nanoseconds, as encoding/json does.
func AppendJSONDuration(dst []byte, d time.Duration) []byte {
	return strconv.AppendInt(dst, int64(d), 10)
}

// AppendJSONIntKey appends v as a quoted object key ("-12").
func AppendJSONIntKey(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"')
}

// AppendJSONUintKey appends v as a quoted object key.
func AppendJSONUintKey(dst []byte, v uint64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, '"')
}

// AppendJSONFloatKey appends f as a quoted object key.
func AppendJSONFloatKey(dst []byte, f float64, bits int) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
	return append(dst, '"')
}
