package upstream

import (
	"hash/crc32"
	"time"
)

// maxHashTries is how many misses ip_hash, hash and random allow in one
// request before they fall back to round robin, as in nginx.
const maxHashTries = 20

// ipHash is nginx's ip_hash: the first three octets of an IPv4 address,
// the whole IPv6 address; g.mu is held.
func (g *Group) ipHash(t *Try, key []byte, now time.Time) *Peer {
	if t.htries > maxHashTries || g.np < 2 {
		return g.roundRobin(t, 0, g.np, now)
	}
	if !t.hinit {
		t.hinit = true
		t.hash = 89
	}
	var addr []byte
	switch {
	case len(key) == 4:
		addr = key[:3]
	case len(key) == 16 && isV4Mapped(key):
		addr = key[12:15]
	case len(key) == 16:
		addr = key
	default:
		addr = pseudoAddr[:]
	}
	hash := t.hash
	for {
		for _, b := range addr {
			hash = (hash*113 + uint32(b)) % 6271
		}
		i := g.weightAt(int(hash % uint32(g.total)))
		if p := &g.peers[i]; !t.has(i) && p.usable(now) {
			t.hash = hash
			return p
		}
		t.htries++
		if t.htries > maxHashTries {
			return g.roundRobin(t, 0, g.np, now)
		}
	}
}

// pseudoAddr is what nginx hashes for clients without an IP address.
var pseudoAddr = [3]byte{}

func isV4Mapped(a []byte) bool {
	for _, b := range a[:10] {
		if b != 0 {
			return false
		}
	}
	return a[10] == 0xff && a[11] == 0xff
}

// hash is nginx's hash KEY, compatible with Cache::Memcached:
// ((crc32([REHASH] KEY) >> 16) & 0x7fff) + PREV_HASH, REHASH omitted in
// the first round; g.mu is held.
func (g *Group) hash(t *Try, key []byte, now time.Time) *Peer {
	if t.htries > maxHashTries || g.np < 2 || len(key) == 0 {
		return g.roundRobin(t, 0, g.np, now)
	}
	for {
		var h uint32
		if t.rehash > 0 {
			h = crcDecimal(t.rehash)
		}
		h = crc32.Update(h, crc32.IEEETable, key)
		t.hash += (h >> 16) & 0x7fff
		t.rehash++
		i := g.weightAt(int(t.hash % uint32(g.total)))
		if p := &g.peers[i]; !t.has(i) && p.usable(now) {
			return p
		}
		t.htries++
		if t.htries > maxHashTries {
			return g.roundRobin(t, 0, g.np, now)
		}
	}
}

// crcDecimal returns the crc32 (IEEE) of the decimal digits of n,
// without the allocation crc32.Update of a stack buffer would cost.
func crcDecimal(n uint32) uint32 {
	var buf [10]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	c := ^uint32(0)
	for _, b := range buf[i:] {
		c = crc32.IEEETable[byte(c)^b] ^ c>>8
	}
	return ^c
}

// chash is nginx's hash KEY consistent (ketama): the first ring point at
// or after crc32(KEY), then the following points; g.mu is held.
func (g *Group) chash(t *Try, key []byte, now time.Time) *Peer {
	if t.htries > maxHashTries || g.np < 2 || len(key) == 0 || len(g.points) == 0 {
		return g.roundRobin(t, 0, g.np, now)
	}
	if !t.hinit {
		t.hinit = true
		t.hash = uint32(findPoint(g.points, crc32.ChecksumIEEE(key)))
	}
	for {
		i := int(g.points[t.hash%uint32(len(g.points))].peer)
		if p := &g.peers[i]; !t.has(i) && p.usable(now) {
			// nginx runs round robin among the peers of one server name;
			// here a server is one peer, so only the weight recovers.
			if p.effective < p.Weight {
				p.effective++
			}
			return p
		}
		t.hash++
		t.htries++
		if t.htries > maxHashTries {
			return g.roundRobin(t, 0, g.np, now)
		}
	}
}

// findPoint returns the index of the first point with hash >= h, or
// len(pts) when there is none.
func findPoint(pts []point, h uint32) int {
	i, j := 0, len(pts)
	for i < j {
		k := int(uint(i+j) >> 1)
		switch {
		case h > pts[k].hash:
			i = k + 1
		case h < pts[k].hash:
			j = k
		default:
			return k
		}
	}
	return i
}
