package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/c10k/c10k/internal/atomicfile"
)

// WriteMarkdown writes a Markdown report: run metadata, one table per
// scenario, then each plot. Plots are linked by base name, so the report
// belongs in the directory holding them.
func WriteMarkdown(w io.Writer, run Run, plots []string) error {
	if err := Validate(run.Steps); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# c10k bench %s\n\n", orDash(run.ID))
	for _, m := range metadata(run) {
		fmt.Fprintf(&b, "- %s: %s\n", m[0], m[1])
	}
	b.WriteString("\n")
	if err := WriteTable(&b, run.Steps, Markdown); err != nil {
		return err
	}
	if len(Pairings(run.Steps)) > 0 {
		b.WriteString("\n")
		if err := WriteComparison(&b, run.Steps, Markdown); err != nil {
			return err
		}
	}
	if HasTLS(run.Steps) {
		b.WriteString("\n")
		if err := WriteTLSTable(&b, run.Steps, Markdown); err != nil {
			return err
		}
	}
	if notes := Notes(run); len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			name := filepath.Base(p)
			fmt.Fprintf(&b, "![%s](%s)\n\n", plotTitle(name), name)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteHTML writes a self-contained HTML report: run metadata, one table per
// scenario and each PNG plot embedded as a base64 data URI. It reads the
// plots from disk and references nothing outside the page.
func WriteHTML(w io.Writer, run Run, plots []string) error {
	if err := Validate(run.Steps); err != nil {
		return err
	}
	page := htmlPage{Run: run, Meta: metadata(run), Notes: Notes(run)}
	names, groups := scenarios(Medians(run.Steps))
	for _, name := range names {
		t := htmlTable{Title: name, Header: tableHeader}
		for _, s := range groups[name] {
			t.Rows = append(t.Rows, row(s))
		}
		page.Tables = append(page.Tables, t)
	}
	if rows := comparisonRows(run.Steps); len(rows) > 0 {
		page.Tables = append(page.Tables, htmlTable{Title: comparisonTitle, Header: pairHeader, Rows: rows})
	}
	if rows := tlsRows(run.Steps); len(rows) > 0 {
		page.Tables = append(page.Tables, htmlTable{Title: tlsTitle, Header: tlsHeader, Rows: rows})
	}
	for _, p := range plots {
		if !strings.EqualFold(filepath.Ext(p), ".png") {
			return fmt.Errorf("reports: plot %s: want a .png file", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		page.Plots = append(page.Plots, htmlPlot{
			Title: plotTitle(filepath.Base(p)),
			// The prefix is fixed and the payload is base64, so the URL is safe.
			Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(data)),
		})
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("reports: html: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// metadata lists the run's description as name/value pairs.
func metadata(run Run) [][2]string {
	m := [][2]string{
		{"run", orDash(run.ID)},
		{"commit", orDash(run.Commit)},
		{"go", orDash(run.GoVersion)},
		{"kernel", orDash(run.Kernel)},
		{"cpu", orDash(run.CPU)},
	}
	if run.Interrupted {
		m = append(m, [2]string{"status", "interrupted: the run was cut short; the steps shown are those that finished"})
	}
	return m
}

// Notes returns the run's notes, then each run step's note as
// "scenario/core/step: note" (skipped steps say theirs in the table).
func Notes(run Run) []string {
	notes := append([]string(nil), run.Notes...)
	for _, s := range run.Steps {
		if s.Note != "" && !s.Skipped {
			notes = append(notes, fmt.Sprintf("%s/%s/%s: %s", s.Scenario, s.Core, stepName(s), s.Note))
		}
	}
	return notes
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plotTitle turns "static-1k-throughput.png" into "static-1k-throughput".
func plotTitle(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

type htmlPage struct {
	Run    Run
	Meta   [][2]string
	Tables []htmlTable
	Notes  []string
	Plots  []htmlPlot
}

type htmlTable struct {
	Title  string
	Header []string
	Rows   [][]string
}

type htmlPlot struct {
	Title string
	Src   template.URL
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>c10k bench {{.Run.ID}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; display: block; margin-bottom: 1.5em; }
</style>
</head>
<body>
<h1>c10k bench {{.Run.ID}}</h1>
<dl>
{{- range .Meta}}
<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>
{{- end}}
</dl>
{{- range .Tables}}
<h2>{{.Title}}</h2>
<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- if .Notes}}
<h2>Notes</h2>
<ul>
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Plots}}
<h2>Plots</h2>
{{- range .Plots}}
<figure><img alt="{{.Title}}" src="{{.Src}}"><figcaption>{{.Title}}</figcaption></figure>
{{- end}}
{{- end}}
</body>
</html>
`))

// WriteReport writes a complete report into dir: every supported plot (PNG
// and SVG), tables.txt, report.md and report.html.
func WriteReport(dir string, run Run) error {
	plots, err := WritePlots(dir, run)
	if err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"tables.txt", func(w io.Writer) error { return WriteTables(w, run, Text) }},
		{"report.md", func(w io.Writer) error { return WriteMarkdown(w, run, plots) }},
		{"report.html", func(w io.Writer) error { return WriteHTML(w, run, plots) }},
	}
	for _, f := range files {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("reports: %w", err)
		}
	}
	return nil
}

// WriteTables writes every table of run: one per scenario, then the
// model-vs-reality comparison when the run holds reference servers, and
// the TLS cost table when it measured loads both plain and over TLS.
func WriteTables(w io.Writer, run Run, format Format) error {
	if err := WriteTable(w, run.Steps, format); err != nil {
		return err
	}
	if len(Pairings(run.Steps)) > 0 {
		fmt.Fprintln(w)
		if err := WriteComparison(w, run.Steps, format); err != nil {
			return err
		}
	}
	if !HasTLS(run.Steps) {
		return nil
	}
	fmt.Fprintln(w)
	return WriteTLSTable(w, run.Steps, format)
}

// ReadRun reads the summary.json a bench run left in dir and checks it.
func ReadRun(dir string) (Run, error) {
	path := filepath.Join(dir, SummaryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Run{}, fmt.Errorf("reports: %w", err)
	}
	var run Run
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&run); err != nil {
		return Run{}, fmt.Errorf("reports: %s: %w: %w", path, ErrNotRun, err)
	}
	if err := Validate(run.Steps); err != nil {
		return Run{}, fmt.Errorf("reports: %s: %w", path, err)
	}
	return run, nil
}

// SummaryFile is the name of a run's data inside its directory.
const SummaryFile = "summary.json"
