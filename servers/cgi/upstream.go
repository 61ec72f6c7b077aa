package cgi

import (
	"net"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// upConn is an upstream connection the parent owns. A proxy child gets
// a copy of its descriptor for one exchange; the parent keeps this one
// and, when the child reports the connection reusable, pools it.
type upConn struct {
	nc       *net.TCPConn
	since    time.Time // idle since
	requests int       // requests sent on it
}

// alive reports whether an idle connection is still usable.
func (u *upConn) alive() bool {
	rc, err := u.nc.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) { ok = coreio.Alive(int(fd)) })
	return ok
}

// upstreamPool caches the parent's idle upstream connections, keyed by
// peer address: the upstream keepalive pool of the cgi core, which no
// child could keep.
type upstreamPool struct {
	mu     sync.Mutex
	idle   map[string][]upConn
	closed bool
}

// get pops the most recently used live connection to addr, dropping
// those past timeout or max requests.
func (p *upstreamPool) get(addr string, timeout time.Duration, max int, now time.Time) (upConn, bool) {
	for {
		p.mu.Lock()
		l := p.idle[addr]
		if len(l) == 0 {
			p.mu.Unlock()
			return upConn{}, false
		}
		c := l[len(l)-1]
		p.idle[addr] = l[:len(l)-1]
		p.mu.Unlock()
		if (timeout > 0 && now.Sub(c.since) > timeout) || (max > 0 && c.requests >= max) || !c.alive() {
			c.nc.Close()
			continue
		}
		return c, true
	}
}

// put caches c, evicting the least recently used beyond max; after
// closeAll it closes c.
func (p *upstreamPool) put(addr string, c upConn, max int) {
	c.since = time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	if p.idle == nil {
		p.idle = make(map[string][]upConn)
	}
	l := append(p.idle[addr], c)
	var evict *net.TCPConn
	if len(l) > max {
		evict = l[0].nc
		l = append(l[:0], l[1:]...)
	}
	p.idle[addr] = l
	p.mu.Unlock()
	if evict != nil {
		evict.Close()
	}
}

// closeAll closes every idle connection; put closes from then on.
func (p *upstreamPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, l := range p.idle {
		for _, c := range l {
			c.nc.Close()
		}
		delete(p.idle, k)
	}
}

// dialUpstream connects to addr within timeout (0: the system's).
func dialUpstream(addr string, timeout time.Duration) (upConn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return upConn{}, err
	}
	return upConn{nc: nc.(*net.TCPConn)}, nil
}
