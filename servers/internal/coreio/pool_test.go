package coreio

import (
	"testing"
	"time"
)

type fakeConn struct {
	name     string
	requests int
	dead     bool
	closed   *[]string
}

func (c fakeConn) Alive() bool   { return !c.dead }
func (c fakeConn) Requests() int { return c.requests }
func (c fakeConn) Close() error  { *c.closed = append(*c.closed, c.name); return nil }

func TestPool(t *testing.T) {
	var closed []string
	conn := func(name string, requests int, dead bool) fakeConn {
		return fakeConn{name: name, requests: requests, dead: dead, closed: &closed}
	}
	t0 := time.Unix(1000, 0)
	var p Pool[fakeConn] // the zero value is ready

	if _, ok := p.Get("a:80", 0, 0, t0); ok {
		t.Fatal("Get on an empty pool: want none")
	}
	// At most 2 idle per address: the least recently used goes first.
	p.Put("a:80", conn("a1", 1, false), 2, t0)
	p.Put("a:80", conn("a2", 1, false), 2, t0)
	p.Put("a:80", conn("a3", 1, false), 2, t0)
	if len(closed) != 1 || closed[0] != "a1" {
		t.Fatalf("closed %v after a third Put with max 2, want [a1]", closed)
	}
	// Most recently used first; other addresses are apart.
	p.Put("b:80", conn("b1", 1, false), 2, t0)
	if c, ok := p.Get("a:80", 0, 0, t0); !ok || c.name != "a3" {
		t.Fatalf("Get = %v, %v; want a3", c.name, ok)
	}

	for _, tc := range []struct {
		name    string
		c       fakeConn
		timeout time.Duration
		max     int
		now     time.Time
	}{
		{"idle too long", conn("x1", 1, false), time.Second, 0, t0.Add(2 * time.Second)},
		{"requests used up", conn("x2", 5, false), 0, 5, t0},
		{"dead", conn("x3", 1, true), 0, 0, t0},
	} {
		closed = nil
		p.Put("x:80", tc.c, 4, t0)
		if c, ok := p.Get("x:80", tc.timeout, tc.max, tc.now); ok {
			t.Errorf("%s: Get = %v, want none", tc.name, c.name)
		}
		if len(closed) != 1 || closed[0] != tc.c.name {
			t.Errorf("%s: closed %v, want [%s]", tc.name, closed, tc.c.name)
		}
	}

	// Close closes what is idle, and a later Put closes its connection.
	closed = nil
	p.Close()
	p.Put("a:80", conn("late", 1, false), 2, t0)
	want := map[string]bool{"a2": true, "b1": true, "late": true}
	if len(closed) != len(want) {
		t.Fatalf("closed %v, want %v", closed, want)
	}
	for _, n := range closed {
		if !want[n] {
			t.Errorf("closed %s, want only %v", n, want)
		}
	}
}
