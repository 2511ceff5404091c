package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBootstrapTokenFile: --bootstrap-token-file reads the token from the
// first line of a file, so the secret need not be on argv; it excludes
// --bootstrap-token, and an empty or missing file is an error.
func TestBootstrapTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "  hrld_secret \nignored\n")
	empty := write("empty", "\n")
	for _, c := range []struct {
		flag, file, want string
		fails            bool
	}{
		{"hrld_flag", "", "hrld_flag", false},
		{"", "", "", false},
		{"", good, "hrld_secret", false},
		{"hrld_flag", good, "", true},
		{"", empty, "", true},
		{"", filepath.Join(dir, "missing"), "", true},
	} {
		got, err := bootstrapToken(c.flag, c.file)
		if (err != nil) != c.fails || got != c.want {
			t.Errorf("bootstrapToken(%q, %q) = %q, %v; want %q (error: %v)", c.flag, c.file, got, err, c.want, c.fails)
		}
	}
}
