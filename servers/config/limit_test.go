package config

import (
	"testing"
)

func TestLimitErrors(t *testing.T) {
	z := "limit_req_zone $binary_remote_addr zone=z:1m rate=1r/s;"
	tests := []struct{ name, src, want string }{
		{"unknown req zone", "http {\nserver {\nlocation / {\nlimit_req zone=nope;\n}\n}\n}",
			`site.conf:4: unknown limit_req_zone "nope"`},
		{"unknown conn zone", "http {\nserver {\nlimit_conn nope 1;\n}\n}",
			`site.conf:3: unknown limit_conn_zone "nope"`},
		{"bad rate", "http {\nlimit_req_zone $binary_remote_addr zone=z:1m rate=fast;\n}",
			`site.conf:2: invalid rate "rate=fast"`},
		{"zero rate", "http {\nlimit_req_zone $binary_remote_addr zone=z:1m rate=0r/s;\n}",
			`site.conf:2: invalid rate "rate=0r/s"`},
		{"no zone", "http {\nlimit_req_zone $binary_remote_addr rate=1r/s;\n}",
			`site.conf:2: "limit_req_zone" must have "zone" parameter`},
		{"duplicate req zone", "http {\n" + z + "\n" + z + "\n}",
			`site.conf:3: limit_req_zone "z" is already bound to key "$binary_remote_addr"`},
		{"duplicate conn zone", "http {\nlimit_conn_zone $server_name zone=c:1m;\nlimit_conn_zone $binary_remote_addr zone=c:1m;\n}",
			`site.conf:3: limit_conn_zone "c" is already bound to key "$server_name"`},
		{"zone of another use", "http {\n" + z + "\nlimit_conn_zone $binary_remote_addr zone=z:1m;\n}",
			`site.conf:3: the shared memory zone "z" is already declared for a different use`},
		{"zone too small", "http {\nlimit_req_zone $binary_remote_addr zone=z:16k rate=1r/s;\n}",
			`site.conf:2: zone "z" is too small`},
		{"conn zone too small", "http {\nlimit_conn_zone $binary_remote_addr zone=c:1k;\n}",
			`site.conf:2: zone "c" is too small`},
		{"zone size missing", "http {\nlimit_req_zone $binary_remote_addr zone=z rate=1r/s;\n}",
			`site.conf:2: invalid zone size "zone=z"`},
		{"zone size bad", "http {\nlimit_conn_zone $binary_remote_addr zone=c:lots;\n}",
			`site.conf:2: invalid zone size "zone=c:lots"`},
		{"unknown key variable", "http {\nlimit_req_zone $nope zone=z:1m rate=1r/s;\n}",
			`site.conf:2: unknown "nope" variable in "limit_req_zone" directive`},
		{"req zone not in http", srv(z), `site.conf:3: "limit_req_zone" directive is not allowed here`},
		{"sync", "http {\nlimit_req_zone $binary_remote_addr zone=z:1m rate=1r/s sync;\n}",
			`site.conf:2: "sync" in "limit_req_zone" directive is not supported yet`},
		{"bad burst", "http {\n" + z + "\nlimit_req zone=z burst=0;\n}", `site.conf:3: invalid burst value "burst=0"`},
		{"bad delay", "http {\n" + z + "\nlimit_req zone=z delay=x;\n}", `site.conf:3: invalid delay value "delay=x"`},
		{"limit_req no zone", "http {\n" + z + "\nlimit_req burst=5;\n}", `site.conf:3: "limit_req" must have "zone" parameter`},
		{"limit_req bad param", "http {\n" + z + "\nlimit_req zone=z fast;\n}", `site.conf:3: invalid parameter "fast" in "limit_req" directive`},
		{"limit_req duplicate", "http {\n" + z + "\nlimit_req zone=z;\nlimit_req zone=z burst=2;\n}", `site.conf:4: "limit_req" directive is duplicate`},
		{"limit_conn zero", "http {\nlimit_conn_zone $binary_remote_addr zone=c:1m;\nlimit_conn c 0;\n}", `site.conf:3: invalid number of connections "0"`},
		{"limit_conn too many", "http {\nlimit_conn_zone $binary_remote_addr zone=c:1m;\nlimit_conn c 65536;\n}", `site.conf:3: connection limit must be less 65536`},
		{"limit_conn duplicate", "http {\nlimit_conn_zone $binary_remote_addr zone=c:1m;\nlimit_conn c 1;\nlimit_conn c 2;\n}", `site.conf:4: "limit_conn" directive is duplicate`},
		{"limit_req_status range", srv("limit_req_status 200;"), `site.conf:3: value must be between 400 and 599 in "limit_req_status" directive`},
		{"limit_conn_status range", srv("limit_conn_status 600;"), `site.conf:3: value must be between 400 and 599 in "limit_conn_status" directive`},
		{"limit_req_log_level", srv("limit_req_log_level warn;"), `site.conf:3: directive "limit_req_log_level" is not supported yet`},
		{"limit_conn_dry_run", srv("limit_conn_dry_run on;"), `site.conf:3: directive "limit_conn_dry_run" is not supported yet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantLoadError(t, siteFS(tt.src), tt.want)
		})
	}
}

func TestLimitParse(t *testing.T) {
	src := `http {
    limit_req_zone $binary_remote_addr zone=ip:10m rate=10r/s;
    limit_req_zone $server_name zone=srv:32k rate=30r/m;
    limit_conn_zone $binary_remote_addr zone=addr:1m;
    limit_req_zone $uri zone=norate:1m;
    limit_req zone=ip burst=20 nodelay;
    limit_conn_status 429;
    server {
        location / { }
        location /own/ {
            limit_req zone=srv burst=5 delay=2;
            limit_req zone=ip;
            limit_req_status 444;
            limit_conn addr 3;
            location /own/in/ { }
        }
    }
}`
	cfg := load(t, src)
	h := cfg.HTTP
	ip, srvZ, addr := h.LimitReqZones["ip"], h.LimitReqZones["srv"], h.LimitConnZones["addr"]
	if ip == nil || ip.Rate != 10000 || ip.Size != 10<<20 || ip.Key.Raw != "$binary_remote_addr" || ip.Pos.Line != 2 {
		t.Errorf("zone ip: %+v", ip)
	}
	if srvZ == nil || srvZ.Rate != 500 || srvZ.Size != 32<<10 {
		t.Errorf("zone srv: %+v", srvZ)
	}
	if z := h.LimitReqZones["norate"]; z == nil || z.Rate != 1000 {
		t.Errorf("zone without rate= (nginx: 1r/s): %+v", z)
	}
	if addr == nil || addr.Size != 1<<20 {
		t.Errorf("zone addr: %+v", addr)
	}
	root := findLoc(t, cfg, "/")
	if len(root.LimitReqs) != 1 || root.LimitReqs[0].Zone != ip || root.LimitReqs[0].Burst != 20000 ||
		root.LimitReqs[0].Delay != NoDelay || root.LimitReqStatus != 503 || root.LimitConnStatus != 429 || len(root.LimitConns) != 0 {
		t.Errorf("/ inherits from http: %+v %+v", root.LimitReqs, root)
	}
	own := findLoc(t, cfg, "/own/")
	for _, l := range []*Location{own, findLoc(t, cfg, "/own/in/")} {
		if len(l.LimitReqs) != 2 || l.LimitReqs[0].Zone != srvZ || l.LimitReqs[0].Burst != 5000 || l.LimitReqs[0].Delay != 2000 ||
			l.LimitReqs[1].Zone != ip || l.LimitReqs[1].Burst != 0 || l.LimitReqs[1].Delay != 0 || l.LimitReqStatus != 444 {
			t.Errorf("%s: own limit_req lines replace the inherited ones: %+v", l.Path, l.LimitReqs)
		}
		if len(l.LimitConns) != 1 || l.LimitConns[0].Zone != addr || l.LimitConns[0].N != 3 || l.LimitConnStatus != 429 {
			t.Errorf("%s: limit_conn %+v status %d", l.Path, l.LimitConns, l.LimitConnStatus)
		}
	}
}
