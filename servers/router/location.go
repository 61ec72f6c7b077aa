package router

import (
	"bytes"

	"github.com/c10k/c10k/servers/config"
)

// Result is the outcome of Find.
type Result struct {
	// Loc is the location to serve the request in; Server.Loc when no
	// location matches.
	Loc *config.Location
	// Regex is the innermost ~ or ~* location whose expression matched
	// the path and has capture groups: its captures ($1, named ones) are
	// the request's. It is Loc or a location Loc is nested in; nil when
	// no such regex matched (nginx then keeps earlier captures).
	Regex *config.Location
	// Redirect says Loc has AutoRedirect and the path is Loc.Path without
	// its trailing "/": nginx answers 301 with Location Loc.Path (and the
	// query) instead of serving the request.
	Redirect bool
}

// Match returns the location of srv for a decoded, normalized URI path:
// Find(srv, path).Loc.
func Match(srv *config.Server, path []byte) *config.Location {
	return Find(srv, path).Loc
}

// Find looks up the location of srv for a decoded, normalized URI path
// as ngx_http_core_find_location does: an exact (=) match wins;
// otherwise the longest prefix is remembered and, unless it is ^~, the
// regex locations (~, ~*) are tried in config order, the ones nested in
// that prefix first; the first regex that matches wins, else the longest
// prefix. When no location equals the path but a prefix or exact
// location with AutoRedirect equals the path plus "/", that location is
// the result with Redirect set, and no regex is tried. Regex locations
// must have Location.Regex (config always sets it). Find allocates
// nothing.
func Find(srv *config.Server, path []byte) Result {
	r, _ := findLevel(srv.Locations, path)
	if r.Loc == nil {
		r.Loc = srv.Loc
	}
	return r
}

// findLevel searches one level of locations. final reports an exact,
// regex, redirect or nested final match: the caller must not try its
// own regexes then.
func findLevel(level []*config.Location, path []byte) (r Result, final bool) {
	var best, redirect *config.Location
	for _, l := range level {
		switch l.Match {
		case config.MatchExact:
			if string(path) == l.Path {
				return Result{Loc: l}, true
			}
			if l.AutoRedirect && isSlashed(path, l.Path) {
				redirect = l
			}
		case config.MatchPrefix, config.MatchPrefixFinal:
			if (best == nil || len(l.Path) > len(best.Path)) && bytes.HasPrefix(path, []byte(l.Path)) {
				best = l
			}
			if l.AutoRedirect && isSlashed(path, l.Path) {
				redirect = l
			}
		}
	}
	// A prefix equal to the path is nginx's exact node match: it beats the
	// redirect, which only applies to a path one "/" short.
	if redirect != nil && (best == nil || len(best.Path) < len(path)) {
		return Result{Loc: redirect, Redirect: true}, true
	}
	noregex := false
	if best != nil {
		r.Loc = best
		noregex = best.Match == config.MatchPrefixFinal
		if len(best.Locations) > 0 {
			nr, nfinal := findLevel(best.Locations, path)
			if nfinal {
				return nr, true
			}
			if nr.Loc != nil {
				r.Loc = nr.Loc
			}
		}
	}
	if noregex {
		return r, false
	}
	for _, l := range level {
		if (l.Match == config.MatchRegex || l.Match == config.MatchRegexFold) && l.Regex.Match(path) {
			if len(l.Locations) > 0 {
				if nr, _ := findLevel(l.Locations, path); nr.Loc != nil {
					if nr.Regex == nil {
						nr.Regex = captures(l)
					}
					return nr, true
				}
			}
			return Result{Loc: l, Regex: captures(l)}, true
		}
	}
	return r, false
}

// captures returns l when its regex has capture groups, else nil.
func captures(l *config.Location) *config.Location {
	if l.Regex.NumSubexp() > 0 {
		return l
	}
	return nil
}

// isSlashed reports whether loc is path followed by a single "/".
func isSlashed(path []byte, loc string) bool {
	return len(loc) == len(path)+1 && loc[len(path)] == '/' && string(path) == loc[:len(path)]
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
