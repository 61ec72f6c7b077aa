package cgiproto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/c10k/c10k/servers/http1"
)

// FuzzParseHead checks that any output parses without panic, that a
// parsed block ends at an empty line inside the input, and that no
// field a core would copy into a response head can split it.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte("Content-Type: text/plain\n\nhello"))
	f.Add([]byte("Status: 404 Not Found\r\nLocation: /x\r\n\r\n"))
	f.Add([]byte("Location: http://a/\n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		var h Head
		n, err := ParseHead(out, &h)
		if err != nil {
			if n != 0 {
				t.Fatalf("n = %d with error %v", n, err)
			}
			if errors.Is(err, ErrIncomplete) && bytes.Contains(out, []byte("\n\n")) && len(out) < MaxHead {
				t.Fatalf("ErrIncomplete for %q, which holds an empty line", out)
			}
			return
		}
		if n > len(out) || n < 2 || out[n-1] != '\n' {
			t.Fatalf("n = %d does not end the block of %q", n, out)
		}
		if h.Status < 100 || h.Status > 999 {
			t.Fatalf("status %d", h.Status)
		}
		for _, f := range h.Header {
			if !http1.ValidFieldName(f.Name) || !http1.ValidFieldValue(f.Value) {
				t.Fatalf("invalid field %q: %q", f.Name, f.Value)
			}
		}
		if !http1.ValidFieldValue(h.ContentType) || !http1.ValidFieldValue(h.Location) {
			t.Fatalf("invalid Content-Type %q or Location %q", h.ContentType, h.Location)
		}
		if h.Kind == LocalRedirect && (len(h.Location) == 0 || h.Location[0] != '/') {
			t.Fatalf("local redirect to %q", h.Location)
		}
	})
}
