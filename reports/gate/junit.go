package gate

import (
	"encoding/xml"
	"fmt"
	"io"
)

type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Time     string      `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Time      string    `xml:"time,attr"`
		Failure   *junitMsg `xml:"failure,omitempty"`
		Error     *junitMsg `xml:"error,omitempty"`
		Skipped   *junitMsg `xml:"skipped,omitempty"`
		SystemOut string    `xml:"system-out,omitempty"`
	}
	junitMsg struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
)

// WriteJUnit writes r as JUnit XML: one testsuite per scenario and one
// testcase per key and metric ("core/step metric"). A regression is a
// failure; noise, too noisy, invalid and missing rows are skipped. A last
// suite, "c10k compare", lists the keys found on one side only (skipped)
// and, when the comparison is undecided, a "verdict" case with an error
// holding the reason.
func (r *Result) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "c10k compare"}
	names, groups := r.scenarioRows()
	for _, name := range names {
		s := junitSuite{Name: name, Time: "0"}
		for _, row := range groups[name] {
			c := junitCase{
				Name:      row.Key.Core + "/" + row.Key.Step + " " + string(row.Metric),
				Classname: "c10k.compare." + name,
				Time:      "0",
			}
			switch row.Verdict {
			case Regression:
				c.Failure = &junitMsg{Message: string(row.Metric) + " " + row.Reason, Type: "regression", Text: row.detail()}
				s.Failures++
			case Noise, Noisy, Invalid, Missing:
				c.Skipped = &junitMsg{Message: string(row.Verdict) + ": " + row.Reason}
				c.SystemOut = row.detail()
				s.Skipped++
			default:
				c.SystemOut = row.detail()
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		out.Suites = append(out.Suites, s)
	}
	extra := junitSuite{Name: "c10k compare", Time: "0"}
	for _, l := range []struct {
		side  string
		items []string
	}{{"BASE", r.OnlyBase}, {"NEW", r.OnlyNew}} {
		for _, k := range l.items {
			extra.Cases = append(extra.Cases, junitCase{Name: k, Classname: "c10k.compare", Time: "0",
				Skipped: &junitMsg{Message: "only in " + l.side + ": not judged"}})
			extra.Tests++
			extra.Skipped++
		}
	}
	if r.Verdict == Undecided {
		extra.Cases = append(extra.Cases, junitCase{Name: "verdict", Classname: "c10k.compare", Time: "0",
			Error: &junitMsg{Message: r.Reason, Type: "invalid"}})
		extra.Tests++
		extra.Errors++
	}
	if extra.Tests > 0 {
		out.Suites = append(out.Suites, extra)
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// detail is a row's figures in one line, for a test report.
func (row Row) detail() string {
	p := "no test"
	if row.Tested {
		p = "p=" + pval(row.P)
	}
	return fmt.Sprintf("base %s, new %s, change %s, %s, n=%d+%d, verdict %s",
		row.Metric.Format(row.Base.Median), row.Metric.Format(row.New.Median), signedPct(row.Change), p, row.Base.N, row.New.N, row.Verdict)
}
