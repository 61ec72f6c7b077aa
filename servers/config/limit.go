package config

import "strings"

// LimitReqZone is a limit_req_zone line: a leaky-bucket state table
// shared by the limit_req lines that name it.
type LimitReqZone struct {
	Pos  Pos
	Name string
	Key  Template // an empty value is not limited
	Size int64    // bytes, at least MinZoneSize
	// Rate is in milli-requests per second, as nginx keeps it: "10r/s"
	// is 10000, "30r/m" is 500; without rate=, 1r/s (1000).
	Rate int64
}

// LimitConnZone is a limit_conn_zone line: a table of requests in
// progress per key.
type LimitConnZone struct {
	Pos  Pos
	Name string
	Key  Template
	Size int64
}

// LimitReq is one limit_req line of a level.
type LimitReq struct {
	Pos  Pos
	Zone *LimitReqZone
	// Burst and Delay are in milli-requests (burst=N is N*1000), as in
	// ngx_http_limit_req_module; nodelay sets Delay to NoDelay.
	Burst int64
	Delay int64
}

// NoDelay is LimitReq.Delay for "nodelay": no request is ever delayed.
const NoDelay = int64(1<<63-1) / 1000

// LimitConn is one limit_conn line of a level.
type LimitConn struct {
	Pos  Pos
	Zone *LimitConnZone
	N    int
}

// MinZoneSize is the smallest zone nginx accepts: 8 pages of 4 KiB.
const MinZoneSize = 8 * 4096

// zoneArg parses "zone=NAME:SIZE".
func zoneArg(d *directive, a string) (name string, size int64, err error) {
	v := strings.TrimPrefix(a, "zone=")
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", 0, d.errorf("invalid zone size %q", a)
	}
	name = v[:i]
	if name == "" {
		return "", 0, d.errorf("invalid zone name %q", a)
	}
	size, perr := parseSize(v[i+1:])
	if perr != nil || size == 0 {
		return "", 0, d.errorf("invalid zone size %q", a)
	}
	if size < MinZoneSize {
		return "", 0, d.errorf("zone %q is too small", name)
	}
	return name, size, nil
}

// zoneFree checks that name is not already a zone of the other kind,
// nor of this kind (duplicate).
func (p *parser) zoneFree(d *directive, name string, dup func() string) error {
	h := p.cfg.HTTP
	_, isReq := h.LimitReqZones[name]
	_, isConn := h.LimitConnZones[name]
	switch {
	case d.name == "limit_req_zone" && isReq, d.name == "limit_conn_zone" && isConn:
		return d.errorf("%s %q is already bound to key %q", d.name, name, dup())
	case isReq || isConn:
		return d.errorf("the shared memory zone %q is already declared for a different use", name)
	}
	return nil
}

// limitReqZone reads "limit_req_zone KEY zone=NAME:SIZE rate=RATE".
func limitReqZone(p *parser, lv *level, d *directive) error {
	z := &LimitReqZone{Pos: d.pos, Rate: 1000} // nginx's default: 1r/s
	key, err := p.template(d, d.args[0])
	if err != nil {
		return err
	}
	z.Key = key
	for _, a := range d.args[1:] {
		switch {
		case strings.HasPrefix(a, "zone="):
			if z.Name, z.Size, err = zoneArg(d, a); err != nil {
				return err
			}
		case strings.HasPrefix(a, "rate="):
			if z.Rate = parseRate(a[len("rate="):]); z.Rate <= 0 {
				return d.errorf("invalid rate %q", a)
			}
		case a == "sync":
			return notSupported(d, `"sync"`)
		default:
			return invalidParam(d, a)
		}
	}
	if z.Name == "" {
		return d.errorf("%q must have \"zone\" parameter", d.name)
	}
	h := p.cfg.HTTP
	if err := p.zoneFree(d, z.Name, func() string { return h.LimitReqZones[z.Name].Key.Raw }); err != nil {
		return err
	}
	if h.LimitReqZones == nil {
		h.LimitReqZones = make(map[string]*LimitReqZone)
	}
	h.LimitReqZones[z.Name] = z
	return nil
}

// parseRate parses nginx's "Nr/s", "Nr/m" (or a bare N, per second)
// into milli-requests per second; 0 or less when invalid.
func parseRate(s string) int64 {
	scale := int64(1)
	switch {
	case strings.HasSuffix(s, "r/s"):
		s = s[:len(s)-3]
	case strings.HasSuffix(s, "r/m"):
		s, scale = s[:len(s)-3], 60
	}
	n, err := parseNumber(s)
	if err != nil || n <= 0 || n > 1<<40 {
		return 0
	}
	return int64(n) * 1000 / scale
}

// limitConnZone reads "limit_conn_zone KEY zone=NAME:SIZE".
func limitConnZone(p *parser, lv *level, d *directive) error {
	z := &LimitConnZone{Pos: d.pos}
	key, err := p.template(d, d.args[0])
	if err != nil {
		return err
	}
	z.Key = key
	a := d.args[1]
	if !strings.HasPrefix(a, "zone=") {
		return invalidParam(d, a)
	}
	if z.Name, z.Size, err = zoneArg(d, a); err != nil {
		return err
	}
	h := p.cfg.HTTP
	if err := p.zoneFree(d, z.Name, func() string { return h.LimitConnZones[z.Name].Key.Raw }); err != nil {
		return err
	}
	if h.LimitConnZones == nil {
		h.LimitConnZones = make(map[string]*LimitConnZone)
	}
	h.LimitConnZones[z.Name] = z
	return nil
}

// limitReqUse is a limit_req line whose zone is looked up when the
// whole config is read (the zone may be defined after it).
type limitReqUse struct {
	d    *directive
	name string
	lr   *LimitReq
}

type limitConnUse struct {
	d    *directive
	name string
	lc   *LimitConn
}

// limitReq reads "limit_req zone=NAME [burst=N] [nodelay | delay=N]".
func limitReq(p *parser, lv *level, d *directive) error {
	lr := &LimitReq{Pos: d.pos}
	var name string
	for _, a := range d.args {
		switch {
		case strings.HasPrefix(a, "zone="):
			name = a[len("zone="):]
		case strings.HasPrefix(a, "burst="):
			n, err := parseNumber(a[len("burst="):])
			if err != nil || n <= 0 || n > 1<<40 {
				return d.errorf("invalid burst value %q", a)
			}
			lr.Burst = int64(n) * 1000
		case strings.HasPrefix(a, "delay="):
			n, err := parseNumber(a[len("delay="):])
			if err != nil || n <= 0 || n > 1<<40 {
				return d.errorf("invalid delay value %q", a)
			}
			lr.Delay = int64(n) * 1000
		case a == "nodelay":
			lr.Delay = NoDelay
		default:
			return invalidParam(d, a)
		}
	}
	if name == "" {
		return d.errorf("%q must have \"zone\" parameter", d.name)
	}
	for _, u := range p.limitReqs {
		if u.name == name && lv.hasLimitReq(u.lr) {
			return d.errorf("%q directive is duplicate", d.name)
		}
	}
	lv.loc.LimitReqs = append(lv.loc.LimitReqs, lr)
	p.limitReqs = append(p.limitReqs, limitReqUse{d, name, lr})
	return nil
}

func (lv *level) hasLimitReq(lr *LimitReq) bool {
	for _, x := range lv.loc.LimitReqs {
		if x == lr {
			return true
		}
	}
	return false
}

func (lv *level) hasLimitConn(lc *LimitConn) bool {
	for _, x := range lv.loc.LimitConns {
		if x == lc {
			return true
		}
	}
	return false
}

// limitConn reads "limit_conn NAME N".
func limitConn(p *parser, lv *level, d *directive) error {
	n, err := parseNumber(d.args[1])
	if err != nil || n <= 0 {
		return d.errorf("invalid number of connections %q", d.args[1])
	}
	if n > 65535 {
		return d.errorf("connection limit must be less 65536")
	}
	name := d.args[0]
	for _, u := range p.limitConns {
		if u.name == name && lv.hasLimitConn(u.lc) {
			return d.errorf("%q directive is duplicate", d.name)
		}
	}
	lc := &LimitConn{Pos: d.pos, N: n}
	lv.loc.LimitConns = append(lv.loc.LimitConns, lc)
	p.limitConns = append(p.limitConns, limitConnUse{d, name, lc})
	return nil
}

// limitStatus reads limit_req_status and limit_conn_status.
func limitStatus(field func(*Location) *int) handler {
	return func(p *parser, lv *level, d *directive) error {
		n, err := parseNumber(d.args[0])
		if err != nil || n < 400 || n > 599 {
			return d.errorf("value must be between 400 and 599 in %q directive", d.name)
		}
		*field(lv.loc) = n
		return nil
	}
}

// finishLimits binds limit_req and limit_conn lines to their zones.
func (p *parser) finishLimits() error {
	h := p.cfg.HTTP
	for _, u := range p.limitReqs {
		z := h.LimitReqZones[u.name]
		if z == nil {
			return u.d.errorf("unknown limit_req_zone %q", u.name)
		}
		u.lr.Zone = z
	}
	for _, u := range p.limitConns {
		z := h.LimitConnZones[u.name]
		if z == nil {
			return u.d.errorf("unknown limit_conn_zone %q", u.name)
		}
		u.lc.Zone = z
	}
	return nil
}

// inheritLimits copies the enclosing level's limit lines into c when c
// has none of its own (nginx's array merge), and the statuses.
func inheritLimits(c, parent *level) {
	l, p := c.loc, parent.loc
	if !c.has("limit_req") {
		l.LimitReqs = p.LimitReqs
	}
	if !c.has("limit_conn") {
		l.LimitConns = p.LimitConns
	}
	if !c.has("limit_req_status") {
		l.LimitReqStatus = p.LimitReqStatus
	}
	if !c.has("limit_conn_status") {
		l.LimitConnStatus = p.LimitConnStatus
	}
}
