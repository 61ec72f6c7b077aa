package coreio

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/c10k/c10k/servers/engine"
)

// Engine is the engine a core serves, as one request sees it: the shared
// engine and how it configures the core's listening sockets. A core
// takes it once per request (EngineRef.Load) and uses it for the whole
// exchange, so that a reload changes what later requests get and nothing
// of those in flight.
type Engine struct {
	*engine.Engine
	confs []engine.Listener // by the core's listener index
	index []int             // the core's listener i is this engine's listener index[i]
}

// Listener returns the core's i-th listener (i is its index in the
// engine the core started with, Listener.Index) as e configures it: its
// head limits and header timeout, and its index in e's Listeners for
// engine.Conn.Listener. ok is false for an i e has no listener for (a
// socket ServeListeners got beyond the config's).
func (e *Engine) Listener(i int) (conf engine.Listener, index int, ok bool) {
	if i < 0 || i >= len(e.confs) {
		return engine.Listener{}, i, false
	}
	return e.confs[i], e.index[i], true
}

// Index returns the index in e's listeners of the core's i-th listener,
// for engine.Conn.Listener: i itself when e has no listener for it.
func (e *Engine) Index(i int) int {
	if i < 0 || i >= len(e.index) {
		return i
	}
	return e.index[i]
}

// ListenerOf is Listener for the socket l: l's own Conf and Index when e
// has no listener for it.
func (e *Engine) ListenerOf(l *Listener) (engine.Listener, int) {
	if conf, index, ok := e.Listener(l.Index); ok {
		return conf, index
	}
	return l.Conf, l.Index
}

// EngineRef holds the engine a core serves and swaps it on a reload
// (c10k serve on SIGHUP) while requests run: the core's engine field.
// Load is one atomic load, no lock.
type EngineRef struct {
	cur  atomic.Pointer[Engine]
	mu   sync.Mutex        // serializes Reload
	base []engine.Listener // the first engine's listeners: what the core binds
}

// NewEngineRef returns an EngineRef serving e; the core binds e's
// listeners, in e's order.
func NewEngineRef(e *engine.Engine) *EngineRef {
	r := &EngineRef{base: e.Listeners()}
	idx := make([]int, len(r.base))
	for i := range idx {
		idx[i] = i
	}
	r.cur.Store(&Engine{Engine: e, confs: r.base, index: idx})
	return r
}

// Load returns the engine for a request starting now.
func (r *EngineRef) Load() *Engine { return r.cur.Load() }

// Listeners returns the listeners the core binds: the first engine's.
func (r *EngineRef) Listeners() []engine.Listener {
	return append([]engine.Listener(nil), r.base...)
}

// Reload makes e the engine of every request that starts from now on.
// The listening sockets stay as they are, so e must listen on the same
// set of addresses with the same socket options (backlog=, reuseport,
// ssl), in any order; otherwise Reload returns an error wrapping
// ErrListenChanged and the current engine keeps serving. After the swap
// the old engine's open_file_cache is emptied (engine.Engine.Close):
// descriptors no request holds are closed at once, those still being
// sent when their last request ends.
func (r *EngineRef) Reload(e *engine.Engine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := r.engine(e)
	if err != nil {
		return err
	}
	// Shared limit zones carry over, as nginx keeps its shared memory
	// across a reload.
	if cur := r.cur.Load(); cur.Engine != e {
		e.InheritZones(cur.Engine)
	}
	old := r.cur.Swap(next)
	if old.Engine != e {
		old.Close()
	}
	return nil
}

// engine maps e's listeners onto the bound ones.
func (r *EngineRef) engine(e *engine.Engine) (*Engine, error) {
	ls := e.Listeners()
	byAddr := make(map[string]int, len(ls))
	for i, l := range ls {
		byAddr[l.Addr] = i
	}
	next := &Engine{Engine: e, confs: make([]engine.Listener, len(r.base)), index: make([]int, len(r.base))}
	for i, b := range r.base {
		j, ok := byAddr[b.Addr]
		if !ok {
			return nil, fmt.Errorf("%w: listen %s is gone", ErrListenChanged, b.Addr)
		}
		if err := SameSocket(b, ls[j]); err != nil {
			return nil, err
		}
		next.confs[i], next.index[i] = ls[j], j
		delete(byAddr, b.Addr)
	}
	for _, l := range ls {
		if _, ok := byAddr[l.Addr]; ok {
			return nil, fmt.Errorf("%w: listen %s is new", ErrListenChanged, l.Addr)
		}
	}
	return next, nil
}

// SameSocket reports, as an error wrapping ErrListenChanged, a
// difference in the socket options of two listeners of one address; nil
// when a bound socket of a serves b as it is.
func SameSocket(a, b engine.Listener) error {
	switch {
	case a.Backlog != b.Backlog:
		return fmt.Errorf("%w: listen %s backlog=%d is now backlog=%d", ErrListenChanged, a.Addr, a.Backlog, b.Backlog)
	case a.ReusePort != b.ReusePort:
		return fmt.Errorf("%w: listen %s reuseport changed", ErrListenChanged, a.Addr)
	case a.SSL != b.SSL:
		return fmt.Errorf("%w: listen %s ssl changed", ErrListenChanged, a.Addr)
	}
	return nil
}
