package config

import (
	"os"
	"testing"
	"testing/fstest"
)

// FuzzParse checks that no input makes the parser panic or hang, and that
// every failure is a *Error naming a place. The fs holds only the file
// itself, so includes find nothing, or the file itself (a cycle).
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/full/nginx.conf", "testdata/minimal.conf", "mime.types"} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := LoadFS(fstest.MapFS{"f.conf": {Data: src}}, "f.conf")
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %T %v is not a *Error", err, err)
			}
			if e.Pos.File == "" || e.Pos.Line < 1 {
				t.Fatalf("error without a place: %v", err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without error")
		}
		if cfg.HTTP != nil {
			for _, s := range cfg.HTTP.Servers {
				if len(s.Listens) == 0 || len(s.Names) == 0 || s.Loc == nil || s.Loc.Types == nil {
					t.Fatalf("server at %v not completed", s.Pos)
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("testdata/full/nginx.conf")
	if err != nil {
		b.Fatal(err)
	}
	fsys := fstest.MapFS{
		"nginx.conf":           {Data: src},
		"conf.d/redirect.conf": {Data: []byte("server { listen 127.0.0.1:8000; server_name old.example.com; return 301 https://example.com$request_uri; }")},
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := LoadFS(fsys, "nginx.conf"); err != nil {
			b.Fatal(err)
		}
	}
}
