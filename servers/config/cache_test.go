package config

import (
	"reflect"
	"testing"
	"time"
)

func TestCacheErrors(t *testing.T) {
	z := "proxy_cache_path /tmp/c keys_zone=c:1m;"
	tests := []struct{ name, src, want string }{
		{"unknown zone", "http {\nserver {\nlocation / {\nproxy_cache nope;\n}\n}\n}",
			`site.conf:4: "proxy_cache" zone "nope" is unknown`},
		{"duplicate zone", "http {\n" + z + "\nproxy_cache_path /tmp/d keys_zone=c:1m;\n}",
			`site.conf:3: duplicate zone "c" (first at site.conf:2)`},
		{"same path", "http {\n" + z + "\nproxy_cache_path /tmp/c keys_zone=d:1m;\n}",
			`site.conf:3: cache "d" uses the "/tmp/c" cache path, as cache "c" (at site.conf:2) does`},
		{"no keys_zone", "http {\nproxy_cache_path /tmp/c levels=1:2;\n}",
			`site.conf:2: "proxy_cache_path" must have "keys_zone" parameter`},
		{"bad keys size", "http {\nproxy_cache_path /tmp/c keys_zone=c:lots;\n}",
			`site.conf:2: invalid keys zone size "keys_zone=c:lots"`},
		{"keys size missing", "http {\nproxy_cache_path /tmp/c keys_zone=c;\n}",
			`site.conf:2: invalid keys zone size "keys_zone=c"`},
		{"keys zone too small", "http {\nproxy_cache_path /tmp/c keys_zone=c:8k;\n}",
			`site.conf:2: zone "c" is too small`},
		{"bad max_size", "http {\nproxy_cache_path /tmp/c keys_zone=c:1m max_size=big;\n}",
			`site.conf:2: invalid max_size value "max_size=big"`},
		{"bad levels", "http {\nproxy_cache_path /tmp/c levels=3 keys_zone=c:1m;\n}",
			`site.conf:2: invalid "levels=3" in "proxy_cache_path" directive`},
		{"too many levels", "http {\nproxy_cache_path /tmp/c levels=1:1:1:1 keys_zone=c:1m;\n}",
			`site.conf:2: invalid "levels=1:1:1:1" in "proxy_cache_path" directive`},
		{"bad inactive", "http {\nproxy_cache_path /tmp/c keys_zone=c:1m inactive=soon;\n}",
			`site.conf:2: invalid inactive value "inactive=soon"`},
		{"memory levels", "http {\nproxy_cache_path memory: levels=1 keys_zone=c:1m;\n}",
			`site.conf:2: "levels" is not allowed with the "memory:" path (a c10k memory zone)`},
		{"manager_files", "http {\nproxy_cache_path /tmp/c keys_zone=c:1m manager_files=10;\n}",
			`site.conf:2: "manager_files" in "proxy_cache_path" directive is not supported yet`},
		{"path not in server", srv(z), `site.conf:3: "proxy_cache_path" directive is not allowed here`},
		{"valid bad status", srv("proxy_cache_valid 99 1m;"), `site.conf:3: invalid status "99"`},
		{"valid bad time", srv("proxy_cache_valid 200 soon;"), `site.conf:3: invalid value "soon" in "proxy_cache_valid" directive`},
		{"use_stale bad", srv("proxy_cache_use_stale error http_418;"), `site.conf:3: invalid value "http_418" in "proxy_cache_use_stale" directive`},
		{"lock bad", srv("proxy_cache_lock maybe;"), `site.conf:3: invalid value "maybe" in "proxy_cache_lock" directive, it must be "on" or "off"`},
		{"methods bad", srv("proxy_cache_methods PUT;"), `site.conf:3: invalid value "PUT" in "proxy_cache_methods" directive`},
		{"key unknown variable", srv("proxy_cache_key $nope;"), `site.conf:3: unknown "nope" variable in "proxy_cache_key" directive`},
		{"lock_age", srv("proxy_cache_lock_age 5s;"), `site.conf:3: directive "proxy_cache_lock_age" is not supported yet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantLoadError(t, siteFS(tt.src), tt.want)
		})
	}
}

func TestCacheSettings(t *testing.T) {
	src := `http {
    proxy_cache_path /var/cache/c10k levels=1:2 keys_zone=disk:10m inactive=1h max_size=1g use_temp_path=off;
    proxy_cache_path memory: keys_zone=mem:1m max_size=64m;
    proxy_cache_valid 200 10m;
    proxy_cache_valid 404 any 1m;
    server {
        proxy_cache mem;
        location / { proxy_pass http://127.0.0.1:8080; }
        location /disk/ {
            proxy_cache disk;
            proxy_cache_key $host$uri$is_args$args;
            proxy_cache_valid 5s;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 2s;
            proxy_cache_use_stale error timeout http_503;
            proxy_cache_bypass $arg_nocache $cookie_nocache;
            proxy_no_cache $arg_nostore;
            proxy_cache_min_uses 2;
            proxy_cache_methods GET POST;
            proxy_pass http://127.0.0.1:8080;
            location /disk/off/ { proxy_cache off; proxy_pass http://127.0.0.1:8080; }
        }
    }
    server { listen 81; location / { proxy_pass http://127.0.0.1:8080; } }
}`
	cfg := load(t, src)
	h := cfg.HTTP
	disk, mem := h.CachePaths["disk"], h.CachePaths["mem"]
	if disk == nil || mem == nil {
		t.Fatalf("zones %v", h.CachePaths)
	}
	wantDisk := &CachePath{Pos: Pos{"site.conf", 2}, Name: "disk", Path: "/var/cache/c10k", Levels: []int{1, 2},
		KeysSize: 10 << 20, Inactive: time.Hour, MaxSize: 1 << 30}
	if !reflect.DeepEqual(disk, wantDisk) {
		t.Errorf("disk zone\n got %+v\nwant %+v", disk, wantDisk)
	}
	if !mem.Memory || mem.Path != "" || mem.MaxSize != 64<<20 || mem.Inactive != 10*time.Minute {
		t.Errorf("memory zone %+v", mem)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Pos.Line != 3 {
		t.Errorf("warnings %v, want one for the memory zone at line 3", cfg.Warnings)
	}
	srv := h.Servers[0]
	root, d := srv.Locations[0].Cache, srv.Locations[1].Cache
	if root == nil || root.Zone != mem || root.Key.Raw != DefaultCacheKey || root.Lock || root.LockTimeout != 5*time.Second || root.MinUses != 1 {
		t.Fatalf("location / cache %+v", root)
	}
	wantValid := []CacheValid{{200, 10 * time.Minute}, {404, time.Minute}, {0, time.Minute}}
	if !reflect.DeepEqual(root.Valid, wantValid) {
		t.Errorf("inherited valid %v, want %v", root.Valid, wantValid)
	}
	if d == nil || d.Zone != disk || d.Key.Raw != "$host$uri$is_args$args" || !d.Lock || d.LockTimeout != 2*time.Second ||
		d.UseStale != StaleError|StaleTimeout|StaleHTTP503 || len(d.Bypass) != 2 || len(d.NoCache) != 1 || d.MinUses != 2 {
		t.Errorf("location /disk/ cache %+v", d)
	}
	if want := []CacheValid{{200, 5 * time.Second}, {301, 5 * time.Second}, {302, 5 * time.Second}}; !reflect.DeepEqual(d.Valid, want) {
		t.Errorf("valid without codes %v, want %v", d.Valid, want)
	}
	if want := []string{"GET", "HEAD", "POST"}; !reflect.DeepEqual(d.Methods, want) {
		t.Errorf("methods %v", d.Methods)
	}
	if off := srv.Locations[1].Locations[0]; off.Cache != nil {
		t.Errorf("proxy_cache off: %+v", off.Cache)
	}
	if c := h.Servers[1].Locations[0].Cache; c != nil {
		t.Errorf("server without proxy_cache: %+v", c)
	}
	if !d.UseStale.Status(503) || d.UseStale.Status(500) {
		t.Errorf("UseStale.Status")
	}
}
