package coreio

import (
	"sync"
	"time"
)

// PoolConn is an upstream connection a Pool can hold.
type PoolConn interface {
	Alive() bool   // still usable after idling (no EOF, no stray bytes)
	Requests() int // requests sent on it so far
	Close() error
}

// Pool caches idle upstream connections keyed by peer address: nginx's
// upstream keepalive cache, for cores whose connections several threads
// hand around. Its lock is held only to push or pop. The zero value is
// ready to use.
type Pool[C PoolConn] struct {
	mu     sync.Mutex
	idle   map[string][]idleConn[C]
	closed bool
}

type idleConn[C PoolConn] struct {
	c     C
	since time.Time // when it went idle
}

// Get pops the most recently used live connection to addr, closing
// those idle longer than timeout or with max requests already sent
// (0: no limit).
func (p *Pool[C]) Get(addr string, timeout time.Duration, max int, now time.Time) (c C, ok bool) {
	for {
		p.mu.Lock()
		l := p.idle[addr]
		if len(l) == 0 {
			p.mu.Unlock()
			return c, false
		}
		e := l[len(l)-1]
		p.idle[addr] = l[:len(l)-1]
		p.mu.Unlock()
		if (timeout > 0 && now.Sub(e.since) > timeout) || (max > 0 && e.c.Requests() >= max) || !e.c.Alive() {
			e.c.Close()
			continue
		}
		return e.c, true
	}
}

// Put caches c as idle since now, closing the least recently used
// beyond max per address; after Close it closes c instead.
func (p *Pool[C]) Put(addr string, c C, max int, now time.Time) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	if p.idle == nil {
		p.idle = make(map[string][]idleConn[C])
	}
	l := append(p.idle[addr], idleConn[C]{c, now})
	var evict []idleConn[C]
	if n := len(l) - max; n > 0 {
		evict = append(evict, l[:n]...)
		l = append(l[:0], l[n:]...)
	}
	p.idle[addr] = l
	p.mu.Unlock()
	for _, e := range evict {
		e.c.Close()
	}
}

// Close closes every idle connection; Put closes from then on.
func (p *Pool[C]) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, l := range p.idle {
		for _, e := range l {
			e.c.Close()
		}
		delete(p.idle, k)
	}
}
