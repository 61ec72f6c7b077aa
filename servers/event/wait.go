package event

// proxy_cache_lock (engine.Plan.Wait): a request whose cache entry
// another request is filling waits for that fill without blocking its
// loop. The connection is parked in stWait on the timer heap for
// WaitTimeout, as stDelay is for limit_req; a Go channel cannot be put
// in an epoll set, so one goroutine per distinct channel (per loop)
// waits for it to close and posts it back through the loop's done queue
// and eventfd, as the file pool does. Every waiter on that entry is
// resumed then. There are thus at most as many goroutines as cache
// entries being filled at once, each ended by its fill (the engine
// closes the channel when the filling request ends, whatever the way)
// or by the Server's stop; Serve waits for them (waitWG).

// waiters are the connections of one loop waiting for one fill.
type waiters struct {
	conns []*conn
}

// park makes c wait for x.plan.Wait: until it is closed or WaitTimeout
// passes, reading and sending nothing.
func (l *loop) park(c *conn) bool {
	x := c.x
	ch := x.plan.Wait
	c.st = stWait
	x.wait = ch
	l.stats.waiting.Add(1)
	l.setTimer(c, x.plan.WaitTimeout)
	if w := l.waits[ch]; w != nil {
		w.conns = append(w.conns, c)
		return false
	}
	if l.waits == nil {
		l.waits = make(map[<-chan struct{}]*waiters)
	}
	l.waits[ch] = &waiters{conns: []*conn{c}}
	stop := l.s.waitStop
	l.s.waitWG.Go(func() {
		select {
		case <-ch:
			l.postWait(ch)
		case <-stop:
		}
	})
	return false
}

// postWait hands a closed fill channel back to the loop (from its
// watching goroutine).
func (l *loop) postWait(ch <-chan struct{}) {
	l.woken.put(ch)
	l.wakeup()
}

// drainWaits resumes the connections whose fill ended.
func (l *loop) drainWaits() {
	woken := l.woken.take()
	for i, ch := range woken {
		woken[i] = nil
		w := l.waits[ch]
		delete(l.waits, ch)
		if w == nil {
			continue
		}
		for _, c := range w.conns {
			// A connection that timed out or closed meanwhile left the
			// list (unpark); every one here still waits on ch.
			c.x.wait = nil
			l.stats.waiting.Add(-1)
			l.clearTimer(c)
			l.resumeWait(c)
		}
	}
}

// resumeWait plans a waiting request again: the engine serves the
// entry, or after the lock timeout passes the request upstream.
func (l *loop) resumeWait(c *conn) {
	c.st = stServe
	if l.plan(c) {
		l.advance(c)
	}
}

// unpark takes c off its fill's list: its WaitTimeout passed, or it is
// closing.
func (l *loop) unpark(c *conn) {
	x := c.x
	ch := x.wait
	if ch == nil {
		return
	}
	x.wait = nil
	l.stats.waiting.Add(-1)
	w := l.waits[ch]
	if w == nil {
		return
	}
	for i, o := range w.conns {
		if o == c {
			last := len(w.conns) - 1
			w.conns[i] = w.conns[last]
			w.conns[last] = nil
			w.conns = w.conns[:last]
			break
		}
	}
	// The entry stays while its goroutine runs, even empty: the
	// goroutine's post finds and removes it.
}
