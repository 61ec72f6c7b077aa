package reports

import (
	"cmp"
	"slices"
)

// Medians folds the repeated trials of each step (same scenario, core and
// label) into one: the trial with the median throughput stands for them
// all, in the position of the first trial. Steps run once pass unchanged.
func Medians(steps []Step) []Step {
	type key struct{ scenario, core, label string }
	keyOf := func(s Step) key { return key{s.Scenario, s.Core, baseName(s)} }
	groups := make(map[key][]Step)
	var order []key
	for _, s := range steps {
		k := keyOf(s)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := make([]Step, 0, len(order))
	for _, k := range order {
		g := groups[k]
		if len(g) == 1 {
			out = append(out, g[0])
			continue
		}
		sorted := slices.Clone(g)
		slices.SortStableFunc(sorted, func(a, b Step) int { return cmp.Compare(a.Throughput, b.Throughput) })
		m := sorted[(len(sorted)-1)/2]
		m.trials = len(g)
		out = append(out, m)
	}
	return out
}
