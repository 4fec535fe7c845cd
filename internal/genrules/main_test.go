package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// committed is the generated file, from this package's directory.
var committed = filepath.Join("..", "..", "frontend", "src", "desktop", "rules.json")

// TestGeneratedRulesAreCurrent regenerates the frontend's rules into a
// temporary directory, as the go:generate line does, and compares
// them with the committed file: a rule changed in workflow without
// `go generate ./workflow` fails here.
func TestGeneratedRulesAreCurrent(t *testing.T) {
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rules.json")
	if err := generate(out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `go generate ./workflow` and commit the result", committed)
	}
}
