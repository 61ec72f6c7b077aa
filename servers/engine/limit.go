package engine

import (
	"strconv"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/config"
)

// Request and connection limits (limit_req, limit_conn), nginx 1.22's
// preaccess phase: after the rewrite phase (return), before allow/deny.
// A zone is shared by every loop and thread of the process: one mutex
// per zone, held for a map lookup and a little arithmetic, never across
// a system call.
//
// Zones hold nginx's shared-memory entries in Go memory. Their SIZE is
// turned into a number of entries by nginx's own per-entry size on a
// 64-bit build (slab-rounded to a power of two: 128 bytes for a
// limit_req entry with a 4-byte $binary_remote_addr key, 64 bytes for
// a limit_conn one), after two pages for the slab pool's own header:
// an estimate of how many keys the same nginx zone holds.

// Zone entry sizes, as ngx_http_limit_req_lookup and
// ngx_http_limit_conn_handler compute them: the rbtree node up to its
// color field (32 bytes), then the module's node up to its data.
const (
	rbNodeHead    = 32
	reqNodeHead   = 48
	connNodeHead  = 4
	zoneOverhead  = 2 * 4096
	maxReqKey     = 65535
	maxConnKey    = 255
	limitKeysHeld = 8 // limit_req lines handled without allocating
)

// slabSize rounds n up as nginx's slab allocator does (powers of two
// from 8 bytes).
func slabSize(n int) int64 {
	s := int64(8)
	for s < int64(n) {
		s <<= 1
	}
	return s
}

// reqZone is a limit_req_zone's state: entries by key, and their LRU
// list (head: most recently used).
type reqZone struct {
	cfg *config.LimitReqZone
	*reqState
}

// reqState is the part of a reqZone an engine built by a reload takes
// over (InheritZones).
type reqState struct {
	mu       sync.Mutex
	nodes    map[string]*reqNode
	head     reqNode // sentinel of the LRU ring
	used     int64
	capacity int64
}

type reqNode struct {
	key        string
	prev, next *reqNode
	last       int64 // ms
	excess     int64 // milli-requests
	count      int64 // requests between lookup and account
	size       int64
}

func newReqZone(z *config.LimitReqZone) *reqZone {
	r := &reqZone{cfg: z, reqState: &reqState{nodes: make(map[string]*reqNode), capacity: z.Size - zoneOverhead}}
	r.head.prev, r.head.next = &r.head, &r.head
	return r
}

func (z *reqZone) unlink(n *reqNode) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (z *reqZone) pushFront(n *reqNode) {
	n.prev, n.next = &z.head, z.head.next
	z.head.next.prev = n
	z.head.next = n
}

func (z *reqZone) remove(n *reqNode) {
	z.unlink(n)
	delete(z.nodes, n.key)
	z.used -= n.size
}

// Results of a lookup, as nginx's NGX_OK, NGX_AGAIN, NGX_BUSY, NGX_ERROR
// (and NGX_DECLINED for no limit applied).
const (
	limDeclined = iota
	limOK
	limAgain
	limBusy
	limError
)

// elapsed is nginx's clamped "now - last" in ms.
func elapsed(now, last int64) int64 {
	ms := now - last
	if ms < -60000 {
		return 1
	}
	if ms < 0 {
		return 0
	}
	return ms
}

// expire frees up to two entries nobody uses that have been idle for a
// minute and drained, from the LRU tail; with n 0 the first is freed
// whatever its state (ngx_http_limit_req_expire).
func (z *reqZone) expire(n int, now int64) {
	for n < 3 {
		lr := z.head.prev
		if lr == &z.head || lr.count != 0 {
			return
		}
		if n != 0 {
			ms := now - lr.last
			if ms < 0 {
				ms = -ms
			}
			if ms < 60000 {
				return
			}
			if lr.excess-z.cfg.Rate*ms/1000 > 0 {
				return
			}
		}
		n++
		z.remove(lr)
	}
}

// lookup is ngx_http_limit_req_lookup, under z.mu.
func (z *reqZone) lookup(lr *config.LimitReq, key []byte, now int64, account bool) (rc int, excess int64, node *reqNode) {
	if n := z.nodes[string(key)]; n != nil {
		z.unlink(n)
		z.pushFront(n)
		ms := elapsed(now, n.last)
		excess = n.excess - z.cfg.Rate*ms/1000 + 1000
		if excess < 0 {
			excess = 0
		}
		if excess > lr.Burst {
			return limBusy, excess, nil
		}
		if account {
			n.excess = excess
			if ms != 0 {
				n.last = now
			}
			return limOK, excess, nil
		}
		n.count++
		return limAgain, excess, n
	}
	size := slabSize(rbNodeHead + reqNodeHead + len(key))
	z.expire(1, now)
	if z.used+size > z.capacity {
		z.expire(0, now)
		if z.used+size > z.capacity {
			return limError, 0, nil
		}
	}
	n := &reqNode{key: string(key), size: size}
	z.nodes[n.key] = n
	z.pushFront(n)
	z.used += size
	if account {
		n.last = now
		return limOK, 0, nil
	}
	n.count = 1
	return limAgain, 0, n
}

// connZone is a limit_conn_zone's state: requests in progress by key.
type connZone struct {
	cfg *config.LimitConnZone
	*connState
}

// connState is the part of a connZone an engine built by a reload
// takes over (InheritZones): requests of the old engine still release
// their slots into it.
type connState struct {
	mu       sync.Mutex
	nodes    map[string]*connNode
	used     int64
	capacity int64
}

type connNode struct {
	key  string
	conn int
	size int64
}

// connSlot is one limit_conn slot a request holds until it ends.
type connSlot struct {
	z *connZone
	n *connNode
}

// release gives the slot back, freeing the entry at zero
// (ngx_http_limit_conn_cleanup).
func (s connSlot) release() {
	z := s.z
	z.mu.Lock()
	s.n.conn--
	if s.n.conn == 0 {
		delete(z.nodes, s.n.key)
		z.used -= s.n.size
	}
	z.mu.Unlock()
}

// limits is a Plan's limit state: the preaccess decisions made once per
// request (nginx's r->main->limit_req_status and limit_conn_status) and
// the limit_conn slots held until End.
type limits struct {
	reqDone  bool
	connDone bool
	status   int    // a limit rejected the request with it
	msg      string // its error-log line, written when the plan is final
	level    string
	slots    []connSlot
	carried  bool // ServeCached was abandoned: Serve reuses these decisions
	resume   bool // the plan is a Delay: the next Serve continues after limit_req
}

// release gives back every limit_conn slot the plan holds.
func (l *limits) release() {
	for i := range l.slots {
		l.slots[i].release()
		l.slots[i] = connSlot{}
	}
	l.slots = l.slots[:0]
}

// buildZones makes the engine's zones for the config's zone lines.
func (e *Engine) buildZones(h *config.HTTP) {
	e.reqZones = make(map[*config.LimitReqZone]*reqZone, len(h.LimitReqZones))
	for _, z := range h.LimitReqZones {
		e.reqZones[z] = newReqZone(z)
	}
	e.connZones = make(map[*config.LimitConnZone]*connZone, len(h.LimitConnZones))
	for _, z := range h.LimitConnZones {
		e.connZones[z] = &connZone{cfg: z, connState: &connState{nodes: make(map[string]*connNode), capacity: z.Size - zoneOverhead}}
	}
}

// InheritZones makes e, built by a reload, take over the state of old's
// zones that have the same name, kind, size and key, as nginx keeps its
// shared zones across a reload: limit_req's buckets and limit_conn's
// counts carry on (requests still running on old release their slots
// into the same counts). A zone whose size or key changed starts empty
// (nginx would refuse the reload for a changed key). The new rate
// applies at once. The TLS session ticket keys carry over too, and the
// ssl_session_cache shared zones of the same name and size, so that
// clients resume their sessions across a reload (nginx 1.23.2+ keeps
// its generated ticket keys in the shared session cache). Call it
// before e serves its first request.
func (e *Engine) InheritZones(old *Engine) {
	if old == nil || old == e {
		return
	}
	e.inheritTLS(old)
	for c, z := range e.reqZones {
		for oc, oz := range old.reqZones {
			if oc.Name == c.Name && oc.Size == c.Size && oc.Key.Raw == c.Key.Raw {
				z.reqState = oz.reqState
			}
		}
	}
	for c, z := range e.connZones {
		for oc, oz := range old.connZones {
			if oc.Name == c.Name && oc.Size == c.Size && oc.Key.Raw == c.Key.Raw {
				z.connState = oz.connState
			}
		}
	}
}

// preaccess runs limit_req then limit_conn for loc, as nginx's
// preaccess phase (limit_req's handler is registered last, so it runs
// first). It returns true and the error's next location when a limit
// rejected the request.
func (e *Engine) preaccess(p *Plan, loc *config.Location) (*config.Location, bool) {
	l := &p.lim
	if l.carried {
		// Serve after an abandoned ServeCached: the decisions stand.
		l.carried = false
		if l.status != 0 {
			return e.error(p, l.status), true
		}
		return nil, false
	}
	l.resume = false // served again after Delay: limit_req is done, limit_conn follows
	if len(loc.LimitReqs) > 0 && !l.reqDone {
		status, delay := e.limitReq(p, loc)
		if status != 0 {
			l.status = status
			return e.error(p, status), true
		}
		if delay > 0 {
			// The core waits, then serves the request again (see
			// Plan.Delay); should the client leave meanwhile, End logs
			// nginx's 499.
			p.Delay = delay
			p.Status = 499
			l.resume = true
			return nil, true
		}
	}
	if len(loc.LimitConns) > 0 && !l.connDone {
		if status := e.limitConn(p, loc); status != 0 {
			l.status = status
			return e.error(p, status), true
		}
	}
	return nil, false
}

// limitReq is ngx_http_limit_req_handler: it returns the status to
// reject with, or 0 and how long to delay the request.
func (e *Engine) limitReq(p *Plan, loc *config.Location) (int, time.Duration) {
	st := &p.st
	l := &p.lim
	lims := loc.LimitReqs
	var heldBuf [limitKeysHeld]*reqNode
	held := heldBuf[:0]
	if len(lims) > limitKeysHeld {
		held = make([]*reqNode, 0, len(lims))
	}
	held = held[:len(lims)]
	now := st.now.UnixMilli()
	rc := limDeclined
	var excess int64
	var lim *config.LimitReq
	n := 0
	for ; n < len(lims); n++ {
		lim = lims[n]
		z := e.reqZones[lim.Zone]
		if z == nil {
			continue
		}
		key := p.zoneKey(lim.Zone.Key)
		if len(key) == 0 {
			continue
		}
		if len(key) > maxReqKey {
			e.logf("error", "the value of the %q key is more than 65535 bytes: %q", p, lim.Zone.Key.Raw, key[:64])
			continue
		}
		z.mu.Lock()
		var node *reqNode
		rc, excess, node = z.lookup(lim, key, now, n == len(lims)-1)
		z.mu.Unlock()
		held[n] = node
		if rc != limAgain {
			break
		}
	}
	if rc == limDeclined {
		return 0, 0
	}
	l.reqDone = true
	if rc == limBusy || rc == limError {
		if rc == limBusy {
			l.level = "error"
			l.msg = "limiting requests, excess: " + milli(excess) + ` by zone "` + lim.Zone.Name + `"` + st.context() + st.hostContext()
		} else {
			l.level = "alert"
			l.msg = `could not allocate node in limit_req zone "` + lim.Zone.Name + `"`
		}
		for i := n - 1; i >= 0; i-- {
			if held[i] == nil {
				continue
			}
			z := e.reqZones[lims[i].Zone]
			z.mu.Lock()
			held[i].count--
			z.mu.Unlock()
		}
		if !st.cached {
			e.logLimit(p)
		}
		return loc.LimitReqStatus, 0
	}
	if rc == limAgain {
		excess = 0
	}
	delay, excess, lim := e.limitAccount(lims, held, n, now, excess, lim)
	if delay > 0 {
		if e.errorLog != nil {
			e.errorLog("warn", "delaying request, excess: "+milli(excess)+`, by zone "`+lim.Zone.Name+`"`+st.context()+st.hostContext())
		}
	}
	return 0, delay
}

// limitAccount is ngx_http_limit_req_account: it charges the request to
// the entries of the limits before n that looked it up without
// charging it, and returns the longest delay any of them asks for.
func (e *Engine) limitAccount(lims []*config.LimitReq, held []*reqNode, n int, now, excess int64, lim *config.LimitReq) (time.Duration, int64, *config.LimitReq) {
	var maxDelay int64
	if excess > lim.Delay {
		maxDelay = (excess - lim.Delay) * 1000 / lim.Zone.Rate
	}
	for n--; n >= 0; n-- {
		lr := held[n]
		if lr == nil {
			continue
		}
		z := e.reqZones[lims[n].Zone]
		z.mu.Lock()
		ms := elapsed(now, lr.last)
		ex := lr.excess - z.cfg.Rate*ms/1000 + 1000
		if ex < 0 {
			ex = 0
		}
		if ms != 0 {
			lr.last = now
		}
		lr.excess = ex
		lr.count--
		z.mu.Unlock()
		if ex <= lims[n].Delay {
			continue
		}
		if d := (ex - lims[n].Delay) * 1000 / z.cfg.Rate; d > maxDelay {
			maxDelay, excess, lim = d, ex, lims[n]
		}
	}
	return time.Duration(maxDelay) * time.Millisecond, excess, lim
}

// milli formats milli-requests as nginx's "%ui.%03ui".
func milli(v int64) string {
	f := strconv.FormatInt(v%1000, 10)
	for len(f) < 3 {
		f = "0" + f
	}
	return strconv.FormatInt(v/1000, 10) + "." + f
}

// zoneKey evaluates a zone's key in the scratch space past the end of
// p's arena: the bytes stay valid until the arena next grows, so the
// caller copies what it keeps.
func (p *Plan) zoneKey(k config.Template) []byte {
	m := len(p.arena)
	p.arena = p.eval(p.arena, k)
	key := p.arena[m:]
	p.arena = p.arena[:m]
	return key
}

// limitConn is ngx_http_limit_conn_handler: it takes a slot in every
// zone of loc's limit_conn lines and returns 0, or releases what it
// took and returns the status to reject with.
func (e *Engine) limitConn(p *Plan, loc *config.Location) int {
	st := &p.st
	l := &p.lim
	for _, lim := range loc.LimitConns {
		z := e.connZones[lim.Zone]
		if z == nil {
			continue
		}
		key := p.zoneKey(lim.Zone.Key)
		if len(key) == 0 {
			continue
		}
		if len(key) > maxConnKey {
			e.logf("error", "the value of the %q key is more than 255 bytes: %q", p, lim.Zone.Key.Raw, key)
			continue
		}
		l.connDone = true
		z.mu.Lock()
		node := z.nodes[string(key)]
		if node == nil {
			size := slabSize(rbNodeHead + connNodeHead + len(key))
			if z.used+size > z.capacity {
				z.mu.Unlock()
				l.release()
				return loc.LimitConnStatus
			}
			node = &connNode{key: string(key), size: size}
			z.nodes[node.key] = node
			z.used += size
		} else if node.conn >= lim.N {
			z.mu.Unlock()
			l.release()
			l.level = "error"
			l.msg = `limiting connections by zone "` + lim.Zone.Name + `"` + st.context() + st.hostContext()
			if !st.cached {
				e.logLimit(p)
			}
			return loc.LimitConnStatus
		}
		node.conn++
		z.mu.Unlock()
		l.slots = append(l.slots, connSlot{z: z, n: node})
	}
	return 0
}

// logLimit writes a limit's rejection line once.
func (e *Engine) logLimit(p *Plan) {
	l := &p.lim
	if l.msg == "" {
		return
	}
	if e.errorLog != nil {
		e.errorLog(l.level, l.msg)
	}
	l.msg = ""
}
