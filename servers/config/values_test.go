package config

import (
	"reflect"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"1k", 1 << 10, true},
		{"8K", 8 << 10, true},
		{"1m", 1 << 20, true},
		{"10M", 10 << 20, true},
		{"2g", 2 << 30, true},
		{"1G", 1 << 30, true},
		{"", 0, false},
		{"k", 0, false},
		{"1t", 0, false},
		{"-1", 0, false},
		{"1.5m", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999999g", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"75", 75 * time.Second, true},
		{"75s", 75 * time.Second, true},
		{"500ms", 500 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{"1m 30s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"2d", 48 * time.Hour, true},
		{"1w", 7 * 24 * time.Hour, true},
		{"1M", 30 * 24 * time.Hour, true},
		{"1y", 365 * 24 * time.Hour, true},
		{"1s500ms", 1500 * time.Millisecond, true},
		{"1m30", 90 * time.Second, true},
		{"", 0, false},
		{"abc", 0, false},
		{"s", 0, false},
		{"30s1m", 0, false},
		{"1m1m", 0, false},
		{"5x", 0, false},
		{"-5s", 0, false},
		{"99999999999s", 0, false},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseTime(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSplitTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want []TemplatePart
		err  string
	}{
		{"", nil, ""},
		{"plain", []TemplatePart{{Lit: "plain"}}, ""},
		{"$host", []TemplatePart{{Var: "host"}}, ""},
		{"$Host:$remote_addr", []TemplatePart{{Var: "host"}, {Lit: ":"}, {Var: "remote_addr"}}, ""},
		{"${scheme}x", []TemplatePart{{Var: "scheme"}, {Lit: "x"}}, ""},
		{"/a/$1b", []TemplatePart{{Lit: "/a/"}, {Var: "1"}, {Lit: "b"}}, ""},
		{"$http_user_agent-", []TemplatePart{{Var: "http_user_agent"}, {Lit: "-"}}, ""},
		{"a$", nil, "invalid variable name"},
		{"$-", nil, "invalid variable name"},
		{"${}", nil, "invalid variable name"},
		{"${x", nil, `the closing bracket in "x" variable is missing`},
	}
	for _, tt := range tests {
		got, err := splitTemplate(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("splitTemplate(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.Raw != tt.in || !reflect.DeepEqual(got.Parts, tt.want) {
			t.Errorf("splitTemplate(%q) = %+v, %v; want parts %+v", tt.in, got, err, tt.want)
		}
	}
	if s, _ := splitTemplate("a$b"); s.IsStatic() {
		t.Error(`"a$b" is static`)
	}
	if s, _ := splitTemplate("ab"); !s.IsStatic() {
		t.Error(`"ab" is not static`)
	}
}

func TestKnownVariable(t *testing.T) {
	for _, v := range []string{"host", "request_uri", "proxy_add_x_forwarded_for", "http_x_forwarded_proto",
		"arg_id", "cookie_session", "sent_http_content_type", "upstream_http_server", "upstream_response_time",
		"https", "document_root", "realpath_root"} {
		if !KnownVariable(v) {
			t.Errorf("KnownVariable(%q) = false", v)
		}
	}
	for _, v := range []string{"", "foo", "http_", "arg_", "Host", "1", "root"} {
		if KnownVariable(v) {
			t.Errorf("KnownVariable(%q) = true", v)
		}
	}
}

func TestStrings(t *testing.T) {
	if got := (NextError | NextTimeout | NextHTTP429).String(); got != "error timeout http_429" {
		t.Errorf("NextUpstream.String = %q", got)
	}
	if got := NextOff.String(); got != "off" {
		t.Errorf("NextOff.String = %q", got)
	}
	if got := MatchRegexFold.String(); got != "~*" {
		t.Errorf("MatchRegexFold.String = %q", got)
	}
	if got := BalanceHash.String(); got != "hash" {
		t.Errorf("BalanceHash.String = %q", got)
	}
	if got := NameSuffix.String(); got != "suffix" {
		t.Errorf("NameSuffix.String = %q", got)
	}
	if got := (Pos{"a.conf", 12}).String(); got != "a.conf:12" {
		t.Errorf("Pos.String = %q", got)
	}
}
