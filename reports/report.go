package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	page := htmlPage{Run: run, Meta: metadata(run), Header: tableHeader}
	names, groups := scenarios(run.Steps)
	for _, name := range names {
		t := htmlTable{Scenario: name}
		for _, s := range groups[name] {
			t.Rows = append(t.Rows, row(s))
		}
		page.Tables = append(page.Tables, t)
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
	return [][2]string{
		{"run", orDash(run.ID)},
		{"commit", orDash(run.Commit)},
		{"go", orDash(run.GoVersion)},
		{"kernel", orDash(run.Kernel)},
		{"cpu", orDash(run.CPU)},
	}
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
	Header []string
	Tables []htmlTable
	Plots  []htmlPlot
}

type htmlTable struct {
	Scenario string
	Rows     [][]string
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
<h2>{{.Scenario}}</h2>
<table>
<tr>{{range $.Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
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
		{"tables.txt", func(w io.Writer) error { return WriteTable(w, run.Steps, Text) }},
		{"report.md", func(w io.Writer) error { return WriteMarkdown(w, run, plots) }},
		{"report.html", func(w io.Writer) error { return WriteHTML(w, run, plots) }},
	}
	for _, f := range files {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("reports: %w", err)
		}
	}
	return nil
}
