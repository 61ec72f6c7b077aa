package scenarios

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites the package's golden files under testdata/:
// go test ./scenarios -run 'Golden|Reference' -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the golden file at path, or rewrites it with
// -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./scenarios -run 'Golden|Reference' -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./scenarios -run 'Golden|Reference' -update accepts it; review the diff):\n%s", path, got)
	}
}
