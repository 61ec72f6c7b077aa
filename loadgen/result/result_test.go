package result

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func sample(shard string, lat ...time.Duration) *Summary {
	s := &Summary{Model: ModelOpen, URL: "http://h/", Method: "GET", Shards: []string{shard},
		StatusCodes: map[string]int64{"200": int64(len(lat))}, Errors: map[string]int64{}, Valid: true,
		RateTarget: 100, RateAchieved: 100, DurationS: 1, Requests: int64(len(lat)), PerConn: []int64{int64(len(lat))}}
	s.Hist.Latency, s.Hist.Service = NewHistogram(), NewHistogram()
	for _, d := range lat {
		Record(s.Hist.Latency, d)
		Record(s.Hist.Service, d/2)
	}
	s.Finish()
	return s
}

func TestWriteRead(t *testing.T) {
	s := sample("0/2", time.Millisecond, 2*time.Millisecond, 3*time.Millisecond)
	var b bytes.Buffer
	if err := Write(&b, s); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 3 || got.Hist.Latency.TotalCount() != 3 || got.Hist.Service.Max() != s.Hist.Service.Max() || got.Hist.Lag != nil {
		t.Errorf("read back %+v", got)
	}
	// Every truncation is a clear error, never a panic.
	for n := 0; n < b.Len(); n += 7 {
		if len(bytes.TrimSpace(b.Bytes()[n:])) == 0 {
			continue // only the final newline is cut: the summary is whole
		}
		if _, err := Read(bytes.NewReader(b.Bytes()[:n])); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d bytes: %v, want ErrFormat", n, err)
		}
	}
}

func TestReadForeign(t *testing.T) {
	for _, in := range []string{"", "hello world\n", "c10k-result v9\n{}", "c10k-result v1\n{\"version\":2}", "c10k-result v1\n{\"version\":1,\"histograms\":{\"latency\":\"AAAA\"}}", "\x89PNG\r\n"} {
		if _, err := Read(strings.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("Read(%q) = %v, want ErrFormat", in, err)
		}
	}
}

func TestFromVegeta(t *testing.T) {
	var b bytes.Buffer
	enc := vegeta.NewEncoder(&b)
	t0 := time.Unix(1700000000, 0)
	for i := range 10 {
		r := vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: t0.Add(time.Duration(i) * 100 * time.Millisecond), Latency: time.Millisecond, URL: "http://h/", Method: "GET"}
		if i == 9 {
			r.Code, r.Error = 500, "500 Internal Server Error"
		}
		enc.Encode(&r)
	}
	s, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 10 || s.StatusCodes["500"] != 1 || s.Errors["status"] != 1 || s.SuccessRatio != 0.9 || s.Latency.P50 < 0.99 || s.Latency.P50 > 1.01 {
		t.Errorf("from vegeta: %+v", s)
	}
}

func TestMerge(t *testing.T) {
	a := sample("0/2", time.Millisecond, time.Millisecond)
	b := sample("1/2", 100*time.Millisecond, 100*time.Millisecond)
	b.Valid, b.InvalidReason = false, "generator could not keep the schedule"
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 4 || m.RateTarget != 200 || m.StatusCodes["200"] != 4 || len(m.Shards) != 2 {
		t.Errorf("merged counts %+v", m)
	}
	if m.Latency.P50 > 1.01 || m.Latency.Max < 99 || m.Service == nil || m.Service.Max < 49 {
		t.Errorf("merged latency %+v service %+v", m.Latency, m.Service)
	}
	if m.Valid || !strings.Contains(m.InvalidReason, "shard 1/2") {
		t.Errorf("valid %v %q: want invalid naming shard 1/2", m.Valid, m.InvalidReason)
	}
	if m.Fairness == nil || m.Fairness.Conns != 2 {
		t.Errorf("fairness %+v", m.Fairness)
	}
	if a.Requests != 2 || a.Hist.Latency.TotalCount() != 2 {
		t.Error("Merge changed its input")
	}
	if _, err := Merge(a, a); err != nil {
		t.Fatal(err)
	} else if m2, _ := Merge(a, a); m2.Valid {
		t.Error("the same shard twice: want invalid")
	}
	c := sample("x")
	c.Model = ModelClosed
	if _, err := Merge(a, c); err == nil {
		t.Error("open and closed runs merged without an error")
	}
	if _, err := Merge(); err == nil {
		t.Error("Merge() = nil error")
	}
}

// tlsSample is sample with TLS figures: n handshakes of d, r resumed.
func tlsSample(shard string, n, r int64, d time.Duration) *Summary {
	s := sample(shard, time.Millisecond)
	s.TLS = &TLSStats{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Handshakes: n, Resumed: r, Other: 1}
	s.Hist.Handshake = NewHistogram()
	for range n {
		Record(s.Hist.Handshake, d)
	}
	s.Finish()
	return s
}

// TestTLSStats checks that the TLS figures survive a file and add up in
// a merge, and that a summary without them stays without.
func TestTLSStats(t *testing.T) {
	a, b := tlsSample("0/2", 10, 0, time.Millisecond), tlsSample("1/2", 30, 30, 3*time.Millisecond)
	if a.TLS.PerSecond != 10 || a.TLS.Latency.P50 < 0.99 || a.TLS.Latency.P50 > 1.01 {
		t.Errorf("finished TLS figures %+v", *a.TLS)
	}
	var buf bytes.Buffer
	if err := Write(&buf, b); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.TLS == nil || *back.TLS != *b.TLS || back.Hist.Handshake.TotalCount() != 30 {
		t.Errorf("read back TLS %+v, %d handshakes in the histogram; want %+v", back.TLS, back.Hist.Handshake.TotalCount(), *b.TLS)
	}
	m, err := Merge(a, back)
	if err != nil {
		t.Fatal(err)
	}
	if m.TLS.Handshakes != 40 || m.TLS.Resumed != 30 || m.TLS.Other != 2 || m.TLS.PerSecond != 40 || m.Hist.Handshake.TotalCount() != 40 || m.TLS.Version != "TLS 1.3" {
		t.Errorf("merged TLS %+v", *m.TLS)
	}
	var txt bytes.Buffer
	WriteText(&txt, m)
	if !strings.Contains(txt.String(), "40 done (40.0/s)") {
		t.Errorf("text lacks the handshakes:\n%s", txt.String())
	}
	if plain, _ := Merge(sample("0/1", time.Millisecond)); plain.TLS != nil || plain.Hist.Handshake != nil {
		t.Errorf("a plain run merged into TLS figures %+v", plain.TLS)
	}
}

func TestFairness(t *testing.T) {
	f := FairnessOf([]int64{100, 100, 100, 1})
	if f.Starved != 1 || f.Min != 1 || f.Max != 100 || f.Conns != 4 {
		t.Errorf("fairness %+v", f)
	}
	if FairnessOf(nil) != nil {
		t.Error("fairness of nothing is not nil")
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     Summary
		valid bool
	}{
		{"on schedule", Summary{Model: ModelOpen, RateTarget: 1000, RateAchieved: 995}, true},
		{"generator slow", Summary{Model: ModelOpen, RateTarget: 1000, RateAchieved: 900, Generator: Generator{LateFree: 10}}, false},
		{"cpu saturated", Summary{Model: ModelOpen, RateTarget: 1000, RateAchieved: 900, Generator: Generator{Saturated: true, LateBlocked: 10}}, false},
		{"server bound", Summary{Model: ModelOpen, RateTarget: 1000, RateAchieved: 900, Generator: Generator{LateFree: 1, LateBlocked: 10}}, true},
		{"closed", Summary{Model: ModelClosed}, true},
		{"interrupted", Summary{Model: ModelClosed, Interrupted: true}, false},
	} {
		tc.s.Judge()
		if tc.s.Valid != tc.valid || (!tc.valid && tc.s.InvalidReason == "") {
			t.Errorf("%s: valid %v %q, want %v", tc.name, tc.s.Valid, tc.s.InvalidReason, tc.valid)
		}
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	s := sample("0/1", time.Millisecond)
	if err := WriteText(&b, s); err != nil || !strings.Contains(b.String(), "valid") {
		t.Errorf("%q %v", b.String(), err)
	}
	b.Reset()
	if err := WriteHgrm(&b, s); err != nil || !strings.Contains(b.String(), "Percentile") {
		t.Errorf("%q %v", b.String(), err)
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, sample("0/1", time.Millisecond))
	f.Add(b.Bytes())
	b.Reset()
	Write(&b, timelined("0/1", 3, 2))
	f.Add(b.Bytes())
	b.Reset()
	Write(&b, tlsSample("0/1", 3, 1, time.Millisecond))
	f.Add(b.Bytes())
	var v bytes.Buffer
	vegeta.NewEncoder(&v).Encode(&vegeta.Result{Code: 200, Latency: time.Millisecond, Timestamp: time.Unix(1, 0)})
	f.Add(v.Bytes())
	f.Add([]byte("c10k-result v1\n{"))
	f.Add([]byte("1700000000000000000,200,1000,0,0,,\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Read(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		m, err := Merge(s, s)
		if err != nil && s.Model != "" {
			t.Fatalf("merge of a readable summary: %v", err)
		}
		if err == nil && len(m.Timeline) != min(len(s.Timeline), MaxTimelineBuckets) {
			t.Fatalf("merged timeline of %d buckets from %d", len(m.Timeline), len(s.Timeline))
		}
	})
}
