package upstream

import "time"

// roundRobin is nginx's smooth weighted round robin over the usable,
// untried peers of g.peers[lo:hi]; g.mu is held.
func (g *Group) roundRobin(t *Try, lo, hi int, now time.Time) *Peer {
	var best *Peer
	total := 0
	for i := lo; i < hi; i++ {
		p := &g.peers[i]
		if t.has(i) || !p.usable(now) {
			continue
		}
		p.current += p.effective
		total += p.effective
		if p.effective < p.Weight {
			p.effective++
		}
		if best == nil || p.current > best.current {
			best = p
		}
	}
	if best != nil {
		best.current -= total
	}
	return best
}

// leastConn is nginx's weighted least_conn over g.peers[lo:hi]: the
// fewest connections per unit of weight, ties broken by smooth weighted
// round robin among the tied peers; g.mu is held.
func (g *Group) leastConn(t *Try, lo, hi int, now time.Time) *Peer {
	var best *Peer
	many := false
	for i := lo; i < hi; i++ {
		p := &g.peers[i]
		if t.has(i) || !p.usable(now) {
			continue
		}
		switch {
		case best == nil || p.conns*best.Weight < best.conns*p.Weight:
			best, many = p, false
		case p.conns*best.Weight == best.conns*p.Weight:
			many = true
		}
	}
	if best == nil {
		return nil
	}
	if many {
		first, total := best, 0
		for i := first.idx; i < hi; i++ {
			p := &g.peers[i]
			if t.has(i) || p.conns*first.Weight != first.conns*p.Weight || !p.usable(now) {
				continue
			}
			p.current += p.effective
			total += p.effective
			if p.effective < p.Weight {
				p.effective++
			}
			if p.current > best.current {
				best = p
			}
		}
		best.current -= total
	}
	return best
}

// weightAt returns the primary peer holding weight unit w, as nginx walks
// the peer list for ip_hash and hash.
func (g *Group) weightAt(w int) int {
	i := 0
	for w >= g.peers[i].Weight {
		w -= g.peers[i].Weight
		i++
	}
	return i
}
