package router

import (
	"bytes"

	"github.com/c10k/c10k/servers/config"
)

// Match returns the location of srv for a decoded, normalized URI path,
// with nginx's precedence: an exact (=) match wins; otherwise the longest
// prefix is remembered and, unless it is ^~, the regex locations (~, ~*)
// are tried in config order, the ones nested in that prefix first; the
// first regex that matches wins, else the longest prefix. It returns
// srv.Loc when nothing matches. Regex locations need Location.Regex.
func Match(srv *config.Server, path []byte) *config.Location {
	if l, _ := find(srv.Locations, path); l != nil {
		return l
	}
	return srv.Loc
}

// find searches one level of locations as ngx_http_core_find_location
// does. final reports an exact, regex, or nested final match: the caller
// must not try its own regexes then.
func find(level []*config.Location, path []byte) (loc *config.Location, final bool) {
	var best *config.Location
	for _, l := range level {
		switch l.Match {
		case config.MatchExact:
			if string(path) == l.Path {
				return l, true
			}
		case config.MatchPrefix, config.MatchPrefixFinal:
			if (best == nil || len(l.Path) > len(best.Path)) && bytes.HasPrefix(path, []byte(l.Path)) {
				best = l
			}
		}
	}
	noregex := false
	if best != nil {
		loc = best
		noregex = best.Match == config.MatchPrefixFinal
		if len(best.Locations) > 0 {
			nl, nfinal := find(best.Locations, path)
			if nfinal {
				return nl, true
			}
			if nl != nil {
				loc = nl
			}
		}
	}
	if noregex {
		return loc, false
	}
	for _, l := range level {
		if (l.Match == config.MatchRegex || l.Match == config.MatchRegexFold) && l.Regex != nil && l.Regex.Match(path) {
			if len(l.Locations) > 0 {
				if nl, _ := find(l.Locations, path); nl != nil {
					return nl, true
				}
			}
			return l, true
		}
	}
	return loc, false
}

// Named returns the named location "@name" of srv (name with or without
// the "@"), or nil.
func Named(srv *config.Server, name []byte) *config.Location {
	if len(name) > 0 && name[0] == '@' {
		name = name[1:]
	}
	for _, l := range srv.Locations {
		if l.Match == config.MatchNamed && len(l.Path) == len(name)+1 && l.Path[1:] == string(name) {
			return l
		}
	}
	return nil
}
