package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/c10k/c10k/reports"
)

// CutShort reports whether the bench run in dir, whose summary.json
// holds run, was cut short, and how: interrupted (a signal; the runner
// marked it), or killed (meta.json has no end time: the runner never
// finished, and summary.json holds the steps written before). missing
// lists the scenario/target pairs of the plan in meta.json without a
// finished step. A directory without meta.json is judged by run alone.
func CutShort(dir string, run reports.Run) (cut bool, why string, missing []string) {
	var m Meta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil || json.Unmarshal(b, &m) != nil {
		if run.Interrupted {
			return true, "interrupted", nil
		}
		return false, "", nil
	}
	switch {
	case m.Ended.IsZero():
		cut, why = true, fmt.Sprintf("killed, or still running: meta.json has no end time (started %s)", m.Started.Format("2006-01-02 15:04:05Z"))
	case m.Interrupted || run.Interrupted:
		cut, why = true, "interrupted"
	default:
		return false, "", nil
	}
	done := map[[2]string]bool{}
	for _, s := range run.Steps {
		done[[2]string{s.Scenario, s.Core}] = true
	}
	for _, sc := range m.Options.Scenarios {
		for _, t := range m.Options.Targets {
			if !done[[2]string{sc, t.Name}] {
				missing = append(missing, sc+" on "+t.Name)
			}
		}
	}
	slices.Sort(missing)
	return cut, why, missing
}
