package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"testing"

	"github.com/c10k/c10k/servers/config"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, every
// error must be an *Error wrapping ErrSyntax or ErrInvalid, and every
// scenario it accepts must write back as JSON that parses to the same
// scenario and yield nginx.conf text that c10k's loader accepts. The
// committed corpus (testdata/fuzz/FuzzParse) holds every embedded
// scenario and broken variants; the embedded files are added here too.
func FuzzParse(f *testing.F) {
	entries, err := fs.ReadDir(embedded, ".")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := embedded.ReadFile(e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"name": "x", "steps": [{"path": "/", "connections": 1, "rate": 2}]}`))
	f.Add([]byte(`{"name": "x", "warmup": "-1s"}`))
	f.Add([]byte(`{"name": "x",`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz", data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v wraps neither ErrSyntax nor ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		b1, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("fuzz", b1)
		if err != nil {
			t.Fatalf("accepted scenario does not parse back: %v\n%s", err, b1)
		}
		if b2, _ := json.Marshal(back); !bytes.Equal(b1, b2) {
			t.Fatalf("round trip differs:\n%s\n%s", b1, b2)
		}
		e := Env{
			Listen:     netip.MustParseAddrPort("127.0.0.1:8080"),
			Root:       "/srv/root",
			Dir:        "/srv/run",
			CGIProgram: "/srv/run/hello.sh",
			Backends:   backendAddrs(s, 9001),
		}
		goldenTLS(&e)
		for _, color := range []string{"blue", "green"} {
			e.Color = color
			text, err := NginxConf(s, e, ForC10k)
			if err != nil {
				// The green upstream may be empty; nothing else fails.
				if color == "green" && errors.Is(err, ErrEnv) {
					continue
				}
				t.Fatalf("NginxConf(%s): %v", color, err)
			}
			if _, err := config.Parse("fuzz.conf", []byte(text)); err != nil {
				t.Fatalf("c10k refuses the config of an accepted scenario: %v\n%s", err, text)
			}
			if _, err := NginxConf(s, e, ForNginx); err != nil {
				t.Fatalf("NginxConf(ForNginx, %s): %v", color, err)
			}
		}
	})
}
