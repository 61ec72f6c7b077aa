package config

import (
	"testing"
	"time"
)

func TestAccessLogInheritance(t *testing.T) {
	src := `http {
    log_format main escape=json '$remote_addr '
                                '$status';
    access_log a.log;
    access_log b.log main buffer=32k flush=5s;
    server {
        listen 80;
        location /inherit/ { }
        location /own/ { access_log c.log main; }
        location /off/ { access_log off; }
    }
    server {
        listen 81;
        access_log off;
        location /on/ { access_log d.log flush=1s; }
    }
}`
	cfg, err := Parse("site.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HTTP
	f := h.LogFormats["main"]
	if f == nil || f.Escape != "json" || f.Template.Raw != "$remote_addr $status" {
		t.Fatalf("log_format main = %+v", f)
	}
	if h.LogFormats["combined"] == nil || h.LogFormats["combined"].Template.Raw != CombinedFormat {
		t.Fatalf("combined missing: %+v", h.LogFormats["combined"])
	}
	paths := func(l *Location) []string {
		var s []string
		for _, a := range l.AccessLogs {
			s = append(s, a.Path+"/"+a.Format.Name)
		}
		return s
	}
	s0, s1 := h.Servers[0], h.Servers[1]
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: access logs %q, want %q", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: access logs %q, want %q", name, got, want)
			}
		}
	}
	check("server", paths(s0.Loc), "a.log/combined", "b.log/main")
	check("inherit", paths(s0.Locations[0]), "a.log/combined", "b.log/main")
	check("own", paths(s0.Locations[1]), "c.log/main")
	check("off", paths(s0.Locations[2]))
	if s0.Locations[2].AccessLog != "" {
		t.Fatalf("off: AccessLog %q", s0.Locations[2].AccessLog)
	}
	check("server off", paths(s1.Loc))
	check("on again", paths(s1.Locations[0]), "d.log/combined")
	b := s0.Loc.AccessLogs[1]
	if b.Buffer != 32<<10 || b.Flush != 5*time.Second || b.Pos.Line != 5 {
		t.Fatalf("b.log = %+v", b)
	}
	if d := s1.Locations[0].AccessLogs[0]; d.Buffer != DefaultAccessLogBuffer || d.Flush != time.Second {
		t.Fatalf("flush without buffer = %+v", d)
	}
}

func TestAccessLogDefault(t *testing.T) {
	cfg, err := Parse("site.conf", []byte("http { server { listen 80; } }"))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.HTTP.Servers[0].Loc
	if len(l.AccessLogs) != 1 || l.AccessLogs[0].Path != "logs/access.log" || l.AccessLogs[0].Format.Name != "combined" || l.AccessLogs[0].Buffer != 0 {
		t.Fatalf("default access log = %+v", l.AccessLogs)
	}
}
