package loadgen

import (
	"fmt"
	"net/netip"
	"strings"
)

// maxSources bounds a source-address range.
const maxSources = 1 << 16

// ParseSourceIPs parses a list of local source addresses: comma-separated
// addresses or inclusive ranges, "127.0.0.2-127.0.0.40,127.0.1.1". An
// empty string gives none (the kernel chooses).
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("loadgen: source IPs %q: %w", part, err)
		}
		last := first
		if isRange {
			if last, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("loadgen: source IPs %q: %w", part, err)
			}
		}
		if first.Is4() != last.Is4() || last.Less(first) {
			return nil, fmt.Errorf("loadgen: source IPs %q: want FIRST-LAST with FIRST <= LAST of one family", part)
		}
		for a := first; ; a = a.Next() {
			if len(out) == maxSources {
				return nil, fmt.Errorf("loadgen: source IPs %q: more than %d addresses", s, maxSources)
			}
			out = append(out, a)
			if a == last {
				break
			}
		}
	}
	return out, nil
}
