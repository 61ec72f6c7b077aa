package runner

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/reports"
)

// TestCutShort checks how a bench directory is judged: finished,
// interrupted (the runner marked it), or killed (no end time in
// meta.json), with the planned steps that are missing.
func TestCutShort(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := MetaOpts{Scenarios: []string{"static-1k", "c10k-idle"}, Targets: []Target{{Name: "thread"}, {Name: "event"}}}
	steps := []reports.Step{{Scenario: "static-1k", Core: "thread"}, {Scenario: "static-1k", Core: "event"}}
	cases := []struct {
		name    string
		meta    *Meta
		run     reports.Run
		cut     bool
		why     string
		missing []string
	}{
		{"finished", &Meta{Options: opts, Started: started, Ended: started.Add(time.Minute)}, reports.Run{Steps: steps}, false, "", nil},
		{"interrupted", &Meta{Options: opts, Started: started, Ended: started.Add(time.Minute), Interrupted: true}, reports.Run{Steps: steps, Interrupted: true},
			true, "interrupted", []string{"c10k-idle on event", "c10k-idle on thread"}},
		{"killed", &Meta{Options: opts, Started: started}, reports.Run{Steps: steps[:1]},
			true, "killed", []string{"c10k-idle on event", "c10k-idle on thread", "static-1k on event"}},
		{"no-meta", nil, reports.Run{Steps: steps, Interrupted: true}, true, "interrupted", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.meta != nil {
				if err := writeJSON(filepath.Join(dir, "meta.json"), tc.meta); err != nil {
					t.Fatal(err)
				}
			}
			cut, why, missing := CutShort(dir, tc.run)
			if cut != tc.cut || !strings.HasPrefix(why, tc.why) || !reflect.DeepEqual(missing, tc.missing) {
				t.Errorf("CutShort = %v, %q, %q; want %v, %q..., %q", cut, why, missing, tc.cut, tc.why, tc.missing)
			}
		})
	}
}
