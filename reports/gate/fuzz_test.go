package gate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c10k/c10k/loadgen/result"
)

// FuzzLoad feeds the inputs of c10k compare arbitrary bytes, as a bench
// run's summary.json (run) or as an attack result file. Load must fail
// with ErrInput or give a Set that compares with itself without a
// regression and renders in every format.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"id":"x","commit":"abc","steps":[{"scenario":"s","core":"event","throughput":5,"latency":{"p99":2},"valid":true,"label":"c=1"},{"scenario":"s","core":"event","throughput":6,"latency":{"p99":3},"valid":true,"label":"c=1","trial":1},{"scenario":"s","core":"nginx","skipped":true,"note":"absent"}]}`), true)
	f.Add([]byte(`{"id":"x","steps":[{"scenario":"s","core":"c","throughput":0,"errors":3,"valid":false,"invalid":"generator bound"}],"interrupted":true}`), true)
	f.Add([]byte(`{"model":"open","requests":3}`), true)
	var b bytes.Buffer
	if err := result.Write(&b, &result.Summary{Model: result.ModelOpen, URL: "http://127.0.0.1:8080/", Requests: 10, SuccessRatio: 1, ThroughputRPS: 100, RateTarget: 100, Valid: true}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes(), false)
	f.Add([]byte("1700000000000000000,200,1000,0,0,,\n"), false)
	f.Add([]byte("c10k-result v1\n{"), false)
	dir := f.TempDir()
	runDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		f.Fatal(err)
	}
	resultFile := filepath.Join(dir, "attack.bin")
	f.Fuzz(func(t *testing.T, data []byte, run bool) {
		path := resultFile
		if run {
			path = runDir
			if err := os.WriteFile(filepath.Join(runDir, "summary.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(resultFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("Load error %v does not wrap ErrInput", err)
			}
			return
		}
		res := Compare(s, s, DefaultOptions())
		if res.Verdict == Regression {
			t.Fatalf("a set compared with itself regresses: %s", res.Reason)
		}
		for _, format := range []Format{Text, Markdown, JSON, Benchstat, JUnit} {
			var out bytes.Buffer
			if err := res.Write(&out, format); err != nil {
				t.Fatalf("Write %s: %v", format, err)
			}
			if format == JSON && !strings.HasPrefix(strings.TrimSpace(out.String()), "{") {
				t.Fatalf("JSON output %q", out.String())
			}
		}
	})
}
