package workflow

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateVisibilityDoc = flag.Bool("update-visibility-doc", false, "rewrite the matrix in docs/visibility.md from the code")

const visibilityDocPath = "../docs/visibility.md"

// visibilityTable renders the need-to-know matrix one column per row, the
// way docs/visibility.md shows it.
func visibilityTable() string {
	var b strings.Builder
	b.WriteString("| column | ADMIN | SECRETARY | NURSE | DOCTOR | BIOLOGIST |\n|---|---|---|---|---|---|\n")
	order := []Role{RoleAdmin, RoleSecretary, RoleNurse, RoleDoctor, RoleBiologist}
	for _, t := range Tables {
		for _, c := range Columns(t) {
			b.WriteString("| `" + t + "." + c + "` |")
			for _, r := range order {
				if CanRead([]Role{r}, t, c) {
					b.WriteString(" x |")
				} else {
					b.WriteString(" . |")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

const (
	matrixBegin = "<!-- matrix:begin -->\n"
	matrixEnd   = "<!-- matrix:end -->"
)

// docs/visibility.md must say what the code does: its matrix is compared
// cell by cell with CanRead.
func TestVisibilityDocMatchesCode(t *testing.T) {
	b, err := os.ReadFile(visibilityDocPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, matrixBegin), strings.Index(doc, matrixEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", visibilityDocPath, strings.TrimSpace(matrixBegin), matrixEnd)
	}
	want := visibilityTable()
	if *updateVisibilityDoc {
		doc = doc[:i+len(matrixBegin)] + want + doc[j:]
		if err := os.WriteFile(visibilityDocPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := doc[i+len(matrixBegin) : j]; got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for k := 0; k < len(gl) && k < len(wl); k++ {
			if gl[k] != wl[k] {
				t.Fatalf("docs/visibility.md says %q but the code says %q (run go test ./workflow -run VisibilityDoc -update-visibility-doc after checking the change is meant)", gl[k], wl[k])
			}
		}
		t.Fatalf("docs/visibility.md's matrix has %d lines, the code's %d", len(gl), len(wl))
	}
}
