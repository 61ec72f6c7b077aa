package config

import (
	"testing"
	"testing/fstest"
	"time"
)

// TestClientTimeouts checks client_header_timeout, client_body_timeout
// and send_timeout: 60s each by default, as nginx's; the header timeout
// set at http or server level (nginx's contexts for it), the other two
// also per location, inherited downwards.
func TestClientTimeouts(t *testing.T) {
	cfg := load(t, `
http {
    server {
        listen 127.0.0.1:8001;
        location / {}
    }
    server {
        listen 127.0.0.1:8002;
        client_header_timeout 2s;
        client_body_timeout 3s;
        send_timeout 4s;
        location / {}
        location /l/ {
            client_body_timeout 5s;
            send_timeout 6s;
        }
    }
}
`)
	def, set := cfg.HTTP.Servers[0], cfg.HTTP.Servers[1]
	for _, tt := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"default client_header_timeout", def.ClientHeaderTimeout, 60 * time.Second},
		{"default client_body_timeout", def.ClientBodyTimeout, 60 * time.Second},
		{"default send_timeout", def.SendTimeout, 60 * time.Second},
		{"default client_body_timeout in a location", def.Locations[0].ClientBodyTimeout, 60 * time.Second},
		{"default send_timeout in a location", def.Locations[0].SendTimeout, 60 * time.Second},
		{"server client_header_timeout", set.ClientHeaderTimeout, 2 * time.Second},
		{"server client_body_timeout", set.ClientBodyTimeout, 3 * time.Second},
		{"server send_timeout", set.SendTimeout, 4 * time.Second},
		{"inherited client_body_timeout", set.Locations[0].ClientBodyTimeout, 3 * time.Second},
		{"inherited send_timeout", set.Locations[0].SendTimeout, 4 * time.Second},
		{"location client_body_timeout", set.Locations[1].ClientBodyTimeout, 5 * time.Second},
		{"location send_timeout", set.Locations[1].SendTimeout, 6 * time.Second},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	// http-level header timeout reaches the servers; a location may not set it.
	cfg = load(t, "http { client_header_timeout 7s; server { listen 127.0.0.1:8003; } }")
	if got := cfg.HTTP.Servers[0].ClientHeaderTimeout; got != 7*time.Second {
		t.Errorf("http-level client_header_timeout = %v, want 7s", got)
	}
	src := "http { server { location / { client_header_timeout 1s; } } }"
	if _, err := LoadFS(fstest.MapFS{"site.conf": {Data: []byte(src)}}, "site.conf"); err == nil {
		t.Error("client_header_timeout in a location: no error, nginx refuses it")
	}
}
