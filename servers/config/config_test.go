package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadGolden(t *testing.T) {
	tests := []struct {
		file, golden string
	}{
		{"full/nginx.conf", "full.golden"},
		{"minimal.conf", "minimal.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			abs, err := filepath.Abs(filepath.Join("testdata", filepath.Dir(tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Prefix != abs {
				t.Errorf("Prefix = %q, want %q", cfg.Prefix, abs)
			}
			cfg.Prefix = "PREFIX"
			golden(t, tt.golden, replacePrefix(dump(cfg), abs))
		})
	}
}

func replacePrefix(s, prefix string) string {
	return strings.ReplaceAll(s, prefix, "PREFIX")
}
