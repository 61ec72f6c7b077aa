package upstream

// Try carries one request's attempts across peers: which were tried.
// The zero value is ready to use.
type Try struct {
	tried  uint64   // peers 0..63
	more   []uint64 // peers 64 and up, allocated only for large groups
	n      int      // attempts made
	backup bool     // primary peers exhausted: pick among backup peers

	// Per-request state of ip_hash, hash and random, as nginx keeps it.
	hinit  bool
	hash   uint32 // ip_hash: running hash; hash: sum; consistent: ring index
	rehash uint32 // hash: rehash round
	htries int    // ip_hash, hash, random: misses before round robin
}

// Attempts returns the number of peers picked for the request so far,
// the "tries" Retry expects.
func (t *Try) Attempts() int { return t.n }

// Reset makes t ready for a new request, keeping its storage.
func (t *Try) Reset() {
	more := t.more
	clear(more)
	*t = Try{more: more[:0]}
}

func (t *Try) has(i int) bool {
	if i < 64 {
		return t.tried&(1<<uint(i)) != 0
	}
	j := i/64 - 1
	return j < len(t.more) && t.more[j]&(1<<uint(i%64)) != 0
}

func (t *Try) mark(i int) {
	if i < 64 {
		t.tried |= 1 << uint(i)
		return
	}
	j := i/64 - 1
	for len(t.more) <= j {
		t.more = append(t.more, 0)
	}
	t.more[j] |= 1 << uint(i%64)
}
