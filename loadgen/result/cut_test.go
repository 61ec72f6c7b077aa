package result

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestTornVegeta checks that vegeta results whose last record is torn
// (a generator killed between two flushes) read as the whole records
// before it, marked cut short.
func TestTornVegeta(t *testing.T) {
	encoders := []struct {
		name string
		enc  func(*bytes.Buffer) vegeta.Encoder
	}{
		{"gob", func(b *bytes.Buffer) vegeta.Encoder { return vegeta.NewEncoder(b) }},
		{"json", func(b *bytes.Buffer) vegeta.Encoder { return vegeta.NewJSONEncoder(b) }},
		{"csv", func(b *bytes.Buffer) vegeta.Encoder { return vegeta.NewCSVEncoder(b) }},
	}
	for _, tc := range encoders {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			enc := tc.enc(&b)
			var ends []int
			for i := range 5 {
				r := vegeta.Result{Seq: uint64(i), Code: 200, Method: "GET", URL: "http://h/", Timestamp: time.Unix(100+int64(i), 0), Latency: time.Millisecond, Error: ""}
				if err := enc.Encode(&r); err != nil {
					t.Fatal(err)
				}
				ends = append(ends, b.Len())
			}
			whole := b.Bytes()[:ends[3]]
			torn := b.Bytes()[:ends[3]+(ends[4]-ends[3])/2]
			s, err := FromVegeta(bytes.NewReader(whole))
			if err != nil || s.Requests != 4 || s.Interrupted {
				t.Fatalf("4 whole records: %d requests, interrupted %v, %v; want 4, not interrupted", s.Requests, s.Interrupted, err)
			}
			s, err = FromVegeta(bytes.NewReader(torn))
			if err != nil {
				t.Fatalf("4 whole records and a torn one: %v", err)
			}
			if s.Requests != 4 || !s.Interrupted || s.Valid || !strings.Contains(s.InvalidReason, "torn") {
				t.Errorf("4 whole records and a torn one: %d requests, interrupted %v, valid %v, %q; want 4, interrupted, invalid, torn", s.Requests, s.Interrupted, s.Valid, s.InvalidReason)
			}
		})
	}
}

// TestReadInProgress checks what ReadFile makes of the files a killed
// run leaves: an in-progress summary (closed model), or one beside
// vegeta results (open model).
func TestReadInProgress(t *testing.T) {
	dir := t.TempDir()
	marker := &Summary{Model: ModelClosed, URL: "http://h/", Method: "GET", Requests: 42, DurationS: 1.5,
		InProgress: true, Interrupted: true, StatusCodes: map[string]int64{}, Errors: map[string]int64{}}
	closed := filepath.Join(dir, "closed.bin")
	if err := WriteFile(closed, marker); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.bin")
	var b bytes.Buffer
	enc := vegeta.NewEncoder(&b)
	for i := range 3 {
		enc.Encode(&vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: time.Unix(100+int64(i), 0), Latency: time.Millisecond})
	}
	if err := os.WriteFile(open, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	om := *marker
	om.Model, om.Requests = ModelOpen, 0
	if err := WriteFile(SidecarPath(open), &om); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.bin")
	os.WriteFile(empty, nil, 0o644)
	if err := WriteFile(SidecarPath(empty), &om); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path     string
		requests int64
		reason   string
	}{
		{closed, 42, "killed after 42 requests"},
		{open, 3, "3 results rebuilt"},
		{empty, 0, "before any result"},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			s, err := ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if s.Requests != tc.requests || !s.Interrupted || s.Valid || !strings.Contains(s.InvalidReason, tc.reason) {
				t.Errorf("%d requests, interrupted %v, valid %v, %q; want %d, interrupted, invalid, %q", s.Requests, s.Interrupted, s.Valid, s.InvalidReason, tc.requests, tc.reason)
			}
		})
	}
}
