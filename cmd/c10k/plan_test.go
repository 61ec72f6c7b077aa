package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"http://127.0.0.1:1/"}, "--slo"},
		{[]string{"--slo", "p99<50", "http://127.0.0.1:1/"}, "positive duration"},
		{[]string{"--slo", "p99<=50ms"}, "want a URL or --core"},
		{[]string{"--slo", "p99<=50ms", "--core", "event", "-c", "x.conf", "http://127.0.0.1:1/"}, "one of them"},
		{[]string{"--slo", "p99<=50ms", "--core", "event"}, "needs -c"},
		{[]string{"--slo", "p99<=50ms", "--headroom", "150%", "http://127.0.0.1:1/"}, "--headroom"},
		{[]string{"--slo", "p99<=50ms", "--step", "10ms", "http://127.0.0.1:1/"}, "--step"},
		{[]string{"--slo", "p99<=50ms", "--format", "xml", "http://127.0.0.1:1/"}, "--format"},
		{[]string{"--slo", "p99<=50ms", "--start", "10", "--max-rate", "5", "http://127.0.0.1:1/"}, "--start"},
		{[]string{"--slo", "p99<=50ms", "ftp://x/"}, "scheme"},
		{[]string{"--slo", "p99<=50ms", "--core", "apache", "-c", "x.conf"}, "--core"},
	} {
		var out, errb bytes.Buffer
		code := planCmd(context.Background(), tc.args, &out, &errb)
		if code != 2 && !(strings.Contains(tc.want, "--core") && code == 1) {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errb.String(), tc.want)
		}
	}
}

// TestPlanJSON runs a short plan against a local server: the JSON has
// the keys the issue names, and the sizing when asked.
func TestPlanJSON(t *testing.T) {
	url := serve(t)
	plot := filepath.Join(t.TempDir(), "plan")
	var out, errb bytes.Buffer
	code := planCmd(context.Background(), []string{"--slo", "p99<=2s,errors<=1%", "--start", "20", "--max-rate", "40",
		"--step", "1s", "--warmup", "0", "--confirm", "-1", "--target-rps", "100", "--format", "json", "--plot", plot, url}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"max_rate_rps", "slo", "steps", "sizing", "knee_rps", "confidence"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if got["max_rate_rps"].(float64) != 40 || got["stopped_by"] != "max" {
		t.Errorf("max rate %v stopped by %v, want 40 by max", got["max_rate_rps"], got["stopped_by"])
	}
	steps := got["steps"].([]any)
	for _, k := range []string{"rate", "p50_ms", "p99_ms", "error_ratio", "valid"} {
		if _, ok := steps[0].(map[string]any)[k]; !ok {
			t.Errorf("step lacks %q", k)
		}
	}
	if sz := got["sizing"].(map[string]any); sz["instances"].(float64) != 4 {
		t.Errorf("sizing %v: want 4 instances for 100 req/s at 40 x 0.7", sz)
	}
	for _, ext := range []string{".png", ".svg"} {
		if _, err := os.Stat(plot + ext); err != nil {
			t.Error(err)
		}
	}
}
