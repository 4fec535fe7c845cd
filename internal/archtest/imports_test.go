// Package archtest checks the import rules of DESIGN §2 with `go list -deps`:
// what each package may import, and that only the adapters and migrations
// reach a database driver.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Standard   bool
	Deps       []string
	Imports    []string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// rule says which of our packages (and which third-party ones) a package
// may depend on, directly or not.
type rule struct {
	owner      string
	allowOurs  []string
	allowThird []string // module path prefixes; nil = any
}

var rules = []rule{
	{"wardsync/workflow", nil, []string{}},
	// What a binary was built from: every layer may ask, it asks nobody.
	{"wardsync/version", nil, []string{}},
	{"wardsync/syncproto", []string{"wardsync/workflow"}, []string{}},
	{"wardsync/migrations", nil, nil},
	{"wardsync/server", []string{"wardsync/workflow", "wardsync/syncproto", "wardsync/migrations", "wardsync/server", "wardsync/frontend", "wardsync/version"}, nil},
	{"wardsync/desktop", []string{"wardsync/workflow", "wardsync/syncproto", "wardsync/migrations", "wardsync/desktop", "wardsync/version"}, nil},
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if _, ok := pkgs["wardsync/workflow"]; !ok {
		t.Fatal("go list did not report wardsync/workflow")
	}
	for path, p := range pkgs {
		if !under(path, "wardsync") || under(path, "wardsync/internal") {
			continue
		}
		for _, r := range rules {
			if !under(path, r.owner) {
				continue
			}
			if r.owner == "wardsync/desktop" && under(path, "wardsync/desktop/app") {
				continue // the Wails adapter may also import wails
			}
			for _, d := range p.Deps {
				dp := pkgs[d]
				if dp.Standard {
					continue
				}
				if under(d, "wardsync") {
					ok := false
					for _, a := range r.allowOurs {
						ok = ok || under(d, a)
					}
					if !ok {
						t.Errorf("%s depends on %s, which DESIGN §2 forbids", path, d)
					}
					continue
				}
				if r.allowThird != nil {
					ok := false
					for _, a := range r.allowThird {
						ok = ok || under(d, a)
					}
					if !ok {
						t.Errorf("%s depends on third-party %s; it may use the standard library only", path, d)
					}
				}
			}
		}
	}
}

// SQL lives only in the adapters and migrations: nothing else may reach a
// database driver.
func TestOnlyAdaptersTalkSQL(t *testing.T) {
	pkgs := listPackages(t)
	drivers := []string{"database/sql", "github.com/jackc/pgx/v5", "modernc.org/sqlite"}
	allowed := []string{"wardsync/server/postgres", "wardsync/desktop/sqlite", "wardsync/migrations", "wardsync/internal/pgtest"}
	for path, p := range pkgs {
		if !under(path, "wardsync") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || under(path, a)
		}
		if ok {
			continue
		}
		for _, imp := range p.Imports {
			for _, d := range drivers {
				if under(imp, d) {
					t.Errorf("%s imports %s directly; SQL belongs in server/postgres, desktop/sqlite or migrations", path, imp)
				}
			}
		}
	}
}
