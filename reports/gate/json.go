package gate

import (
	"encoding/json"
	"io"
)

// The JSON form of a Result. NaN and infinite figures are null.
type (
	jsonResult struct {
		Verdict  Verdict     `json:"verdict"` // pass, regression or invalid
		ExitCode int         `json:"exit_code"`
		Reason   string      `json:"reason"`
		Base     *jsonSet    `json:"base,omitempty"`
		New      *jsonSet    `json:"new,omitempty"`
		Options  jsonOptions `json:"options"`
		Rows     []jsonRow   `json:"rows"`
		OnlyBase []string    `json:"only_base,omitempty"`
		OnlyNew  []string    `json:"only_new,omitempty"`
		Notes    []string    `json:"notes,omitempty"`
	}
	jsonSet struct {
		Path        string `json:"path"`
		Kind        string `json:"kind"`
		Commit      string `json:"commit,omitempty"`
		CPU         string `json:"cpu,omitempty"`
		Interrupted bool   `json:"interrupted,omitempty"`
		Keys        int    `json:"keys"`
	}
	jsonOptions struct {
		Max         map[Metric]float64 `json:"max,omitempty"`     // in the metric's unit
		Regress     map[Metric]float64 `json:"regress,omitempty"` // signed fraction: +0.1, -0.05
		Alpha       float64            `json:"alpha"`
		MinTrials   int                `json:"min_trials"`
		NoiseFactor float64            `json:"noise_factor"`
		Filter      string             `json:"filter,omitempty"`
		Test        string             `json:"test"`
		Confidence  float64            `json:"confidence"`
	}
	jsonRow struct {
		Name string `json:"name"` // scenario/core/step
		Key
		Metric     Metric      `json:"metric"`
		Unit       string      `json:"unit"`
		Base       jsonSummary `json:"base"`
		New        jsonSummary `json:"new"`
		Change     *float64    `json:"change"` // (new - base) / base of the medians
		P          *float64    `json:"p"`      // one-sided, decides; null without a test
		P2         *float64    `json:"p_two_sided"`
		Tested     bool        `json:"tested"`
		Max        *float64    `json:"max,omitempty"`
		Regress    *float64    `json:"regress,omitempty"`
		Verdict    Verdict     `json:"verdict"`
		Reason     string      `json:"reason,omitempty"`
		Broken     string      `json:"broken,omitempty"`
		BaseSpread *float64    `json:"base_spread,omitempty"`
		Warnings   []string    `json:"warnings,omitempty"`
	}
	jsonSummary struct {
		N      int       `json:"n"`
		Median *float64  `json:"median"`
		Lo     *float64  `json:"ci_lo"`
		Hi     *float64  `json:"ci_hi"`
		Values []float64 `json:"values"`
	}
)

// WriteJSON writes r as one indented JSON object: the overall verdict,
// exit code and reason, the options, and per key and metric the medians,
// confidence intervals, trial values, change, p-values and verdict.
// Values are in the metric's Unit.
func (r *Result) WriteJSON(w io.Writer) error {
	o := r.Options
	out := jsonResult{
		Verdict: r.Verdict, ExitCode: r.Code(), Reason: r.Reason,
		Base: setJSON(r.Base), New: setJSON(r.New),
		Options: jsonOptions{
			Max: o.Max, Alpha: o.Alpha, MinTrials: o.MinTrials, NoiseFactor: o.NoiseFactor,
			Test: "Mann-Whitney U, one-sided (NEW worse than BASE)", Confidence: Confidence,
		},
		Rows:     []jsonRow{},
		OnlyBase: r.OnlyBase, OnlyNew: r.OnlyNew, Notes: r.Notes,
	}
	if o.Filter != nil {
		out.Options.Filter = o.Filter.String()
	}
	if len(o.Regress) > 0 {
		out.Options.Regress = map[Metric]float64{}
		for m, v := range o.Regress {
			out.Options.Regress[m] = signed(m, v)
		}
	}
	for _, row := range r.Rows {
		j := jsonRow{
			Name: row.Key.String(), Key: row.Key, Metric: row.Metric, Unit: row.Metric.Unit(),
			Base: summaryJSON(row.Base), New: summaryJSON(row.New),
			Change: finite(row.Change), P2: finite(row.P2), Tested: row.Tested,
			Verdict: row.Verdict, Reason: row.Reason, Broken: row.Broken, Warnings: row.P2Warnings,
		}
		if row.Tested {
			j.P = finite(row.P)
		}
		if row.HasMax {
			j.Max = finite(row.Max)
		}
		if row.HasRegress {
			j.Regress = finite(signed(row.Metric, row.Regress))
		}
		if row.Base.N >= 2 {
			j.BaseSpread = finite(row.Base.Spread())
		}
		out.Rows = append(out.Rows, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func signed(m Metric, v float64) float64 {
	if m.LowerIsWorse() {
		return -v
	}
	return v
}

func setJSON(s *Set) *jsonSet {
	if s == nil {
		return nil
	}
	return &jsonSet{Path: s.Path, Kind: s.Kind, Commit: s.Commit, CPU: s.CPU, Interrupted: s.Interrupted, Keys: len(s.Trials)}
}

func summaryJSON(s Summary) jsonSummary {
	v := s.Values
	if v == nil {
		v = []float64{}
	}
	return jsonSummary{N: s.N, Median: finite(s.Median), Lo: finite(s.Lo), Hi: finite(s.Hi), Values: v}
}
