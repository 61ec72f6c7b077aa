package upstream

import (
	"cmp"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/config"
)

// CONTRACT FILE: the exported names and signatures below are shared with
// servers/engine and the cores. Keep the signatures (add, don't rename).

// Peer is one upstream server together with its shared load and health
// state (owned by its Group, guarded by the Group's lock). The exported
// fields are its configuration; callers must not change them.
type Peer struct {
	Addr        string // ip:port (host:port only for a hand-built server without Addrs)
	Weight      int
	MaxFails    int
	FailTimeout time.Duration
	MaxConns    int
	Backup      bool
	Down        bool

	idx       int // index in Group.peers
	conns     int // attempts in flight
	fails     int // failures counted toward MaxFails
	effective int // effective weight: lowered on failure, restored by picks
	current   int // smooth weighted round robin's current weight
	checked   time.Time
	accessed  time.Time // last failure
}

// usable reports whether p may take a new attempt at now: not down, not
// failed (max_fails reached within fail_timeout) and below max_conns.
func (p *Peer) usable(now time.Time) bool {
	if p.Down {
		return false
	}
	if p.MaxFails > 0 && p.fails >= p.MaxFails && now.Sub(p.checked) <= p.FailTimeout {
		return false
	}
	if p.MaxConns > 0 && p.conns >= p.MaxConns {
		return false
	}
	return true
}

// Group balances requests over the peers of one upstream block, with
// nginx's algorithms and passive health checks. Safe for concurrent use.
// The zero value has no peers: Pick returns ErrNoPeer.
type Group struct {
	mu sync.Mutex

	peers      []Peer // primary peers, then backup peers
	np         int    // number of primary peers
	single     bool   // one primary, no backup: no failure accounting (nginx peers->single)
	method     config.Balance
	consistent bool
	two        bool
	total      int     // total weight of the primary peers, down ones included
	ranges     []int   // random: first weight unit of each primary peer
	points     []point // hash consistent: the ketama ring, sorted by hash

	rng rand.PCG // random: guarded by mu
}

// point is one point of the ketama ring.
type point struct {
	hash uint32
	peer int32
}

// New builds a Group from a validated upstream block. Each address of a
// server (UpstreamServer.Addrs, resolved by config at load) is a peer of
// its own with the server's parameters, as in nginx, so Peer.Addr is an
// "ip:port" a core dials without resolving; a server without Addrs (built
// by hand) is one peer with its Addr.
//
// nginx allows backup servers only with round robin and least_conn; with
// another method a backup peer is used only when the method falls back to
// round robin and every primary peer has failed.
func New(u *config.Upstream) (*Group, error) {
	if u == nil || len(u.Servers) == 0 {
		name := ""
		if u != nil {
			name = u.Name
		}
		return nil, fmt.Errorf("upstream %q: %w", name, ErrNoServers)
	}
	g := &Group{
		method:     u.Method,
		consistent: u.Consistent,
		two:        u.Two,
		peers:      make([]Peer, 0, len(u.Servers)),
	}
	for _, backup := range [2]bool{false, true} {
		for _, s := range u.Servers {
			if s.Backup != backup {
				continue
			}
			addrs := s.Addrs
			if len(addrs) == 0 { // a server not made by config: Addr as it is
				addrs = []string{s.Addr}
			}
			for _, a := range addrs {
				g.peers = append(g.peers, Peer{
					Addr:        a,
					Weight:      s.Weight,
					MaxFails:    s.MaxFails,
					FailTimeout: s.FailTimeout,
					MaxConns:    s.MaxConns,
					Backup:      s.Backup,
					Down:        s.Down,
				})
			}
		}
		if !backup {
			g.np = len(g.peers)
		}
	}
	g.init(rand.Uint64())
	return g, nil
}

// NewSingle builds the implicit one-peer group nginx makes for
// proxy_pass to an address (max_fails 1, fail_timeout 10s).
func NewSingle(addr string) *Group {
	g := &Group{peers: []Peer{{
		Addr:        addr,
		Weight:      1,
		MaxFails:    1,
		FailTimeout: 10 * time.Second,
	}}, np: 1}
	g.init(rand.Uint64())
	return g
}

// init sets the derived state of a Group whose peers and np are set.
func (g *Group) init(seed uint64) {
	g.single = g.np == 1 && len(g.peers) == 1
	g.total = 0
	for i := range g.peers {
		p := &g.peers[i]
		if p.Weight < 1 {
			p.Weight = 1
		}
		p.idx = i
		p.effective = p.Weight
		if i < g.np {
			g.total += p.Weight
		}
	}
	if g.method == config.BalanceRandom {
		g.ranges = make([]int, g.np)
		w := 0
		for i := range g.np {
			g.ranges[i] = w
			w += g.peers[i].Weight
		}
	}
	if g.method == config.BalanceHash && g.consistent {
		g.points = ketama(g.peers[:g.np])
	}
	g.rng.Seed(seed, seed^0x9e3779b97f4a7c15)
}

// seed reseeds the random method's generator (for tests).
func (g *Group) seed(s uint64) {
	g.mu.Lock()
	g.rng.Seed(s, s^0x9e3779b97f4a7c15)
	g.mu.Unlock()
}

// ketama builds nginx's consistent hash ring: 160 points per unit of
// weight, compatible with Cache::Memcached::Fast, crc32(HOST \0 PORT
// PREV_HASH) with PREV_HASH the previous point in little-endian order.
func ketama(peers []Peer) []point {
	n := 0
	for i := range peers {
		n += peers[i].Weight * 160
	}
	pts := make([]point, 0, n)
	for i := range peers {
		host, port := splitServer(peers[i].Addr)
		base := crc32.ChecksumIEEE([]byte(host))
		base = crc32.Update(base, crc32.IEEETable, []byte{0})
		base = crc32.Update(base, crc32.IEEETable, []byte(port))
		var prev [4]byte
		for range peers[i].Weight * 160 {
			h := crc32.Update(base, crc32.IEEETable, prev[:])
			pts = append(pts, point{hash: h, peer: int32(i)})
			prev = [4]byte{byte(h), byte(h >> 8), byte(h >> 16), byte(h >> 24)}
		}
	}
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.peer, b.peer)
	})
	return slices.CompactFunc(pts, func(a, b point) bool { return a.hash == b.hash })
}

// splitServer splits a server name as nginx does for ketama points: a
// trailing ":digits" is the port, "unix:" names have no port.
func splitServer(s string) (host, port string) {
	if len(s) >= 5 && (s[:5] == "unix:" || s[:5] == "UNIX:") {
		return s[5:], ""
	}
	for j := len(s) - 1; j >= 0; j-- {
		c := s[j]
		if c == ':' {
			return s[:j], s[j+1:]
		}
		if c < '0' || c > '9' {
			break
		}
	}
	return s, ""
}

// Pick chooses a peer for the next attempt of t, skipping peers already
// tried, down, failed (max_fails within fail_timeout) or at max_conns, and
// falling back to backup peers as nginx does. key is the client address
// bytes (4 or 16) for ip_hash, the evaluated key for hash, else ignored.
// It counts a connection on the peer; every Pick must be followed by one
// Done. It returns ErrNoPeer when no peer is left.
//
// For ip_hash an IPv4-mapped IPv6 key (::ffff:a.b.c.d, as net.ParseIP
// returns) is treated as the IPv4 address a.b.c.d.
func (g *Group) Pick(t *Try, key []byte, now time.Time) (*Peer, error) {
	g.mu.Lock()
	p := g.pick(t, key, now)
	if p != nil {
		p.conns++
		if now.Sub(p.checked) > p.FailTimeout {
			p.checked = now
		}
	}
	g.mu.Unlock()
	if p == nil {
		return nil, ErrNoPeer
	}
	t.mark(p.idx)
	t.n++
	return p, nil
}

// pick runs the balancing method; g.mu is held.
func (g *Group) pick(t *Try, key []byte, now time.Time) *Peer {
	if !t.backup {
		if g.single {
			p := &g.peers[0]
			if t.has(0) || p.Down || (p.MaxConns > 0 && p.conns >= p.MaxConns) {
				return nil
			}
			return p
		}
		var p *Peer
		switch g.method {
		case config.BalanceLeastConn:
			p = g.leastConn(t, 0, g.np, now)
		case config.BalanceIPHash:
			p = g.ipHash(t, key, now)
		case config.BalanceHash:
			if g.consistent {
				p = g.chash(t, key, now)
			} else {
				p = g.hash(t, key, now)
			}
		case config.BalanceRandom:
			p = g.random(t, now)
		default:
			p = g.roundRobin(t, 0, g.np, now)
		}
		if p != nil || g.np == len(g.peers) {
			return p
		}
		t.backup = true
	}
	if g.method == config.BalanceLeastConn {
		return g.leastConn(t, g.np, len(g.peers), now)
	}
	return g.roundRobin(t, g.np, len(g.peers), now)
}

// Done ends an attempt on p: it releases the connection count and, when
// failed, counts a failure toward max_fails (a success after failures
// resets them, as nginx does).
//
// As in nginx, a failure lowers the peer's effective weight by
// weight/max_fails, which each later pass over the peer restores by one;
// failures of the only peer of a group are not counted.
func (g *Group) Done(p *Peer, failed bool, now time.Time) {
	if p == nil {
		return
	}
	g.mu.Lock()
	if p.conns > 0 {
		p.conns--
	}
	switch {
	case g.single:
		p.fails = 0
	case failed:
		p.fails++
		p.accessed = now
		p.checked = now
		if p.MaxFails > 0 {
			p.effective -= p.Weight / p.MaxFails
			if p.effective < 0 {
				p.effective = 0
			}
		}
	case p.accessed.Before(p.checked):
		// The probe let through after fail_timeout succeeded.
		p.fails = 0
	}
	g.mu.Unlock()
}

// PeerState is a snapshot of one peer, for reports and tests.
type PeerState struct {
	Addr        string
	Weight      int
	Conns       int  // attempts in flight
	Fails       int  // failures counted toward max_fails
	Down        bool // marked down in the config
	Unavailable bool // max_fails reached: not chosen until Until, then probed
	Until       time.Time
	Backup      bool
}

// Peers returns a snapshot of the peers: primary peers first, then
// backup peers, each group in config order.
func (g *Group) Peers() []PeerState {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := make([]PeerState, len(g.peers))
	for i := range g.peers {
		p := &g.peers[i]
		s[i] = PeerState{
			Addr:   p.Addr,
			Weight: p.Weight,
			Conns:  p.conns,
			Fails:  p.fails,
			Down:   p.Down,
			Backup: p.Backup,
		}
		if !g.single && p.MaxFails > 0 && p.fails >= p.MaxFails {
			s[i].Unavailable = true
			s[i].Until = p.checked.Add(p.FailTimeout)
		}
	}
	return s
}

// Len returns the number of peers, backup peers included.
func (g *Group) Len() int { return len(g.peers) }
