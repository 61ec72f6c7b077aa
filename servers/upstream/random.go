package upstream

import "time"

// random is nginx's random: a peer drawn by weight; with two, the less
// loaded (connections per weight) of two distinct draws. g.mu is held.
func (g *Group) random(t *Try, now time.Time) *Peer {
	if t.htries > maxHashTries || g.np < 2 {
		return g.roundRobin(t, 0, g.np, now)
	}
	prev := -1
	for {
		i := g.peek()
		if p := &g.peers[i]; i != prev && !t.has(i) && p.usable(now) {
			if !g.two {
				return p
			}
			if prev >= 0 {
				q := &g.peers[prev]
				if p.conns*q.Weight > q.conns*p.Weight {
					return q
				}
				return p
			}
			prev = i
		}
		t.htries++
		if t.htries > maxHashTries {
			return g.roundRobin(t, 0, g.np, now)
		}
	}
}

// peek draws a primary peer with probability proportional to its weight.
func (g *Group) peek() int {
	x := int(g.rng.Uint64() % uint64(g.total))
	i, j := 0, len(g.ranges)
	for j-i > 1 {
		k := int(uint(i+j) >> 1)
		if x < g.ranges[k] {
			j = k
		} else {
			i = k
		}
	}
	return i
}
