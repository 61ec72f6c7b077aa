package event

import (
	"runtime"
	"sync"
)

// filePool runs engine.Serve for requests whose file lookups are not in
// the kernel's caches (see engine.ServeCached), on a few goroutines locked
// to their threads: nginx's "aio threads". A loop submits a connection
// and its exchange, and gets the connection back through its done queue
// and eventfd. Submitting never blocks the loop.
type filePool struct {
	mu     sync.Mutex
	cond   sync.Cond
	q      []fileJob
	closed bool
}

type fileJob struct {
	l *loop
	c *conn
	x *exchange
}

func (p *filePool) init() { p.cond.L = &p.mu }

// submit queues a job.
func (p *filePool) submit(j fileJob) {
	p.mu.Lock()
	p.q = append(p.q, j)
	p.mu.Unlock()
	p.cond.Signal()
}

// run is one pool thread: it serves jobs until close.
func (p *filePool) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		p.mu.Lock()
		for len(p.q) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.q) == 0 {
			p.mu.Unlock()
			return
		}
		j := p.q[0]
		p.q[0] = fileJob{}
		p.q = p.q[1:]
		p.mu.Unlock()
		x := j.x
		x.e.Serve(&x.req, x.conn, &x.plan) // the engine the loop took for the request
		j.l.post(j.c)
	}
}

// close ends the threads once the queue is empty.
func (p *filePool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
}
