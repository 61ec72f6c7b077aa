package main

import (
	"strings"
	"testing"
)

const wrkOut = `Running 10s test @ http://127.0.0.1:18080/1k.txt
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  300.00us   9.00ms   90.00%
    Req/Sec    48.00k     1.00k   50.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    2.00ms
     90%    2.50ms
     99%    1.20s
  480000 requests in 10.00s, 560.00MB read
Requests/sec:  47999.50
Transfer/sec:     56.00MB
`

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		rps, p50, p99 float64
		requests      int64
		bad           bool
	}{
		{"full", wrkOut, 47999.5, 0.812, 1200, 480000, false},
		{"no latency", "Requests/sec: 1\n", 0, 0, 0, 0, true},
		{"bad unit", strings.Replace(wrkOut, "812.00us", "812.00xx", 1), 0, 0, 0, 0, true},
	} {
		r, err := parseWrk(strings.NewReader(tc.in))
		if (err != nil) != tc.bad {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.bad)
			continue
		}
		if !tc.bad && (r.RPS != tc.rps || r.P50 != tc.p50 || r.P99 != tc.p99 || r.Requests != tc.requests) {
			t.Errorf("%s: got %+v, want rps %v p50 %v p99 %v", tc.name, r, tc.rps, tc.p50, tc.p99)
		}
	}
}

func TestBuildRows(t *testing.T) {
	in := `{"server":"nginx","kind":"wrk","rps":1000,"p50_ms":1,"p99_ms":2}
{"server":"nginx","kind":"c10k","result":{"idle":{"asked":10,"held":10},"probe":{"sent":5,"errors":0,"p50_ms":1,"p99_ms":2},"rss_before_bytes":1024,"rss_held_bytes":11264,"rss_per_idle_conn_kb":1}}
{"server":"event","kind":"skipped","note":"not built yet"}
{"server":"thread","kind":"wrk","rps":500,"p50_ms":1,"p99_ms":2}
{"server":"nginx +ofc","kind":"wrk","baseline":"nginx +ofc","rps":2000,"p50_ms":1,"p99_ms":2}
{"server":"event +ofc","kind":"wrk","baseline":"nginx +ofc","rps":2400,"cpu_us_per_req":8.25,"p50_ms":1,"p99_ms":2}
{"server":"thread +ofc","kind":"wrk","baseline":"nginx +ofc","rps":3000,"p50_ms":1,"p99_ms":2}
`
	rows, notes, err := buildRows(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[3][4] != "1.00x (vs nginx +ofc)" || rows[4][4] != "1.20x (vs nginx +ofc)" || rows[5][4] != "1.50x (vs nginx +ofc)" {
		t.Errorf("rows with a baseline = %q", rows[3:])
	}
	if rows[4][5] != "8.2 µs" && rows[4][5] != "8.3 µs" || rows[3][5] != "-" {
		t.Errorf("CPU per request: %q, %q", rows[4][5], rows[3][5])
	}
	if rows[0][4] != "1.00x" || rows[2][4] != "0.50x" || rows[0][6] != "10 / 10" || rows[0][7] != "1.00" || rows[1][1] != "skipped" {
		t.Errorf("rows = %q", rows)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "event: not built yet") {
		t.Errorf("notes = %q", notes)
	}
}
