package codec

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// JSONError is a problem with a JSON document: which field (dotted path,
// empty at the top level) and what was wrong, as in
// "field amount: want number, got string".
type JSONError struct {
	Field string
	Msg   string
}

func (e *JSONError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return "field " + e.Field + ": " + e.Msg
}

// maxDepth bounds the nesting of objects and arrays a JSONReader accepts.
const maxDepth = 1000

type jsonFrame struct {
	prefix string // path of the object or array
	n      int    // members read so far
}

// JSONReader lexes one JSON document with a sticky error. Generated code
// walks objects with [JSONReader.BeginObject] and [JSONReader.NextKey],
// switches on [JSONReader.Key], reads values with the typed methods and
// calls [JSONReader.Skip] for unknown keys. After an error every method
// returns a zero value (and false).
type JSONReader struct {
	data   []byte
	pos    int
	err    error
	key    string // current key; may alias data
	frames []jsonFrame
	top    byte // '{' or '[' once the top-level value is an object or array
}

// NewJSONReader returns a reader of src.
func NewJSONReader(src []byte) JSONReader { return JSONReader{data: src} }

// Err returns the first error met, or nil.
func (d *JSONReader) Err() error { return d.err }

// Finish checks that only white space follows the document and returns the
// first error.
func (d *JSONReader) Finish() error {
	if d.err != nil {
		return d.err
	}
	d.ws()
	if d.pos < len(d.data) {
		what := "value"
		if d.top == '{' {
			what = "object"
		}
		d.key = ""
		d.frames = d.frames[:0]
		d.syntax("unexpected data after the JSON " + what)
	}
	return d.err
}

// path is the dotted name of the value being read.
func (d *JSONReader) path() string {
	if len(d.frames) == 0 {
		return ""
	}
	f := d.frames[len(d.frames)-1]
	if f.prefix == "" {
		return strings.Clone(d.key)
	}
	if d.key == "" {
		return f.prefix
	}
	return f.prefix + "." + d.key
}

// Fail records a one-line error about the document as a whole (no field),
// such as "missing event time field ts", if there is no error yet.
func (d *JSONReader) Fail(msg string) {
	if d.err == nil {
		d.err = &JSONError{Msg: msg}
	}
}

// fail records msg about the current field.
func (d *JSONReader) fail(msg string) {
	if d.err == nil {
		d.err = &JSONError{Field: d.path(), Msg: msg}
	}
}

// syntax records msg about the current field with the offset it happened
// at. Input that ends early says so, whatever was expected.
func (d *JSONReader) syntax(msg string) {
	if d.pos >= len(d.data) {
		msg = "unexpected end of input (truncated JSON?)"
	}
	d.fail(msg + " at offset " + strconv.Itoa(d.pos))
}

func (d *JSONReader) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// describe names what is at the current position, for errors.
func (d *JSONReader) describe() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	case c == ']' || c == '}' || c == ',' || c == ':':
		return "'" + string(c) + "'"
	default:
		return "invalid character " + strconv.QuoteRune(rune(c))
	}
}

func (d *JSONReader) want(what string) {
	if d.pos >= len(d.data) && len(d.frames) > 0 {
		d.syntax("")
		return
	}
	d.fail("want " + what + ", got " + d.describe())
}

// literal consumes lit (true, false, null) or fails.
func (d *JSONReader) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	d.syntax("invalid literal")
	return false
}

// peek skips white space and returns the next byte (0 at the end); it
// returns 0 after an error.
func (d *JSONReader) peek() byte {
	if d.err != nil {
		return 0
	}
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// Null consumes a null and reports whether there was one.
func (d *JSONReader) Null() bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	return false
}

// BeginObject consumes '{' and returns true; for null it returns false
// and sets no error; for anything else it fails.
func (d *JSONReader) BeginObject() bool { return d.begin('{', "object") }

// BeginArray consumes '[' and returns true; for null it returns false and
// sets no error; for anything else it fails.
func (d *JSONReader) BeginArray() bool { return d.begin('[', "array") }

func (d *JSONReader) begin(c byte, what string) bool {
	switch d.peek() {
	case c:
	case 'n':
		if len(d.frames) == 0 && d.top == 0 && c == '{' {
			// A record is an object; a null line is not one.
			d.want(what)
			return false
		}
		d.literal("null")
		return false
	default:
		if d.err == nil {
			d.want(what)
		}
		return false
	}
	if len(d.frames) >= maxDepth {
		d.syntax("nested too deeply")
		return false
	}
	d.pos++
	p := ""
	if len(d.frames) > 0 {
		p = d.path()
	} else if d.top == 0 {
		d.top = c
	}
	d.frames = append(d.frames, jsonFrame{prefix: p})
	d.key = ""
	return true
}

// end handles the separator before the next member of the innermost
// object or array; it returns false (popping the frame) at its end.
func (d *JSONReader) next(close byte) bool {
	c := d.peek()
	if d.err != nil || len(d.frames) == 0 {
		return false
	}
	f := &d.frames[len(d.frames)-1]
	if c == close {
		d.pos++
		d.frames = d.frames[:len(d.frames)-1]
		d.key = ""
		if len(d.frames) > 0 {
			// Report later errors against the enclosing value.
			d.key = lastKey(f.prefix, d.frames[len(d.frames)-1].prefix)
		}
		return false
	}
	if f.n > 0 {
		if c != ',' {
			if close == '}' {
				d.syntax("want ',' or '}', got " + d.describe())
			} else {
				d.syntax("want ',' or ']', got " + d.describe())
			}
			return false
		}
		d.pos++
	}
	f.n++
	return true
}

func lastKey(path, parent string) string {
	if parent == "" {
		return path
	}
	return strings.TrimPrefix(path, parent+".")
}

// NextKey reads the next key of the innermost object and its colon; it
// returns false at the closing brace or after an error.
func (d *JSONReader) NextKey() bool {
	if !d.next('}') {
		return false
	}
	d.key = ""
	if d.peek() != '"' {
		d.syntax("want object key, got " + d.describe())
		return false
	}
	k, ok := d.str()
	if !ok {
		return false
	}
	if d.peek() != ':' {
		d.syntax("want ':' after object key, got " + d.describe())
		return false
	}
	d.pos++
	d.key = k
	return true
}

// NextElem reports whether the innermost array has another element.
func (d *JSONReader) NextElem() bool {
	if !d.next(']') {
		return false
	}
	if d.peek() == ']' {
		d.syntax("want array element, got ']'")
		return false
	}
	return true
}

// Key returns the current object key. It may alias the input and is valid
// until the next call; compare it or copy it.
func (d *JSONReader) Key() string { return d.key }

// str reads a JSON string at the current position (a '"'). Without
// escapes the result aliases the input.
func (d *JSONReader) str() (string, bool) {
	start := d.pos + 1
	i := start
	for i < len(d.data) {
		c := d.data[i]
		if c == '"' {
			d.pos = i + 1
			return unsafe.String(unsafe.SliceData(d.data[start:i]), i-start), true
		}
		if c == '\\' {
			return d.strSlow(start)
		}
		if c < 0x20 {
			d.pos = i
			d.syntax("control character in string")
			return "", false
		}
		i++
	}
	d.pos = i
	d.syntax("unterminated string")
	return "", false
}

func (d *JSONReader) strSlow(start int) (string, bool) {
	buf := make([]byte, 0, 2*(d.pos-start)+16)
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(buf), true
		case c < 0x20:
			d.pos = i
			d.syntax("control character in string")
			return "", false
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			break
		}
		e := d.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d.data, i)
			if !ok {
				d.pos = i
				d.syntax("invalid \\u escape")
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(d.data, i+2); ok && i+1 < len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						i += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			d.pos = i - 1
			d.syntax("invalid escape")
			return "", false
		}
	}
	d.pos = len(d.data)
	d.syntax("unterminated string")
	return "", false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number returns the text of a JSON number at the current position.
func (d *JSONReader) number() (string, bool) {
	start := d.pos
	i := start
	for i < len(d.data) {
		c := d.data[i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			i++
			continue
		}
		break
	}
	if i == start {
		d.syntax("invalid number")
		return "", false
	}
	d.pos = i
	return unsafe.String(unsafe.SliceData(d.data[start:i]), i-start), true
}

// String reads a string; null gives "".
func (d *JSONReader) String() string {
	switch d.peek() {
	case '"':
		s, ok := d.str()
		if !ok {
			return ""
		}
		return strings.Clone(s)
	case 'n':
		d.literal("null")
		return ""
	}
	if d.err == nil {
		d.want("string")
	}
	return ""
}

// Bool reads true or false; null gives false.
func (d *JSONReader) Bool() bool {
	switch d.peek() {
	case 't':
		return d.literal("true")
	case 'f':
		d.literal("false")
		return false
	case 'n':
		d.literal("null")
		return false
	}
	if d.err == nil {
		d.want("bool")
	}
	return false
}

// numberText reads a number (or null, returning ok=false without error).
func (d *JSONReader) numberText(what string) (string, bool) {
	switch c := d.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 'n':
		d.literal("null")
		return "", false
	}
	if d.err == nil {
		d.want(what)
	}
	return "", false
}

// Int reads an integer that fits in a signed integer of the given bit size.
func (d *JSONReader) Int(bits int) int64 {
	s, ok := d.numberText("number")
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		d.numErr(s, err, "int"+strconv.Itoa(bits))
		return 0
	}
	return v
}

// Uint reads an integer that fits in an unsigned integer of the given bit size.
func (d *JSONReader) Uint(bits int) uint64 {
	s, ok := d.numberText("number")
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		if _, ierr := strconv.ParseInt(s, 10, 64); ierr == nil || strings.HasPrefix(s, "-") {
			d.fail("value " + s + " out of range for uint" + strconv.Itoa(bits))
			return 0
		}
		d.numErr(s, err, "uint"+strconv.Itoa(bits))
		return 0
	}
	return v
}

func (d *JSONReader) numErr(s string, err error, typ string) {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		d.fail("value " + s + " out of range for " + typ)
		return
	}
	if _, ferr := strconv.ParseFloat(s, 64); ferr == nil {
		d.fail("want integer, got " + s)
		return
	}
	d.fail("invalid number " + strconv.Quote(s))
}

// Float reads a number of the given bit size (32 or 64), or one of the
// strings "NaN", "+Inf", "Inf", "-Inf".
func (d *JSONReader) Float(bits int) float64 {
	if d.peek() == '"' {
		s, ok := d.str()
		if !ok {
			return 0
		}
		switch s {
		case "NaN":
			return math.NaN()
		case "+Inf", "Inf":
			return math.Inf(1)
		case "-Inf":
			return math.Inf(-1)
		}
		d.fail("want number, got string")
		return 0
	}
	s, ok := d.numberText("number")
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(s, bits)
	if err != nil {
		d.fail("invalid number " + strconv.Quote(s))
		return 0
	}
	return v
}

// Time reads an RFC 3339 string as a UTC time; null gives the zero time.
// It also reads the expanded years [AppendJSONTime] writes for years
// outside 0000-9999 ("+10000-01-01T00:00:00Z"), as far as microseconds
// since 1970 fit an int64 (about 292,000 years either way).
func (d *JSONReader) Time() time.Time {
	switch d.peek() {
	case '"':
		s, ok := d.str()
		if !ok {
			return time.Time{}
		}
		if t, ok := parseUTC(s); ok {
			return t
		}
		var t time.Time
		var err error
		if s != "" && (s[0] == '+' || s[0] == '-') {
			t, err = parseExpanded(s)
		} else {
			t, err = time.Parse(time.RFC3339Nano, s)
		}
		if err != nil {
			d.fail("want RFC 3339 time, got " + strconv.Quote(s))
			return time.Time{}
		}
		return t.UTC()
	case 'n':
		d.literal("null")
		return time.Time{}
	}
	if d.err == nil {
		d.want("RFC 3339 time string")
	}
	return time.Time{}
}

// Duration reads integer nanoseconds or a time.ParseDuration string ("1.5s").
func (d *JSONReader) Duration() time.Duration {
	if d.peek() == '"' {
		s, ok := d.str()
		if !ok {
			return 0
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.fail("want duration, got " + strconv.Quote(s))
			return 0
		}
		return v
	}
	return time.Duration(d.Int(64))
}

// Bytes reads a standard base64 string into a new slice; null gives nil.
func (d *JSONReader) Bytes() []byte {
	switch d.peek() {
	case '"':
		s, ok := d.str()
		if !ok {
			return nil
		}
		b, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(s))), unsafe.Slice(unsafe.StringData(s), len(s)))
		if err != nil {
			d.fail("want base64 string, got invalid base64")
			return nil
		}
		return b
	case 'n':
		d.literal("null")
		return nil
	}
	if d.err == nil {
		d.want("base64 string")
	}
	return nil
}

// KeyInt parses the current key as a signed integer of the given bit size.
func (d *JSONReader) KeyInt(bits int) int64 {
	v, err := strconv.ParseInt(d.key, 10, bits)
	if err != nil && d.err == nil {
		d.fail("want integer key")
	}
	return v
}

// KeyUint parses the current key as an unsigned integer of the given bit size.
func (d *JSONReader) KeyUint(bits int) uint64 {
	v, err := strconv.ParseUint(d.key, 10, bits)
	if err != nil && d.err == nil {
		d.fail("want unsigned integer key")
	}
	return v
}

// KeyFloat parses the current key as a float of the given bit size.
func (d *JSONReader) KeyFloat(bits int) float64 {
	v, err := strconv.ParseFloat(d.key, bits)
	if err != nil && d.err == nil {
		d.fail("want number key")
	}
	return v
}

// KeyString returns a copy of the current key.
func (d *JSONReader) KeyString() string { return strings.Clone(d.key) }

// Skip reads and discards one value of any kind.
func (d *JSONReader) Skip() {
	var buf [32]byte
	stack := buf[:0] // closing brackets of the open containers
	for {
		switch c := d.peek(); {
		case d.err != nil:
			return
		case c == '"':
			d.str()
		case c == 't':
			d.literal("true")
		case c == 'f':
			d.literal("false")
		case c == 'n':
			d.literal("null")
		case c == '-' || c >= '0' && c <= '9':
			d.number()
		case c == '{' || c == '[':
			if len(stack)+len(d.frames) >= maxDepth {
				d.syntax("nested too deeply")
				return
			}
			d.pos++
			closing := byte('}')
			if c == '[' {
				closing = ']'
			}
			if d.peek() == closing {
				d.pos++
				break
			}
			stack = append(stack, closing)
			if closing == '}' && !d.skipKey() {
				return
			}
			continue
		default:
			d.want("value")
			return
		}
		// A value is complete: consume closing brackets up to a comma.
		for {
			if d.err != nil || len(stack) == 0 {
				return
			}
			c := d.peek()
			top := stack[len(stack)-1]
			if c == ',' {
				d.pos++
				if top == '}' && !d.skipKey() {
					return
				}
				break
			}
			if c != top {
				if d.err == nil {
					d.syntax("want ',' or '" + string(top) + "', got " + d.describe())
				}
				return
			}
			d.pos++
			stack = stack[:len(stack)-1]
		}
	}
}

func (d *JSONReader) skipKey() bool {
	if d.peek() != '"' {
		if d.err == nil {
			d.syntax("want object key, got " + d.describe())
		}
		return false
	}
	if _, ok := d.str(); !ok {
		return false
	}
	if d.peek() != ':' {
		if d.err == nil {
			d.syntax("want ':' after object key, got " + d.describe())
		}
		return false
	}
	d.pos++
	return true
}

// maxUnixSeconds bounds the times parseExpanded accepts: those whose
// microseconds since 1970 fit an int64, so that an event time cannot wrap.
const maxUnixSeconds = math.MaxInt64/1_000_000 - 1

// parseExpanded parses an RFC 3339 time whose year is written in ISO
// 8601's expanded form: '+' and five or more digits (years above 9999) or
// '-' and four or more (years before 0000).
func parseExpanded(s string) (time.Time, error) {
	bad := errors.New("bad expanded year")
	i := 1
	for i < len(s) && i < 12 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits := i - 1
	if i >= len(s) || s[i] != '-' || digits < 4 || s[0] == '+' && digits < 5 {
		return time.Time{}, bad
	}
	year, err := strconv.Atoi(s[1:i])
	if err != nil || s[0] == '+' && year <= 9999 || s[0] == '-' && year == 0 {
		return time.Time{}, bad
	}
	if s[0] == '-' {
		year = -year
	}
	// Parse the rest in a four-digit year of the same place in the
	// 400-year Gregorian cycle, then move by whole cycles.
	near := 2000 + (year%400+400)%400
	t, err := time.Parse(time.RFC3339Nano, strconv.Itoa(near)+s[i:])
	if err != nil {
		return time.Time{}, err
	}
	cycles := (year - near) / 400
	if cycles > maxUnixSeconds/(146097*86400) || cycles < -maxUnixSeconds/(146097*86400) {
		return time.Time{}, bad
	}
	t = t.UTC().AddDate(year-near, 0, 0)
	if u := t.Unix(); u > maxUnixSeconds || u < -maxUnixSeconds {
		return time.Time{}, bad
	}
	return t, nil
}

// parseUTC parses the common form "2006-01-02T15:04:05[.frac]Z" without
// time.Parse; anything else (offsets, odd values) reports false and goes
// the slow way.
func parseUTC(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		nsec = num(frac[1:])
		if nsec < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	} else if len(s) != 20 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // February 30th and the like
	}
	return t, true
}
