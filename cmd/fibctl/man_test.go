package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestManPagesFresh regenerates the man pages and compares them with
// contrib/man: a command or flag changed without `fibctl __man contrib/man`
// fails here.
func TestManPagesFresh(t *testing.T) {
	t.Setenv("FIBD_SOCKET", "")
	t.Setenv("FIBD_ADDR", "")
	dir := t.TempDir()
	if err := writeMan(newRoot(&app{}), dir); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "contrib", "man")
	gen, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	have, _ := filepath.Glob(filepath.Join(committed, "fibctl*.1"))
	if len(gen) != len(have) {
		t.Errorf("%d man pages generated, %d committed: run go run ./cmd/fibctl __man contrib/man", len(gen), len(have))
	}
	for _, g := range gen {
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join(committed, filepath.Base(g)))
		if err != nil || string(got) != string(want) {
			t.Errorf("contrib/man/%s is stale: run go run ./cmd/fibctl __man contrib/man", filepath.Base(g))
		}
	}
}
