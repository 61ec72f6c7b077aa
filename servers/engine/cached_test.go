package engine

import (
	"strconv"
	"testing"
	"time"
)

// TestServeCached checks that ServeCached plans what Serve plans once the
// kernel caches the lookups, and gives up (false, for Serve off the
// loop) on a name the kernel has never looked up.
func TestServeCached(t *testing.T) {
	e, _ := staticEngine(t)
	tests := []struct {
		name, target string
		status       int
	}{
		{"file", "/a.txt", 200},
		{"index", "/", 200},
		{"dir index", "/dir/", 200},
		{"dir redirect", "/dir", 301},
		{"missing", "/nope.txt", 404},
		{"no index", "/empty/", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warm, p Plan
			e.Serve(request("GET", tt.target, "Host", "localhost"), Conn{}, &warm) // fills the dentry cache
			if warm.File != nil {
				warm.File.Close()
			}
			if !e.ServeCached(request("GET", tt.target, "Host", "localhost"), Conn{}, &p) {
				t.Fatalf("ServeCached(%s) = false after Serve looked it up", tt.target)
			}
			if p.File != nil {
				p.File.Close()
			}
			if p.Status != tt.status || p.Status != warm.Status {
				t.Errorf("ServeCached(%s): status %d, Serve %d, want %d", tt.target, p.Status, warm.Status, tt.status)
			}
		})
	}
	t.Run("never looked up", func(t *testing.T) {
		if noOpenat2.Load() {
			t.Skip("no openat2 RESOLVE_CACHED on this kernel")
		}
		var p Plan
		target := "/fresh-" + strconv.FormatInt(time.Now().UnixNano(), 10) + ".txt"
		if e.ServeCached(request("GET", target, "Host", "localhost"), Conn{}, &p) {
			t.Errorf("ServeCached(%s) = true for a name never looked up (status %d)", target, p.Status)
		}
		if p.File != nil || p.Status != 0 {
			t.Errorf("after false: File %v, Status %d; want an empty plan", p.File, p.Status)
		}
	})
}
