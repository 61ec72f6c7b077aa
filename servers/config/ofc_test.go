package config

import (
	"testing"
	"time"
)

func TestOpenFileCache(t *testing.T) {
	cfg := load(t, `http {
  open_file_cache max=100 inactive=20s;
  open_file_cache_valid 30s;
  server {
    listen 127.0.0.1:0;
    location /a/ {
      open_file_cache_min_uses 2;
      open_file_cache_errors on;
      location /a/b/ { open_file_cache off; }
    }
    location /c/ { open_file_cache max=5; }
  }
  server { listen 127.0.0.1:0; open_file_cache_valid 5s; }
}`)
	s := cfg.HTTP.Servers[0]
	a, c := s.Locations[0], s.Locations[1]
	b := a.Locations[0]
	tests := []struct {
		name     string
		loc      *Location
		max      int // 0: off
		inactive time.Duration
		valid    time.Duration
		minUses  int
		errors   bool
	}{
		{"server", s.Loc, 100, 20 * time.Second, 30 * time.Second, 1, false},
		{"/a/", a, 100, 20 * time.Second, 30 * time.Second, 2, true},
		{"/a/b/", b, 0, 0, 30 * time.Second, 2, true},
		{"/c/", c, 5, 60 * time.Second, 30 * time.Second, 1, false},
		{"second server", cfg.HTTP.Servers[1].Loc, 100, 20 * time.Second, 5 * time.Second, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.loc
			if tt.max == 0 {
				if l.OpenFileCache != nil {
					t.Errorf("open_file_cache = %+v, want off", l.OpenFileCache)
				}
			} else if l.OpenFileCache == nil || l.OpenFileCache.Max != tt.max || l.OpenFileCache.Inactive != tt.inactive {
				t.Errorf("open_file_cache = %+v, want max=%d inactive=%v", l.OpenFileCache, tt.max, tt.inactive)
			}
			if l.OpenFileCacheValid != tt.valid || l.OpenFileCacheMinUses != tt.minUses || l.OpenFileCacheErrors != tt.errors {
				t.Errorf("valid %v min_uses %d errors %v, want %v %d %v",
					l.OpenFileCacheValid, l.OpenFileCacheMinUses, l.OpenFileCacheErrors, tt.valid, tt.minUses, tt.errors)
			}
		})
	}
	if s.Loc.OpenFileCache != a.OpenFileCache || s.Loc.OpenFileCache != cfg.HTTP.Servers[1].Loc.OpenFileCache {
		t.Error("levels inheriting one open_file_cache line must share it (one cache, as in nginx)")
	}
}

func TestOpenFileCacheDefaults(t *testing.T) {
	l := load(t, `http { server { listen 127.0.0.1:0; } }`).HTTP.Servers[0].Loc
	if l.OpenFileCache != nil || l.OpenFileCacheValid != 60*time.Second || l.OpenFileCacheMinUses != 1 || l.OpenFileCacheErrors {
		t.Errorf("defaults: cache %v valid %v min_uses %d errors %v, want off 60s 1 off",
			l.OpenFileCache, l.OpenFileCacheValid, l.OpenFileCacheMinUses, l.OpenFileCacheErrors)
	}
}
