package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	blueAddr  = "127.0.0.1:8081"
	greenAddr = "127.0.0.1:8082"
)

func TestRewrite(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		upstream   string
		want       string // the file after; "" when an error is expected
		live       string
		lines      []int
		err        error
		errHas     []string // substrings of the error
		blue, gren string   // "" for blueAddr, greenAddr
	}{
		{
			name: "blue to green, weights and other parameters kept",
			src: "upstream app {\n" +
				"    server 127.0.0.1:8081 weight=3 max_fails=2 fail_timeout=5s;\n" +
				"    keepalive 8;\n" +
				"}\n",
			want: "upstream app {\n" +
				"    server 127.0.0.1:8082 weight=3 max_fails=2 fail_timeout=5s;\n" +
				"    keepalive 8;\n" +
				"}\n",
			live: Blue, lines: []int{2},
		},
		{
			name: "green to blue",
			src:  "upstream app {\n\tserver 127.0.0.1:8082;\n}\n",
			want: "upstream app {\n\tserver 127.0.0.1:8081;\n}\n",
			live: Green, lines: []int{2},
		},
		{
			name: "comments, spacing and other servers kept byte for byte",
			src: "# blue-green: server 127.0.0.1:8081 is live\n" +
				"upstream   app{   # the app\n" +
				"    server   127.0.0.1:8081   weight=2 ;# blue 127.0.0.1:8081\n" +
				"    server 10.0.0.9:80 backup;\n" +
				"    # server 127.0.0.1:8082;\n" +
				"}\n",
			want: "# blue-green: server 127.0.0.1:8081 is live\n" +
				"upstream   app{   # the app\n" +
				"    server   127.0.0.1:8082   weight=2 ;# blue 127.0.0.1:8081\n" +
				"    server 10.0.0.9:80 backup;\n" +
				"    # server 127.0.0.1:8082;\n" +
				"}\n",
			live: Blue, lines: []int{3},
		},
		{
			name: "only the named upstream; every line on the live address",
			src: "http {\n" +
				"  upstream other { server 127.0.0.1:8081; }\n" +
				"  upstream app {\n" +
				"    server 127.0.0.1:8081 weight=1; server 127.0.0.1:8081 weight=2;\n" +
				"    server\n      127.0.0.1:8081\n      weight=3;\n" +
				"  }\n" +
				"}\n",
			want: "http {\n" +
				"  upstream other { server 127.0.0.1:8081; }\n" +
				"  upstream app {\n" +
				"    server 127.0.0.1:8082 weight=1; server 127.0.0.1:8082 weight=2;\n" +
				"    server\n      127.0.0.1:8082\n      weight=3;\n" +
				"  }\n" +
				"}\n",
			live: Blue, lines: []int{4, 5},
		},
		{
			name: "quoted address keeps its quotes",
			src:  "upstream app { server \"127.0.0.1:8082\" weight=1; }\n",
			want: "upstream app { server \"127.0.0.1:8081\" weight=1; }\n",
			live: Green, lines: []int{1},
		},
		{
			name: "localhost is 127.0.0.1",
			src:  "upstream app { server localhost:8081; }\n",
			want: "upstream app { server 127.0.0.1:8082; }\n",
			live: Blue, lines: []int{1},
		},
		{
			name: "a missing port is 80",
			src:  "upstream app { server 10.1.1.1; }\n",
			want: "upstream app { server 10.1.1.2:80; }\n",
			blue: "10.1.1.1:80", gren: "10.1.1.2:80",
			live: Blue, lines: []int{1},
		},
		{
			name: "both colors listed",
			src: "events {}\n" +
				"upstream app {\n" +
				"    server 127.0.0.1:8081;\n" +
				"    server 127.0.0.1:8082;\n" +
				"}\n",
			err:    ErrLive,
			errHas: []string{"site.conf:2:", `upstream "app" lists both`, "(line 3)", "(line 4)"},
		},
		{
			name:   "neither color listed",
			src:    "\n\nupstream app {\n    server 127.0.0.1:9000;\n}\n",
			err:    ErrLive,
			errHas: []string{"site.conf:3:", "lists neither", "127.0.0.1:9000"},
		},
		{
			name:   "a commented-out server is not listed",
			src:    "upstream app {\n    # server 127.0.0.1:8081;\n    server 127.0.0.1:9000;\n}\n",
			err:    ErrLive,
			errHas: []string{"site.conf:1:", "lists neither"},
		},
		{
			name:   "upstream missing",
			src:    "upstream api { server 127.0.0.1:8081; }\n",
			err:    ErrNoUpstream,
			errHas: []string{"site.conf:", `"app"`},
		},
		{
			name:     "upstream named in a comment only",
			src:      "# upstream app { server 127.0.0.1:8081; }\nupstream app2 { server 127.0.0.1:8081; }\n",
			upstream: "app",
			err:      ErrNoUpstream,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up, b, g := tc.upstream, tc.blue, tc.gren
			if up == "" {
				up = "app"
			}
			if b == "" {
				b, g = blueAddr, greenAddr
			}
			sw, err := Rewrite("site.conf", []byte(tc.src), up, 0, b, g)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(sw.New) != tc.want {
				t.Errorf("rewritten:\n%s\nwant:\n%s", sw.New, tc.want)
			}
			if string(sw.Old) != tc.src {
				t.Error("Old is not the source")
			}
			if sw.Live != tc.live || !slices.Equal(sw.Lines, tc.lines) {
				t.Errorf("live %s lines %v, want %s %v", sw.Live, sw.Lines, tc.live, tc.lines)
			}
			// Switching back gives the source again.
			back, err := Rewrite("site.conf", sw.New, up, 0, b, g)
			if err != nil {
				t.Fatal(err)
			}
			if back.Live != sw.Next {
				t.Errorf("switching back: live %s, want %s", back.Live, sw.Next)
			}
		})
	}
}

// TestPlan finds the upstream through the config package: in the main
// file, in an included one (which is the file switched), or nowhere.
func TestPlan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("upstreams.conf", "upstream app {\n    server 127.0.0.1:8082 weight=2;\n}\n")
	main := write("site.conf", `events {}
http {
    include upstreams.conf;
    server {
        listen 127.0.0.1:0;
        location / { proxy_pass http://app; }
    }
}
`)
	sw, err := Plan(main, "app", blueAddr, greenAddr)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(sw.File) != "upstreams.conf" || sw.Line != 1 || sw.Live != Green {
		t.Errorf("file %s line %d live %s, want upstreams.conf:1 green", sw.File, sw.Line, sw.Live)
	}
	if want := "upstream app {\n    server 127.0.0.1:8081 weight=2;\n}\n"; string(sw.New) != want {
		t.Errorf("rewritten %q, want %q", sw.New, want)
	}

	_, err = Plan(main, "api", blueAddr, greenAddr)
	if !errors.Is(err, ErrNoUpstream) || !strings.Contains(err.Error(), main) {
		t.Errorf("missing upstream: %v, want ErrNoUpstream naming %s", err, main)
	}

	bad := write("bad.conf", "events {}\nhttp {\n    upstream app { server 127.0.0.1:8081 weight=0; }\n}\n")
	if _, err := Plan(bad, "app", blueAddr, greenAddr); err == nil || !strings.Contains(err.Error(), "bad.conf:3") {
		t.Errorf("a config that does not load: %v, want an error naming bad.conf:3", err)
	}
}

func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "site.conf")
	old := []byte("upstream app { server 127.0.0.1:8081; }\n")
	if err := os.WriteFile(p, old, 0o640); err != nil {
		t.Fatal(err)
	}
	// The config is reached through a symbolic link, as with
	// sites-enabled: the file it points to is replaced, the link stays.
	link := filepath.Join(dir, "enabled.conf")
	if err := os.Symlink("site.conf", link); err != nil {
		t.Fatal(err)
	}
	next := []byte("upstream app { server 127.0.0.1:8082; }\n")
	bak, err := replaceFile(link, old, next)
	if err != nil {
		t.Fatal(err)
	}
	if bak != p+".bak" {
		t.Errorf("backup %s, want %s", bak, p+".bak")
	}
	for path, want := range map[string][]byte{p: next, link: next, bak: old} {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	for _, path := range []string{p, bak} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, %v; want 0640 kept", path, fi.Mode().Perm(), err)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symbolic link", link)
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want site.conf, its .bak and the link", names)
	}

	// A file that changed since it was read is not replaced.
	if _, err := replaceFile(p, old, []byte("x")); !errors.Is(err, ErrChanged) {
		t.Errorf("changed file: %v, want ErrChanged", err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(next) {
		t.Errorf("the changed file was touched: %q", got)
	}

	if err := restoreFile(link, old); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(old) {
		t.Errorf("restored %q, want %q", got, old)
	}
}

func TestOptionsUsage(t *testing.T) {
	good := Options{Config: "c", Upstream: "app", PID: 1, Blue: blueAddr, Green: greenAddr, Start: "run {addr}"}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		has  string
	}{
		{"no config", func(o *Options) { o.Config = "" }, "--config"},
		{"no upstream", func(o *Options) { o.Upstream = "" }, "--upstream"},
		{"no green", func(o *Options) { o.Green = "" }, "--green"},
		{"no start", func(o *Options) { o.Start = "" }, "--start"},
		{"start without {addr}", func(o *Options) { o.Start = "run" }, "{addr}"},
		{"no server", func(o *Options) { o.PID = 0 }, "--pid-file"},
		{"two servers", func(o *Options) { o.PIDFile = "p" }, "--pid-file"},
		{"two ways to stop", func(o *Options) { o.StopOld, o.OldPID = "x", 5 }, "--stop-old"},
		{"same colors", func(o *Options) { o.Green = "localhost:8081" }, "same address"},
		{"no port", func(o *Options) { o.Blue = "127.0.0.1" }, "--blue"},
		{"shell in address", func(o *Options) { o.Green = "a;rm:80" }, "--green"},
		{"bad health", func(o *Options) { o.Health = "health" }, "--health"},
		{"bad check url", func(o *Options) { o.CheckURL = "127.0.0.1:80/" }, "--check-url"},
	} {
		o := good
		tc.edit(&o)
		_, err := Run(t.Context(), o)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.has) {
			t.Errorf("%s: %v, want ErrUsage naming %s", tc.name, err, tc.has)
		}
	}
}
