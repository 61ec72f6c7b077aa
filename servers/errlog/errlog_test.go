package errlog

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
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

func TestSetLevel(t *testing.T) {
	var b bytes.Buffer
	l := New(&b)
	l.SetLevel("warn")
	for _, lv := range []string{"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"} {
		l.Logf(lv, 0, "%s line", lv)
	}
	got := regexp.MustCompile(`\[(\w+)\]`).FindAllStringSubmatch(b.String(), -1)
	var names []string
	for _, m := range got {
		names = append(names, m[1])
	}
	if want := "warn error crit alert emerg"; joinWords(names) != want {
		t.Fatalf("written levels %q, want %q", names, want)
	}
	if Rank("bogus") != -1 || Rank("debug") != 0 || Rank("emerg") != 7 {
		t.Fatal("Rank")
	}
	var c bytes.Buffer
	FuncLevel(&c, "error")("info", "dropped")
	FuncLevel(&c, "error")("crit", "kept")
	if !bytes.Contains(c.Bytes(), []byte("kept")) || bytes.Contains(c.Bytes(), []byte("dropped")) {
		t.Fatalf("FuncLevel wrote %q", c.String())
	}
}

func joinWords(s []string) string {
	out := ""
	for i, w := range s {
		if i > 0 {
			out += " "
		}
		out += w
	}
	return out
}

func TestFilter(t *testing.T) {
	var buf bytes.Buffer
	f := NewFilter(&buf, "warn")
	l := New(f)
	l.Logf("notice", 0, "hidden")
	l.Logf("warn", 0, "shown warn")
	l.Logf("error", 3, "shown error")
	f.Write([]byte("no level at all\n"))
	got := buf.String()
	for _, want := range []string{"[warn] ", "shown warn", "[error] ", "*3 shown error", "no level at all"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hidden") {
		t.Errorf("a notice line passed a warn filter:\n%s", got)
	}

	f.SetLevel("notice")
	var next bytes.Buffer
	if old := f.SetOutput(&next); old != &buf {
		t.Errorf("SetOutput returned %v, want the first buffer", old)
	}
	l.Logf("notice", 0, "now shown")
	l.Logf("info", 0, "still hidden")
	if got := next.String(); !strings.Contains(got, "now shown") || strings.Contains(got, "still hidden") {
		t.Errorf("after SetLevel(notice) and SetOutput:\n%s", got)
	}

	var zero Filter
	if n, err := zero.Write([]byte("x\n")); n != 2 || err != nil {
		t.Errorf("zero Filter Write = %d, %v; want 2, nil", n, err)
	}
}
