package http1

import (
	"sync/atomic"
	"time"
)

// TimeFormat is the IMF-fixdate layout of HTTP dates.
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// AppendDate appends t as an IMF-fixdate, in UTC.
func AppendDate(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeFormat)
}

// DateCache formats the Date value at most once per second. It is safe for
// concurrent use, with no lock: readers load an atomic pointer. The zero
// value is ready to use.
type DateCache struct {
	cur atomic.Pointer[dateStamp]
}

type dateStamp struct {
	sec int64
	b   [len(TimeFormat)]byte
}

// Get returns the Date value for t. The caller must not modify it.
func (c *DateCache) Get(t time.Time) []byte {
	sec := t.Unix()
	old := c.cur.Load()
	if old != nil && old.sec == sec {
		return old.b[:]
	}
	d := &dateStamp{sec: sec}
	AppendDate(d.b[:0], t)
	// A late caller still in the previous second does not replace a newer
	// stamp; a clock stepped back further does.
	if old == nil || sec > old.sec || sec < old.sec-1 {
		c.cur.CompareAndSwap(old, d)
	}
	return d.b[:]
}

// Now returns the Date value for the current time.
func (c *DateCache) Now() []byte { return c.Get(time.Now()) }
