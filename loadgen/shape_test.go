package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestParseShape(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: String() of the result, "" for an error
	}{
		{"constant", "constant"},
		{"", "constant"},
		{"poisson", "poisson"},
		{"ramp:100-5000", "ramp:100-5000"},
		{"ramp:5000-0", "ramp:5000-0"},
		{"steps:1000,2000,4000@10s", "steps:1000,2000,4000@10s"},
		{"sine:2000,1000,30s", "sine:2000,1000,30s"},
		{"ramp:0-0", ""},
		{"ramp:100", ""},
		{"ramp:-1-5", ""},
		{"steps:1,2", ""},
		{"steps:1,x@1s", ""},
		{"steps:1@0s", ""},
		{"sine:100,200,1s", ""},
		{"sine:100,50", ""},
		{"sine:100,50,-1s", ""},
		{"poisson:5", ""},
		{"square", ""},
		{"ramp:NaN-5", ""},
		{"ramp:1e99-5", ""},
	} {
		got, err := ParseShape(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseShape(%q) = %v, want an error", tc.in, got)
		case tc.want != "" && err != nil:
			t.Errorf("ParseShape(%q): %v", tc.in, err)
		case tc.want != "" && got.String() != tc.want:
			t.Errorf("ParseShape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// count returns how many offsets of s fall before d.
func count(s Schedule, d time.Duration) int64 {
	var n int64
	for s.Offset(n) < d && n < 1e7 {
		n++
	}
	return n
}

func TestSchedules(t *testing.T) {
	sec := time.Second
	for _, tc := range []struct {
		name  string
		s     Schedule
		d     time.Duration
		want  float64 // requests before d
		slack float64
	}{
		{"constant", Constant(1000), sec, 1000, 0},
		{"constant fractional", Constant(2.5), 4 * sec, 10, 0},
		{"ramp up", Ramp{From: 0, To: 1000, Over: 10 * sec}, 10 * sec, 5000, 1},
		{"ramp down", Ramp{From: 1000, To: 0, Over: 10 * sec}, 10 * sec, 5000, 1},
		{"ramp half way", Ramp{From: 100, To: 300, Over: 10 * sec}, 5 * sec, 100*5 + 0.5*20*25, 1},
		{"sine full period", Sine{Mean: 1000, Amp: 500, Period: 2 * sec}, 2 * sec, 2000, 1},
		{"sine half period", Sine{Mean: 1000, Amp: 500, Period: 2 * sec}, sec, 1000 + 500*2/math.Pi, 1},
		{"poisson", NewPoisson(1000, 7), 10 * sec, 10000, 400}, // 4 standard deviations
	} {
		got := float64(count(tc.s, tc.d))
		if math.Abs(got-tc.want) > tc.slack {
			t.Errorf("%s: %v requests before %v, want %v ± %v", tc.name, got, tc.d, tc.want, tc.slack)
		}
		// Offsets never decrease.
		var prev time.Duration
		for n := int64(0); n < int64(got); n++ {
			o := tc.s.Offset(n)
			if o < prev {
				t.Fatalf("%s: Offset(%d) = %v < Offset(%d) = %v", tc.name, n, o, n-1, prev)
			}
			prev = o
		}
	}
}

func TestShapeSteps(t *testing.T) {
	sh, _ := ParseShape("steps:100,200@2s")
	st, err := sh.Steps(0, 0, 0.5, 1)
	if err != nil || len(st) != 2 || st[0].Duration != 2*time.Second || st[1].Schedule.Rate(0) != 100 {
		t.Fatalf("steps = %+v, %v; want two 2s steps, the second at 200*0.5", st, err)
	}
	if _, err := (Shape{Kind: ShapeRamp, From: 1, To: 2}).Steps(0, 0, 1, 1); err == nil {
		t.Error("a ramp without a duration: want an error")
	}
	if _, err := (Shape{}).Steps(0, time.Second, 1, 1); err == nil {
		t.Error("a constant shape without a rate: want an error")
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		bad  bool
	}{
		{"", Shard{0, 1}, false},
		{"0/4", Shard{0, 4}, false},
		{"3/4", Shard{3, 4}, false},
		{"4/4", Shard{}, true},
		{"-1/4", Shard{}, true},
		{"1/0", Shard{}, true},
		{"1", Shard{}, true},
	} {
		got, err := ParseShard(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
	var sum int64
	for i := range 3 {
		sum += Shard{i, 3}.share(10)
	}
	if sum != 10 {
		t.Errorf("shares of 10 over 3 shards sum to %d", sum)
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		in, name, value string
		bad             bool
	}{
		{"X-A: b", "X-A", "b", false},
		{"x-a:b c ", "X-A", "b c", false},
		{"Host: example.com", "Host", "example.com", false},
		{"Authorization: Bearer a:b", "Authorization", "Bearer a:b", false},
		{"nocolon", "", "", true},
		{": v", "", "", true},
		{"bad name: v", "", "", true},
		{"X: a\r\nEvil: 1", "", "", true},
	} {
		n, v, err := ParseHeader(tc.in)
		if (err != nil) != tc.bad || n != tc.name || v != tc.value {
			t.Errorf("ParseHeader(%q) = %q, %q, %v", tc.in, n, v, err)
		}
	}
}

func FuzzParseShape(f *testing.F) {
	for _, s := range []string{"constant", "ramp:1-2", "steps:1,2@1s", "sine:2,1,1s", "poisson", "ramp:-", "steps:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShape(s)
		if err != nil {
			return
		}
		again, err := ParseShape(sh.String())
		if err != nil || again.String() != sh.String() {
			t.Fatalf("%q → %q does not round-trip: %v", s, sh, err)
		}
		steps, err := sh.Steps(100, time.Second, 1, 1)
		if err != nil {
			return
		}
		for _, st := range steps {
			var prev time.Duration
			for n := int64(0); n < 50; n++ {
				o := st.Schedule.Offset(n)
				if o < prev {
					t.Fatalf("%q: offsets decrease at %d", s, n)
				}
				prev = o
			}
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"X-A: b", "a:", ":", "a b: c", "X: \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, v, err := ParseHeader(s)
		if err != nil {
			return
		}
		w := Request{Header: map[string][]string{n: {v}}}.wire(Target{Addr: "h:1", Host: "h", Path: "/"}, true)
		if c := countCRLF(w); c < 4 {
			t.Fatalf("%q: request %q", s, w)
		}
		for i := 0; i < len(n); i++ {
			if !isToken(n[i]) {
				t.Fatalf("%q: name %q is no token", s, n)
			}
		}
	})
}

func countCRLF(b []byte) int {
	n := 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			n++
		}
	}
	return n
}

func FuzzParseSourceIPs(f *testing.F) {
	for _, s := range []string{"127.0.0.2-127.0.0.40", "127.0.0.2,127.0.0.9", "::1-::2", "1.2.3.4-1.2.3.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseSourceIPs(s)
		if err == nil && len(a) > maxSources {
			t.Fatalf("%q: %d addresses", s, len(a))
		}
	})
}
