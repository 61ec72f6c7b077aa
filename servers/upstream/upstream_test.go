package upstream

import (
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// srv is a test server line: name a..z becomes "10.0.0.N:80".
type srv struct {
	name        string
	weight      int
	maxFails    int
	failTimeout time.Duration
	maxConns    int
	backup      bool
	down        bool
}

func addr(name string) string { return fmt.Sprintf("10.0.0.%d:80", name[0]-'a'+1) }

func name(p *Peer) string {
	if p == nil {
		return "-"
	}
	var n int
	fmt.Sscanf(p.Addr, "10.0.0.%d:80", &n)
	return string(rune('a' + n - 1))
}

func group(t testing.TB, m config.Balance, servers ...srv) *Group {
	t.Helper()
	u := &config.Upstream{Name: "backend", Method: m}
	for _, s := range servers {
		if s.maxFails == 0 {
			s.maxFails = 1
		}
		if s.maxFails < 0 {
			s.maxFails = 0
		}
		if s.failTimeout == 0 {
			s.failTimeout = 10 * time.Second
		}
		u.Servers = append(u.Servers, config.UpstreamServer{
			Addr: addr(s.name), Weight: s.weight, MaxFails: s.maxFails,
			FailTimeout: s.failTimeout, MaxConns: s.maxConns,
			Backup: s.backup, Down: s.down,
		})
	}
	g, err := New(u)
	if err != nil {
		t.Fatal(err)
	}
	g.seed(1)
	return g
}

func weighted(names string, weights ...int) []srv {
	s := make([]srv, len(names))
	for i := range names {
		s[i] = srv{name: names[i : i+1], weight: 1}
		if i < len(weights) {
			s[i].weight = weights[i]
		}
	}
	return s
}

// seq runs n one-attempt requests that succeed and returns the peers.
func seq(g *Group, key []byte, n int, now time.Time) string {
	var b strings.Builder
	for range n {
		var t Try
		p, err := g.Pick(&t, key, now)
		if err != nil {
			b.WriteString("-")
			continue
		}
		b.WriteString(name(p))
		g.Done(p, false, now)
	}
	return b.String()
}

func TestRoundRobinSequence(t *testing.T) {
	tests := []struct {
		weights []int
		want    string
	}{
		{[]int{1}, "aaaa"},
		{[]int{1, 1, 1}, "abcabc"},
		{[]int{2, 1}, "abaaba"},
		{[]int{3, 1}, "aabaaaba"},
		{[]int{5, 1, 1}, "aabacaa" + "aabacaa"},
		{[]int{4, 2, 1}, "abacaba" + "abacaba"},
		{[]int{1, 2, 3}, "cbacbc" + "cbacbc"},
	}
	for _, tt := range tests {
		for _, m := range []config.Balance{config.BalanceRoundRobin, config.BalanceLeastConn} {
			t.Run(fmt.Sprint(m, tt.weights), func(t *testing.T) {
				g := group(t, m, weighted("abcdefgh"[:len(tt.weights)], tt.weights...)...)
				if got := seq(g, nil, len(tt.want), t0); got != tt.want {
					t.Errorf("sequence = %q, want %q", got, tt.want)
				}
			})
		}
	}
}

func TestRoundRobinRatio(t *testing.T) {
	g := group(t, config.BalanceRoundRobin, weighted("ab", 3, 1)...)
	s := seq(g, nil, 400, t0)
	if a, b := strings.Count(s, "a"), strings.Count(s, "b"); a != 300 || b != 100 {
		t.Errorf("a=%d b=%d, want 300/100", a, b)
	}
}

func TestDownMaxConnsBackup(t *testing.T) {
	tests := []struct {
		name    string
		m       config.Balance
		servers []srv
		want    string
	}{
		{"down", config.BalanceRoundRobin, []srv{{name: "a", down: true}, {name: "b"}, {name: "c"}}, "bcbcbc"},
		{"down least_conn", config.BalanceLeastConn, []srv{{name: "a"}, {name: "b", down: true}}, "aaaa"},
		{"down ip_hash", config.BalanceIPHash, []srv{{name: "a", down: true}, {name: "b", down: true}, {name: "c"}}, "cccc"},
		{"backup unused", config.BalanceRoundRobin, []srv{{name: "a"}, {name: "b"}, {name: "c", backup: true}}, "abab"},
		{"backup when primaries down", config.BalanceRoundRobin, []srv{{name: "a", down: true}, {name: "b", down: true}, {name: "c", backup: true}, {name: "d", backup: true}}, "cdcd"},
		{"backup least_conn", config.BalanceLeastConn, []srv{{name: "a", down: true}, {name: "c", backup: true}}, "cccc"},
		{"all down", config.BalanceRoundRobin, []srv{{name: "a", down: true}, {name: "b", down: true}}, "----"},
		{"single down", config.BalanceRoundRobin, []srv{{name: "a", down: true}}, "--"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group(t, tt.m, tt.servers...)
			if got := seq(g, []byte{1, 2, 3, 4}, len(tt.want), t0); got != tt.want {
				t.Errorf("sequence = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMaxConns(t *testing.T) {
	for _, m := range benchMethods {
		t.Run(m.name, func(t *testing.T) {
			g := group(t, m.m, srv{name: "a", maxConns: 1}, srv{name: "b", maxConns: 2}, srv{name: "c", maxConns: 1})
			g.consistent, g.two = m.cons, m.two
			if m.cons {
				g.points = ketama(g.peers)
			}
			key := []byte{1, 2, 3, 4}
			var held []*Peer
			for range 4 {
				var tr Try
				p, err := g.Pick(&tr, key, t0)
				if err != nil {
					t.Fatalf("pick %d: %v", len(held)+1, err)
				}
				held = append(held, p)
			}
			var tr Try
			if p, err := g.Pick(&tr, key, t0); !errors.Is(err, ErrNoPeer) {
				t.Fatalf("all at max_conns: got %s, want ErrNoPeer", name(p))
			}
			for _, s := range g.Peers() {
				if want := map[string]int{addr("a"): 1, addr("b"): 2, addr("c"): 1}[s.Addr]; s.Conns != want {
					t.Errorf("%s: %d connections, want %d", s.Addr, s.Conns, want)
				}
			}
			g.Done(held[0], false, t0)
			if got := seq(g, key, 1, t0); got != name(held[0]) {
				t.Errorf("after a release: %s, want %s", got, name(held[0]))
			}
			for _, p := range held[1:] {
				g.Done(p, false, t0)
			}
			for _, s := range g.Peers() {
				if s.Conns != 0 {
					t.Errorf("%s: conns %d after Done", s.Addr, s.Conns)
				}
			}
		})
	}

	// Primaries at max_conns send requests to the backups.
	g := group(t, config.BalanceRoundRobin, srv{name: "a", maxConns: 1}, srv{name: "b", backup: true})
	var tr Try
	p, _ := g.Pick(&tr, nil, t0)
	if got := seq(g, nil, 2, t0); got != "bb" {
		t.Errorf("primary at max_conns: %q, want bb", got)
	}
	g.Done(p, false, t0)
	if got := seq(g, nil, 2, t0); got != "aa" {
		t.Errorf("primary released: %q, want aa", got)
	}
}

// TestFailTimeout walks nginx's passive health timeline with a fake clock.
func TestFailTimeout(t *testing.T) {
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	g := group(t, config.BalanceRoundRobin,
		srv{name: "a", weight: 1, maxFails: 2, failTimeout: 10 * time.Second},
		srv{name: "b", weight: 1, maxFails: 1})

	// fail runs one request whose attempt on a fails (b succeeds).
	fail := func(now time.Time) {
		t.Helper()
		for {
			var tr Try
			p, err := g.Pick(&tr, nil, now)
			if err != nil {
				t.Fatal(err)
			}
			g.Done(p, name(p) == "a", now)
			if name(p) == "a" {
				return
			}
		}
	}
	fail(sec(0))
	if got := seq(g, nil, 4, sec(0.5)); got != "abab" && got != "baba" {
		t.Fatalf("after 1 of 2 failures: %q, want a still used", got)
	}
	fail(sec(1))
	if s := g.Peers()[0]; !s.Unavailable || s.Fails != 2 || !s.Until.Equal(sec(11)) {
		t.Fatalf("after 2 failures: %+v", s)
	}
	if got := seq(g, nil, 4, sec(5)); got != "bbbb" {
		t.Fatalf("within fail_timeout: %q, want bbbb", got)
	}
	if got := seq(g, nil, 2, sec(11)); got != "bb" {
		t.Fatalf("at exactly fail_timeout: %q, want bb", got)
	}

	// After fail_timeout one request probes a; others keep away meanwhile.
	var probe Try
	var p *Peer
	for p == nil || name(p) != "a" {
		if p != nil {
			g.Done(p, false, sec(12))
		}
		probe = Try{}
		var err error
		if p, err = g.Pick(&probe, nil, sec(12)); err != nil {
			t.Fatal(err)
		}
	}
	if got := seq(g, nil, 3, sec(12.5)); got != "bbb" {
		t.Fatalf("while probing: %q, want bbb", got)
	}
	g.Done(p, true, sec(13)) // the probe fails: out for another fail_timeout
	if s := g.Peers()[0]; s.Fails != 3 || !s.Unavailable {
		t.Fatalf("after failed probe: %+v", s)
	}
	if got := seq(g, nil, 3, sec(22)); got != "bbb" {
		t.Fatalf("within the new fail_timeout: %q, want bbb", got)
	}
	got := seq(g, nil, 6, sec(24)) // a probe at 24 succeeds: a is back
	if strings.Count(got, "a") != 3 {
		t.Fatalf("after successful probe: %q, want a back in rotation", got)
	}
	if s := g.Peers()[0]; s.Fails != 0 || s.Unavailable {
		t.Fatalf("after successful probe: %+v", s)
	}
}

func TestFailuresWithinWindow(t *testing.T) {
	// Failures further apart than fail_timeout do not add up: a success
	// after a checked probe resets the count.
	g := group(t, config.BalanceRoundRobin, srv{name: "a", maxFails: 2}, srv{name: "b"})
	pickA := func(now time.Time, failed bool) {
		t.Helper()
		var tr Try
		p, _ := g.Pick(&tr, nil, now)
		if name(p) != "a" {
			g.Done(p, false, now)
			p, _ = g.Pick(&tr, nil, now)
		}
		g.Done(p, failed, now)
	}
	pickA(t0, true)
	pickA(t0.Add(20*time.Second), false) // checked moves past the failure
	if s := g.Peers()[0]; s.Fails != 0 {
		t.Fatalf("fails = %d, want reset after success past fail_timeout", s.Fails)
	}
	pickA(t0.Add(21*time.Second), true)
	if s := g.Peers()[0]; s.Unavailable {
		t.Fatalf("one failure counted as two: %+v", s)
	}
}

func TestMaxFailsZero(t *testing.T) {
	g := group(t, config.BalanceRoundRobin, srv{name: "a", maxFails: -1}, srv{name: "b", maxFails: -1})
	for range 10 {
		var tr Try
		p, err := g.Pick(&tr, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		g.Done(p, true, t0)
	}
	if got := seq(g, nil, 4, t0); got != "abab" {
		t.Errorf("max_fails=0: %q, want abab", got)
	}
}

func TestEffectiveWeight(t *testing.T) {
	g := group(t, config.BalanceRoundRobin, srv{name: "a", weight: 4, maxFails: 2}, srv{name: "b", weight: 4, maxFails: 2})
	var tr Try
	p, _ := g.Pick(&tr, nil, t0)
	g.Done(p, true, t0)
	if p.effective != 2 {
		t.Fatalf("effective weight after a failure = %d, want 4 - 4/2 = 2", p.effective)
	}
	seq(g, nil, 2, t0)
	if p.effective != 4 {
		t.Fatalf("effective weight after 2 passes = %d, want 4", p.effective)
	}
}

func TestSingle(t *testing.T) {
	g := NewSingle("127.0.0.1:8080")
	for range 5 {
		var tr Try
		p, err := g.Pick(&tr, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Pick(&tr, nil, t0); !errors.Is(err, ErrNoPeer) {
			t.Fatalf("second pick of one request: %v, want ErrNoPeer", err)
		}
		g.Done(p, true, t0)
	}
	if s := g.Peers()[0]; s.Fails != 0 || s.Unavailable || s.Addr != "127.0.0.1:8080" {
		t.Errorf("single peer after failures: %+v", s)
	}
}

func TestZeroValues(t *testing.T) {
	var g Group
	var tr Try
	if _, err := g.Pick(&tr, nil, t0); !errors.Is(err, ErrNoPeer) {
		t.Errorf("zero Group: %v, want ErrNoPeer", err)
	}
	g.Done(nil, true, t0)
	if len(g.Peers()) != 0 {
		t.Error("zero Group has peers")
	}
	for _, u := range []*config.Upstream{nil, {Name: "x"}} {
		if _, err := New(u); !errors.Is(err, ErrNoServers) {
			t.Errorf("New(%v): %v, want ErrNoServers", u, err)
		}
	}
}

// TestTried checks that one request never gets the same peer twice, for
// every method, with small and large (> 64) groups.
func TestTried(t *testing.T) {
	methods := []struct {
		name string
		m    config.Balance
		cons bool
		two  bool
	}{
		{"rr", config.BalanceRoundRobin, false, false},
		{"least_conn", config.BalanceLeastConn, false, false},
		{"ip_hash", config.BalanceIPHash, false, false},
		{"hash", config.BalanceHash, false, false},
		{"hash consistent", config.BalanceHash, true, false},
		{"random", config.BalanceRandom, false, false},
		{"random two", config.BalanceRandom, false, true},
	}
	for _, m := range methods {
		for _, n := range []int{1, 3, 64, 65, 200} {
			t.Run(fmt.Sprint(m.name, "/", n), func(t *testing.T) {
				u := &config.Upstream{Method: m.m, Consistent: m.cons, Two: m.two}
				for i := range n {
					u.Servers = append(u.Servers, config.UpstreamServer{
						Addr: fmt.Sprintf("10.1.%d.%d:80", i/250, i%250), Weight: 1 + i%3,
						MaxFails: 1, FailTimeout: 10 * time.Second,
					})
				}
				g, err := New(u)
				if err != nil {
					t.Fatal(err)
				}
				var tr Try
				seen := map[string]bool{}
				for i := range n {
					p, err := g.Pick(&tr, []byte{192, 168, 1, 7}, t0)
					if err != nil {
						t.Fatalf("attempt %d: %v", i+1, err)
					}
					if seen[p.Addr] {
						t.Fatalf("attempt %d: %s picked twice", i+1, p.Addr)
					}
					seen[p.Addr] = true
					g.Done(p, false, t0)
				}
				if _, err := g.Pick(&tr, []byte{192, 168, 1, 7}, t0); !errors.Is(err, ErrNoPeer) {
					t.Fatalf("after all peers: %v, want ErrNoPeer", err)
				}
				if tr.Attempts() != n {
					t.Errorf("Attempts = %d, want %d", tr.Attempts(), n)
				}
				tr.Reset()
				if _, err := g.Pick(&tr, []byte{192, 168, 1, 7}, t0); err != nil {
					t.Errorf("after Reset: %v", err)
				}
			})
		}
	}
}

// TestBackupWithinRequest follows one request through failing primaries
// to the backups, which it then keeps using.
func TestBackupWithinRequest(t *testing.T) {
	for _, m := range []config.Balance{config.BalanceRoundRobin, config.BalanceLeastConn} {
		g := group(t, m, srv{name: "a"}, srv{name: "b"}, srv{name: "c", backup: true}, srv{name: "d", backup: true})
		var tr Try
		var got string
		for {
			p, err := g.Pick(&tr, nil, t0)
			if err != nil {
				break
			}
			got += name(p)
			failed := !p.Backup
			g.Done(p, failed, t0)
			if !failed {
				break
			}
		}
		if got != "abc" {
			t.Errorf("%v: attempts %q, want abc", m, got)
		}
		if s := seq(g, nil, 4, t0.Add(time.Second)); s != "dcdc" {
			t.Errorf("%v: with failed primaries: %q, want dcdc (c went last)", m, s)
		}
		if s := seq(g, nil, 2, t0.Add(11*time.Second)); !strings.ContainsAny(s[:1], "ab") {
			t.Errorf("%v: after fail_timeout: %q, want a primary", m, s)
		}
	}
}

func TestLeastConn(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		conns   []int // open connections before the pick
		want    string
	}{
		{"fewest", []int{1, 1, 1}, []int{2, 0, 1}, "b"},
		{"per weight", []int{2, 1}, []int{1, 1}, "a"},
		{"per weight busy", []int{2, 1}, []int{3, 1}, "b"},
		{"tie goes by weight", []int{1, 5}, []int{0, 0}, "b"},
		{"tie among equals", []int{1, 1, 1}, []int{1, 0, 0}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group(t, config.BalanceLeastConn, weighted("abc"[:len(tt.weights)], tt.weights...)...)
			for i, c := range tt.conns {
				g.peers[i].conns = c
			}
			var tr Try
			p, err := g.Pick(&tr, nil, t0)
			if err != nil || name(p) != tt.want {
				t.Errorf("pick = %s (%v), want %s", name(p), err, tt.want)
			}
		})
	}

	// Held connections steer new ones to the idle peers.
	g := group(t, config.BalanceLeastConn, weighted("abc")...)
	var held []*Peer
	for range 6 {
		var tr Try
		p, _ := g.Pick(&tr, nil, t0)
		held = append(held, p)
	}
	for _, s := range g.Peers() {
		if s.Conns != 2 {
			t.Errorf("%s holds %d connections, want 2", s.Addr, s.Conns)
		}
	}
	g.Done(held[1], false, t0)
	if got := seq(g, nil, 1, t0); got != name(held[1]) {
		t.Errorf("pick = %s, want %s (the least loaded)", got, name(held[1]))
	}
}

func ip(s string) []byte {
	a := net.ParseIP(s)
	if v4 := a.To4(); v4 != nil {
		return v4
	}
	return a
}

func TestIPHash(t *testing.T) {
	g := group(t, config.BalanceIPHash, weighted("abc")...)
	one := func(key []byte) string { return seq(g, key, 1, t0) }

	// nginx's values: hash of 1.2.3 is 751, 751 % 3 = 1.
	if got := one(ip("1.2.3.4")); got != "b" {
		t.Errorf("1.2.3.4 -> %s, want b", got)
	}
	for _, c := range []string{"1.2.3.1", "1.2.3.200", "1.2.3.255"} {
		if got := one(ip(c)); got != "b" {
			t.Errorf("%s -> %s, want b (same /24 as 1.2.3.4)", c, got)
		}
	}
	// A 16-byte IPv4-mapped key is the IPv4 address.
	if got := one(net.ParseIP("1.2.3.9").To16()); got != "b" {
		t.Errorf("::ffff:1.2.3.9 -> %s, want b", got)
	}
	// Retries rehash: nginx's next values for 1.2.3 over 3 peers are 2, 2.
	var tr Try
	var got string
	for range 3 {
		p, _ := g.Pick(&tr, ip("1.2.3.4"), t0)
		got += name(p)
		g.Done(p, true, t0)
	}
	if got != "bca" {
		t.Errorf("attempts for 1.2.3.4 = %q, want bca", got)
	}

	// Stable across groups, IPv6 uses the whole address, spread is even.
	g = group(t, config.BalanceIPHash, weighted("abcd")...)
	g2 := group(t, config.BalanceIPHash, weighted("abcd")...)
	count := map[string]int{}
	for i := range 4000 {
		key := []byte{10, byte(i >> 8), byte(i), 1}
		a := seq(g, key, 1, t0)
		if b := seq(g2, key, 1, t0); a != b {
			t.Fatalf("%v: %s in one group, %s in another", key, a, b)
		}
		count[a]++
	}
	for _, n := range "abcd" {
		if c := count[string(n)]; c < 800 || c > 1200 {
			t.Errorf("peer %c got %d of 4000 /24s", n, c)
		}
	}
	v6 := map[string]bool{}
	for i := range 64 {
		v6[seq(g, ip(fmt.Sprintf("2001:db8::%x", i)), 1, t0)] = true
	}
	if len(v6) < 3 {
		t.Errorf("IPv6 addresses in one /64 map to %d peers, want them spread", len(v6))
	}
}

func TestHash(t *testing.T) {
	g := group(t, config.BalanceHash, weighted("abc")...)
	// nginx's values for "foo" over 3 peers: 1, then rehashes 0, 2.
	var tr Try
	var got string
	for range 3 {
		p, _ := g.Pick(&tr, []byte("foo"), t0)
		got += name(p)
		g.Done(p, true, t0)
	}
	if got != "bac" {
		t.Errorf("attempts for foo = %q, want bac", got)
	}
	g = group(t, config.BalanceHash, weighted("abc", 5, 1, 1)...)
	if got := seq(g, []byte("foo"), 3, t0); got != "aaa" {
		t.Errorf("foo over 5,1,1 = %q, want aaa", got)
	}
	// Stability and an empty key (round robin).
	g2 := group(t, config.BalanceHash, weighted("abc", 5, 1, 1)...)
	for i := range 1000 {
		k := []byte(fmt.Sprint("/item/", i))
		if a, b := seq(g, k, 1, t0), seq(g2, k, 1, t0); a != b {
			t.Fatalf("%s: %s and %s", k, a, b)
		}
	}
	g = group(t, config.BalanceHash, weighted("abc")...)
	if got := seq(g, nil, 3, t0); got != "abc" {
		t.Errorf("empty key: %q, want round robin abc", got)
	}
}

func chashGroup(t testing.TB, names string, weights ...int) *Group {
	t.Helper()
	u := &config.Upstream{Method: config.BalanceHash, Consistent: true}
	for _, s := range weighted(names, weights...) {
		u.Servers = append(u.Servers, config.UpstreamServer{Addr: addr(s.name), Weight: s.weight, MaxFails: 1, FailTimeout: 10 * time.Second})
	}
	g, err := New(u)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestKetamaPoints(t *testing.T) {
	g := chashGroup(t, "ab", 1, 2)
	if len(g.points) != 480 {
		t.Errorf("%d points, want 160 per weight = 480", len(g.points))
	}
	// nginx: crc32("10.0.0.1" "\0" "80" PREV_HASH), PREV_HASH little-endian.
	first := crc32.ChecksumIEEE([]byte("10.0.0.1\x0080\x00\x00\x00\x00"))
	second := crc32.ChecksumIEEE([]byte("10.0.0.1\x0080\x56\x5d\xad\xa2"))
	if first != 0xa2ad5d56 || second != 0x0bdeb0ab {
		t.Fatalf("reference hashes %#x %#x", first, second)
	}
	var found int
	for _, p := range g.points {
		if p.peer == 0 && (p.hash == first || p.hash == second) {
			found++
		}
	}
	if found != 2 {
		t.Errorf("ring lacks nginx's first points of 10.0.0.1:80")
	}
	for i, tt := range []struct{ in, host, port string }{
		{"10.0.0.1:80", "10.0.0.1", "80"},
		{"[::1]:8080", "[::1]", "8080"},
		{"backend", "backend", ""},
		{"unix:/tmp/s", "/tmp/s", ""},
	} {
		if h, p := splitServer(tt.in); h != tt.host || p != tt.port {
			t.Errorf("%d: splitServer(%q) = %q, %q", i, tt.in, h, p)
		}
	}
}

func TestKetamaRemoval(t *testing.T) {
	const keys = 10000
	full := chashGroup(t, "abcd")
	less := chashGroup(t, "abd") // c removed
	count := map[string]int{}
	moved := 0
	for i := range keys {
		k := []byte(fmt.Sprint("/user/", i))
		before := seq(full, k, 1, t0)
		count[before]++
		after := seq(less, k, 1, t0)
		if before != "c" && after != before {
			t.Fatalf("%s moved %s -> %s though %s stayed", k, before, after, before)
		}
		if before == "c" {
			moved++
		}
	}
	for _, n := range "abcd" {
		if c := count[string(n)]; c < keys/4*7/10 || c > keys/4*13/10 {
			t.Errorf("peer %c got %d of %d keys", n, c, keys)
		}
	}
	t.Logf("spread %v; %d keys of the removed server moved", count, moved)

	// Keys spread by weight.
	g := chashGroup(t, "ab", 1, 3)
	count = map[string]int{}
	for i := range keys {
		count[seq(g, []byte(fmt.Sprint("/user/", i)), 1, t0)]++
	}
	if a := count["a"]; a < keys/4*7/10 || a > keys/4*13/10 {
		t.Errorf("weights 1:3 gave %v", count)
	}

	// A down server's keys go to the next point; the others stay.
	down := chashGroup(t, "abcd")
	down.peers[2].Down = true
	for i := range 1000 {
		k := []byte(fmt.Sprint("/user/", i))
		if b := seq(full, k, 1, t0); b != "c" && seq(down, k, 1, t0) != b {
			t.Fatalf("%s moved off %s when c went down", k, b)
		}
	}
}

func TestRandom(t *testing.T) {
	g := group(t, config.BalanceRandom, weighted("ab", 3, 1)...)
	s := seq(g, nil, 4000, t0)
	if a := strings.Count(s, "a"); a < 2800 || a > 3200 {
		t.Errorf("random 3:1 gave a=%d of 4000", a)
	}

	// With two and equal load nginx keeps the second of two distinct
	// draws, so over two peers 3:1 the lighter one wins 3 times in 4.
	g.two = true
	s = seq(g, nil, 4000, t0)
	if a := strings.Count(s, "a"); a < 800 || a > 1200 {
		t.Errorf("random two 3:1, idle, gave a=%d of 4000", a)
	}

	// Two choices avoid a loaded peer: c holds connections.
	g = group(t, config.BalanceRandom, weighted("abcd")...)
	g.two = true
	g.peers[2].conns = 50
	s = seq(g, nil, 4000, t0)
	if c := strings.Count(s, "c"); c != 0 {
		t.Errorf("random two picked the loaded peer %d times", c)
	}
	for _, n := range "abd" {
		if c := strings.Count(s, string(n)); c < 1100 || c > 1600 {
			t.Errorf("random two: %c got %d of 4000", n, c)
		}
	}

	// Deterministic under the seed hook.
	g1 := group(t, config.BalanceRandom, weighted("abcd")...)
	g2 := group(t, config.BalanceRandom, weighted("abcd")...)
	if a, b := seq(g1, nil, 100, t0), seq(g2, nil, 100, t0); a != b {
		t.Errorf("same seed, different picks:\n%s\n%s", a, b)
	}
}

func TestRetry(t *testing.T) {
	const (
		eto  = config.NextError | config.NextTimeout
		all5 = config.NextHTTP500 | config.NextHTTP502 | config.NextHTTP503 | config.NextHTTP504
	)
	get, post := []byte("GET"), []byte("POST")
	tests := []struct {
		name     string
		cond     config.NextUpstream
		f        Failure
		status   int
		method   []byte
		sent     bool
		tries    int
		maxTries int
		elapsed  time.Duration
		maxTime  time.Duration
		want     bool
	}{
		{"error", eto, FailError, 0, get, false, 1, 0, 0, 0, true},
		{"timeout", eto, FailTimeout, 0, get, false, 1, 0, 0, 0, true},
		{"invalid_header not listed", eto, FailInvalidHeader, 0, get, false, 1, 0, 0, 0, false},
		{"invalid_header listed", config.NextInvalidHeader, FailInvalidHeader, 0, get, false, 1, 0, 0, 0, true},
		{"error not listed", config.NextTimeout, FailError, 0, get, false, 1, 0, 0, 0, false},
		{"off", config.NextOff, FailError, 0, get, false, 1, 0, 0, 0, false},
		{"off with non_idempotent only", config.NextNonIdempotent, FailError, 0, get, false, 1, 0, 0, 0, false},
		{"sent to client", eto, FailError, 0, get, true, 1, 0, 0, 0, false},
		{"200 is no failure", eto | all5, 0, 200, get, false, 1, 0, 0, 0, false},
		{"500 not listed", eto, 0, 500, get, false, 1, 0, 0, 0, false},
		{"500 listed", config.NextHTTP500, 0, 500, get, false, 1, 0, 0, 0, true},
		{"502 listed", config.NextHTTP502, 0, 502, get, false, 1, 0, 0, 0, true},
		{"503 listed", config.NextHTTP503, 0, 503, get, false, 1, 0, 0, 0, true},
		{"504 listed", config.NextHTTP504, 0, 504, get, false, 1, 0, 0, 0, true},
		{"403 listed", config.NextHTTP403, 0, 403, get, false, 1, 0, 0, 0, true},
		{"404 listed", config.NextHTTP404, 0, 404, get, false, 1, 0, 0, 0, true},
		{"429 listed", config.NextHTTP429, 0, 429, get, false, 1, 0, 0, 0, true},
		{"503 with 502 listed", config.NextHTTP502, 0, 503, get, false, 1, 0, 0, 0, false},
		{"501 never", 0xffff, 0, 501, get, false, 1, 0, 0, 0, false},
		{"POST", eto, FailError, 0, post, false, 1, 0, 0, 0, false},
		{"LOCK", eto, FailTimeout, 0, []byte("LOCK"), false, 1, 0, 0, 0, false},
		{"PATCH", eto | all5, 0, 502, []byte("PATCH"), false, 1, 0, 0, 0, false},
		{"POST non_idempotent", eto | config.NextNonIdempotent, FailError, 0, post, false, 1, 0, 0, 0, true},
		{"PUT is idempotent", eto, FailError, 0, []byte("PUT"), false, 1, 0, 0, 0, true},
		{"DELETE is idempotent", eto, FailError, 0, []byte("DELETE"), false, 1, 0, 0, 0, true},
		{"tries left", eto, FailError, 0, get, false, 2, 3, 0, 0, true},
		{"tries used", eto, FailError, 0, get, false, 3, 3, 0, 0, false},
		{"tries 1", eto, FailError, 0, get, false, 1, 1, 0, 0, false},
		{"tries unlimited", eto, FailError, 0, get, false, 100, 0, 0, 0, true},
		{"time left", eto, FailError, 0, get, false, 1, 0, time.Second, 2 * time.Second, true},
		{"time used", eto, FailError, 0, get, false, 1, 0, 2 * time.Second, 2 * time.Second, false},
		{"time unlimited", eto, FailError, 0, get, false, 1, 0, time.Hour, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Retry(tt.cond, tt.f, tt.status, tt.method, tt.sent, tt.tries, tt.maxTries, tt.elapsed, tt.maxTime)
			if got != tt.want {
				t.Errorf("Retry = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOutcomeRetry checks the request-sent rule: a non-idempotent request
// that never reached the peer (connect failed) is retried, as in nginx.
func TestOutcomeRetry(t *testing.T) {
	const eto = config.NextError | config.NextTimeout
	tests := []struct {
		name        string
		cond        config.NextUpstream
		f           Failure
		status      int
		method      string
		requestSent bool
		sent        bool
		want        bool
	}{
		{"POST refused", eto, FailError, 0, "POST", false, false, true},
		{"POST connect timeout", eto, FailTimeout, 0, "POST", false, false, true},
		{"POST sent", eto, FailError, 0, "POST", true, false, false},
		{"POST sent non_idempotent", eto | config.NextNonIdempotent, FailError, 0, "POST", true, false, true},
		{"PATCH 502 answered", eto | config.NextHTTP502, 0, 502, "PATCH", true, false, false},
		{"LOCK refused", eto, FailError, 0, "LOCK", false, false, true},
		{"POST refused, error not listed", config.NextTimeout, FailError, 0, "POST", false, false, false},
		{"POST refused, off", config.NextOff, FailError, 0, "POST", false, false, false},
		{"GET sent", eto, FailError, 0, "GET", true, false, true},
		{"bytes to client", eto, FailError, 0, "GET", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Outcome{Cond: tt.cond, Failure: tt.f, Status: tt.status, Method: []byte(tt.method),
				RequestSent: tt.requestSent, Sent: tt.sent, Tries: 1}
			if got := o.Retry(); got != tt.want {
				t.Errorf("Retry = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCountsAsFailure(t *testing.T) {
	tests := []struct {
		cond   config.NextUpstream
		f      Failure
		status int
		want   bool
	}{
		{config.NextOff, FailError, 0, true},
		{config.NextOff, FailTimeout, 0, true},
		{config.NextOff, FailInvalidHeader, 0, true},
		{config.NextOff, 0, 200, false},
		{config.NextOff, 0, 500, false},
		{config.NextHTTP500, 0, 500, true},
		{config.NextHTTP502, 0, 502, true},
		{config.NextHTTP503, 0, 503, true},
		{config.NextHTTP504, 0, 504, true},
		{config.NextHTTP429, 0, 429, true},
		{config.NextHTTP502, 0, 503, false},
		{config.NextHTTP403, 0, 403, false},
		{config.NextHTTP404, 0, 404, false},
		{0xffff, 0, 501, false},
	}
	for _, tt := range tests {
		if got := CountsAsFailure(tt.cond, tt.f, tt.status); got != tt.want {
			t.Errorf("CountsAsFailure(%#x, %v, %d) = %v, want %v", tt.cond, tt.f, tt.status, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	for _, m := range benchMethods {
		t.Run(m.name, func(t *testing.T) {
			g := benchGroup(t, m.m, m.cons, m.two)
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Go(func() {
					key := []byte{10, 0, byte(w), 1}
					for i := range 500 {
						var tr Try
						now := t0.Add(time.Duration(i) * time.Millisecond)
						for {
							p, err := g.Pick(&tr, key, now)
							if err != nil {
								break
							}
							failed := i%7 == 0
							g.Done(p, failed, now)
							if !failed {
								break
							}
						}
					}
				})
			}
			wg.Wait()
			for _, s := range g.Peers() {
				if s.Conns != 0 {
					t.Errorf("%s: %d connections left", s.Addr, s.Conns)
				}
			}
		})
	}
}

var benchMethods = []struct {
	name string
	m    config.Balance
	cons bool
	two  bool
}{
	{"rr", config.BalanceRoundRobin, false, false},
	{"least_conn", config.BalanceLeastConn, false, false},
	{"ip_hash", config.BalanceIPHash, false, false},
	{"hash", config.BalanceHash, false, false},
	{"hash_consistent", config.BalanceHash, true, false},
	{"random_two", config.BalanceRandom, false, true},
}

func benchGroup(t testing.TB, m config.Balance, cons, two bool) *Group {
	u := &config.Upstream{Name: "bench", Method: m, Consistent: cons, Two: two}
	for i := range 8 {
		u.Servers = append(u.Servers, config.UpstreamServer{
			Addr: fmt.Sprintf("10.0.0.%d:8080", i+1), Weight: 1 + i%3,
			MaxFails: 1, FailTimeout: 10 * time.Second,
		})
	}
	g, err := New(u)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func BenchmarkPickDone(b *testing.B) {
	for _, m := range benchMethods {
		keys := make([][]byte, 256)
		for i := range keys {
			if m.m == config.BalanceIPHash {
				keys[i] = []byte{10, byte(i), 7, 1}
			} else {
				keys[i] = fmt.Appendf(nil, "/static/item-%d.png", i)
			}
		}
		b.Run(m.name, func(b *testing.B) {
			g := benchGroup(b, m.m, m.cons, m.two)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				var tr Try
				p, err := g.Pick(&tr, keys[i&255], t0)
				if err != nil {
					b.Fatal(err)
				}
				g.Done(p, false, t0)
				i++
			}
		})
	}
}

func BenchmarkPickDoneParallel(b *testing.B) {
	for _, m := range benchMethods {
		b.Run(m.name, func(b *testing.B) {
			g := benchGroup(b, m.m, m.cons, m.two)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				key := []byte("/index.html")
				if m.m == config.BalanceIPHash {
					key = []byte{10, 1, 2, 3}
				}
				for pb.Next() {
					var tr Try
					p, err := g.Pick(&tr, key, t0)
					if err != nil {
						panic(err)
					}
					g.Done(p, false, t0)
				}
			})
		})
	}
}

// TestPickAllocs checks that retries (rehashing, the round robin fallback
// and backups) allocate nothing either.
func TestPickAllocs(t *testing.T) {
	for _, m := range benchMethods {
		t.Run(m.name, func(t *testing.T) {
			g := benchGroup(t, m.m, m.cons, m.two)
			key := []byte("/a/b")
			if m.m == config.BalanceIPHash {
				key = []byte{10, 1, 2, 3}
			}
			allocs := testing.AllocsPerRun(100, func() {
				var tr Try
				for {
					p, err := g.Pick(&tr, key, t0)
					if err != nil {
						break
					}
					g.Done(p, false, t0)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocs per request over all peers, want 0", allocs)
			}
		})
	}
}

// TestNewResolvedAddrs checks that each resolved address of a server is a
// peer of its own with the server's parameters, as in nginx.
func TestNewResolvedAddrs(t *testing.T) {
	g, err := New(&config.Upstream{Name: "u", Servers: []config.UpstreamServer{
		{Addr: "app:80", Addrs: []string{"10.0.0.1:80", "10.0.0.2:80"}, Weight: 3, MaxFails: 2, FailTimeout: time.Second},
		{Addr: "10.0.0.9:80", Weight: 1, Backup: true}, // built by hand: Addr itself
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Peer{
		{Addr: "10.0.0.1:80", Weight: 3, MaxFails: 2, FailTimeout: time.Second},
		{Addr: "10.0.0.2:80", Weight: 3, MaxFails: 2, FailTimeout: time.Second},
		{Addr: "10.0.0.9:80", Weight: 1, Backup: true},
	}
	if len(g.peers) != len(want) || g.np != 2 {
		t.Fatalf("%d peers, %d primary", len(g.peers), g.np)
	}
	for i, w := range want {
		p := g.peers[i]
		if p.Addr != w.Addr || p.Weight != w.Weight || p.MaxFails != w.MaxFails || p.FailTimeout != w.FailTimeout || p.Backup != w.Backup {
			t.Errorf("peer %d = %+v, want %+v", i, p, w)
		}
	}
}
