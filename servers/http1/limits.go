package http1

// Limits bounds a message head, so that a core never buffers without
// bound. Lengths count the line terminator. A zero field means its default.
type Limits struct {
	LineMax   int // request line (or status line)
	FieldMax  int // one header field line
	HeaderMax int // whole head, leading empty lines and final empty line included
	MaxFields int // header fields
}

// DefaultLimits are nginx's defaults (large_client_header_buffers 4 8k):
// lines up to 8k, the head up to 4*8k; nginx has no field count limit,
// we allow 100 fields.
var DefaultLimits = Limits{LineMax: 8192, FieldMax: 8192, HeaderMax: 4 * 8192, MaxFields: 100}

// LimitsFor maps nginx's client_header_buffer_size (bufSize) and
// large_client_header_buffers (number, size) to Limits: a line must fit in
// one buffer, and the head in the large buffers together (or in the first
// buffer alone). Non-positive arguments take nginx's defaults (1k, 4, 8k).
func LimitsFor(bufSize int64, number int, size int64) Limits {
	if bufSize <= 0 {
		bufSize = 1024
	}
	if number <= 0 {
		number = 4
	}
	if size <= 0 {
		size = 8192
	}
	const maxInt = int64(^uint(0) >> 1)
	line := max(bufSize, size)
	total := int64(number) * size
	if total/int64(number) != size || total > maxInt {
		total = maxInt
	}
	total = max(total, bufSize)
	line = min(line, maxInt)
	return Limits{
		LineMax:   int(line),
		FieldMax:  int(line),
		HeaderMax: int(total),
		MaxFields: DefaultLimits.MaxFields,
	}
}

// withDefaults returns l with zero (or negative) fields replaced by defaults.
func (l Limits) withDefaults() Limits {
	if l.LineMax <= 0 {
		l.LineMax = DefaultLimits.LineMax
	}
	if l.FieldMax <= 0 {
		l.FieldMax = DefaultLimits.FieldMax
	}
	if l.HeaderMax <= 0 {
		l.HeaderMax = DefaultLimits.HeaderMax
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultLimits.MaxFields
	}
	return l
}
