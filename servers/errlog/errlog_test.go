package errlog

import (
	"bytes"
	"errors"
	"regexp"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLogf(t *testing.T) {
	tests := []struct {
		name  string
		level string
		conn  uint64
		want  string
	}{
		{"with connection", "error", 5, `^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#\d+: \*5 boom 7\n$`},
		{"without connection", "crit", 0, `^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[crit\] \d+#\d+: boom 7\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			New(&b).Logf(tt.level, tt.conn, "boom %d", 7)
			if !regexp.MustCompile(tt.want).Match(b.Bytes()) {
				t.Errorf("line %q does not match %s", b.String(), tt.want)
			}
		})
	}
	var nilLog *Log
	nilLog.Logf("error", 1, "discarded") // must not panic
	if New(nil).Enabled() || nilLog.Enabled() {
		t.Error("a log without a writer is enabled")
	}
	if Func(nil) != nil {
		t.Error("Func(nil) != nil")
	}
}

func TestErrnoText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{unix.ECONNREFUSED, "(111: Connection refused)"},
		{errors.New("other"), "(other)"},
	}
	for _, tt := range tests {
		if got := ErrnoText(tt.err); got != tt.want {
			t.Errorf("ErrnoText(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
