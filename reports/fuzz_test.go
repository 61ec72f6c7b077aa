package reports

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzReadRun feeds ReadRun arbitrary summary.json contents. An error
// must name the file; a run it accepts must pass Validate, render as
// tables, Markdown and HTML, and read back the same once written again.
func FuzzReadRun(f *testing.F) {
	for _, run := range []Run{referenceRun(), sampleRun()} {
		b, err := json.Marshal(run)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","steps":[{"scenario":"s","core":"event","throughput":5,"valid":true,"label":"c=1"}],"interrupted":true}`))
	dir := f.TempDir()
	path := filepath.Join(dir, SummaryFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		run, err := ReadRun(dir)
		if err != nil {
			if !strings.Contains(err.Error(), SummaryFile) {
				t.Fatalf("error %q does not name %s", err, SummaryFile)
			}
			return
		}
		if err := Validate(run.Steps); err != nil {
			t.Fatalf("ReadRun accepted a run Validate refuses: %v", err)
		}
		for _, format := range []Format{Text, Markdown} {
			if err := WriteTables(io.Discard, run, format); err != nil {
				t.Fatalf("WriteTables %v: %v", format, err)
			}
		}
		if err := WriteMarkdown(io.Discard, run, nil); err != nil {
			t.Fatalf("WriteMarkdown: %v", err)
		}
		if err := WriteHTML(io.Discard, run, nil); err != nil {
			t.Fatalf("WriteHTML: %v", err)
		}
		again, err := json.Marshal(run)
		if err != nil {
			t.Fatalf("a run ReadRun accepted does not marshal: %v", err)
		}
		if err := os.WriteFile(path, again, 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := ReadRun(dir)
		if err != nil {
			t.Fatalf("the run, written again, does not read: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, run) {
			t.Fatalf("the run changed when written and read again:\n got %+v\nwant %+v", back, run)
		}
	})
}
