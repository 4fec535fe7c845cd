// Package archtest checks the import rules of wardsync with `go list -deps`,
// in the manner of tailscale's tstest/deptest: a table says, for each group
// of packages, which imports are banned and why. Every package of the
// module must be covered by a layer of that table, so a new package fails
// the test until someone writes down where it stands
// (docs/architecture.md, "Packages").
package archtest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// thirdParty, in a ban, stands for any import outside the standard library
// and outside this module.
const thirdParty = "third-party"

// rule bans imports for a group of packages.
type rule struct {
	// pkgs are the packages the rule covers: an import path, or a prefix
	// ending in "/..." that also covers the prefix itself.
	pkgs []string
	// notPkgs are taken out of pkgs.
	notPkgs []string
	// ban lists what the packages must not depend on, directly or through
	// another package: import path patterns, or thirdParty.
	ban []string
	// except are taken out of ban (a package's own subtree always is).
	except []string
	// direct restricts the ban to the packages' own imports: what they
	// reach through an allowed package does not count.
	direct bool
	why    string
}

// layers place every package of the module. Each package must match at
// least one layer; every layer it matches applies.
var layers = []rule{
	{
		pkgs: []string{"wardsync/workflow/..."},
		ban:  []string{"wardsync/...", thirdParty},
		why: "the clinical rules run unchanged on the workstation, on the server and in the generated UI tables; " +
			"they do no I/O, no SQL and read no clock, so they import nothing that could bring one",
	},
	{
		pkgs: []string{"wardsync/version"},
		ban:  []string{"wardsync/...", thirdParty},
		why:  "every layer may ask which release it was built from, so version itself may ask nobody (or it would cycle)",
	},
	{
		pkgs: []string{"wardsync/process"},
		ban:  []string{"wardsync/...", thirdParty},
		why:  "every binary runs its main through it, so it may ask nobody: a main that imports it gains no layer",
	},
	{
		pkgs:   []string{"wardsync/syncproto/..."},
		ban:    []string{"wardsync/...", thirdParty},
		except: []string{"wardsync/workflow/..."},
		why: "the wire contract both ends compile against: it names the acts (workflow) and nothing else, " +
			"so neither side's internals or libraries leak into the other's release",
	},
	{
		pkgs:   []string{"wardsync/pipeline"},
		ban:    []string{"wardsync/...", thirdParty},
		except: []string{"wardsync/workflow/...", "wardsync/syncproto/..."},
		why: "the act pipeline runs one act's steps against its Store interface; server/postgres and desktop/sqlite " +
			"implement Store and import the pipeline, never the reverse, so both sides run one order of steps",
	},
	{
		pkgs: []string{"wardsync/pipeline/pipelinetest"},
		ban:  []string{"wardsync/server/...", "wardsync/desktop/..."},
		why: "the conformance suite is handed a Store by each adapter's tests; importing an adapter would " +
			"make it test one store instead of all of them",
	},
	{
		pkgs: []string{"wardsync/migrations/..."},
		ban:  []string{"wardsync/...", "github.com/jackc/pgx/...", "modernc.org/sqlite/..."},
		why: "the schemas are data that each binary embeds and runs with goose on a *sql.DB it opened; " +
			"the binary, not the migrations, chooses the driver",
	},
	{
		pkgs: []string{"wardsync/frontend"},
		ban:  []string{"wardsync/...", thirdParty},
		why:  "the embedded UI build is a file system and nothing more; the server and the desktop app serve it",
	},
	{
		pkgs: []string{"wardsync/server/..."},
		ban:  []string{"wardsync/desktop/...", "modernc.org/sqlite/...", "github.com/wailsapp/..."},
		why: "the server and the workstation meet only on the wire (syncproto) and in the rules (workflow); " +
			"a server that imported the engine would carry SQLite, key slots and Wails into every instance",
	},
	{
		pkgs: []string{"wardsync/desktop/..."},
		ban:  []string{"wardsync/server/...", "github.com/jackc/pgx/..."},
		why: "the workstation reaches the server only through desktop/remote and syncproto, " +
			"never its code or its PostgreSQL: what it knows comes from the wire",
	},
	{
		pkgs:    []string{"wardsync/desktop/..."},
		notPkgs: []string{"wardsync/desktop/app"},
		ban:     []string{"github.com/wailsapp/..."},
		why: "Wails' runtime aborts the process outside a Wails context and its build needs webkit; " +
			"only desktop/app and main.go may import it, so the engine runs headless in tests and in wardsync-station",
	},
	{
		pkgs: []string{"wardsync"},
		ban:  []string{"wardsync/server/...", "github.com/jackc/pgx/..."},
		why:  "the desktop binary (Wails builds the root package) is the workstation: it must not carry the server",
	},
	{
		pkgs: []string{"wardsync/packaging/..."},
		ban:  []string{"wardsync/server/...", "wardsync/desktop/...", "wardsync/migrations/...", thirdParty},
		why: "it makes icons and Windows resources at build time, before any binary exists, " +
			"with the standard library only so that it runs on any build machine",
	},
	{
		pkgs: []string{"wardsync/internal/pgtest"},
		ban:  []string{"wardsync/server/...", "wardsync/desktop/..."},
		why:  "it hands tests a fresh migrated database and knows nothing of what they test, so every package's tests can use it",
	},
	{
		pkgs: []string{"wardsync/internal/wardtest"},
		why: "the one test kit starts the real server, devices and websockets: it may import anything of ours " +
			"(the rule below keeps production code from importing it)",
	},
	{
		pkgs:   []string{"wardsync/internal/genrules"},
		ban:    []string{"wardsync/...", thirdParty},
		except: []string{"wardsync/workflow"},
		why: "it turns workflow's rule table into the frontend's rule file at `go generate` time: reading anything " +
			"but workflow would let the UI's rules say something the workflow does not",
	},
	{
		pkgs: []string{"wardsync/internal/kitcount"},
		ban:  []string{"wardsync/...", thirdParty},
		why:  "it counts the test kit's lines by reading source files as text and syntax; importing what it counts would make it part of the figure",
	},
	{
		pkgs: []string{"wardsync/internal/archtest"},
		ban:  []string{"wardsync/...", thirdParty},
		why:  "it reads the import graph from `go list` and must not be part of the graph it judges",
	},
	{
		pkgs: []string{"wardsync/bench/..."},
		ban:  []string{"github.com/wailsapp/..."},
		why: "the benchmarks measure the real binaries and the adapters and may import any of them; " +
			"Wails would tie `make bench` to a display and webkit",
	},
	{
		pkgs: []string{"wardsync/e2e/..."},
		why: "end-to-end tests drive the real binaries, adapters, browser and window, so they may import anything; " +
			"they hold only tests, which no other package can import",
	},
}

// everywhere are the rules that cut across layers. They do not place a
// package: a package they alone cover still fails as uncovered.
var everywhere = []rule{
	{
		pkgs: []string{"wardsync/..."},
		// The test kits read and seed databases to check what the adapters
		// did; production code cannot import them (the rule below).
		notPkgs: []string{"wardsync/server/postgres/...", "wardsync/desktop/sqlite/...", "wardsync/migrations/...",
			"wardsync/internal/pgtest", "wardsync/internal/wardtest"},
		ban:    []string{"database/sql/...", "github.com/jackc/pgx/...", "modernc.org/sqlite/..."},
		direct: true,
		why: "SQL lives in the two adapters (server/postgres, desktop/sqlite) and the migrations only; " +
			"anywhere else a query would bypass the one transaction that applies an act and records its outcome",
	},
	{
		pkgs:    []string{"wardsync/..."},
		notPkgs: []string{"wardsync/internal/...", "wardsync/e2e/...", "wardsync/bench/..."},
		ban:     []string{"wardsync/internal/...", "wardsync/e2e/...", "wardsync/bench/..."},
		why: "test kits, end-to-end tests and benchmarks start servers, seed databases and read clocks for tests; " +
			"production code that imported them would ship them",
	},
}

// builds are the configurations the graph is read in: the Linux server and
// workstation, and the Windows desktop build (its own files and Wails).
var builds = []struct {
	name string
	env  []string
	tags string
}{
	{"linux", []string{"GOOS=linux", "GOARCH=amd64"}, ""},
	{"windows desktop", []string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0"}, "desktop,production"},
}

type pkg struct {
	ImportPath string
	Standard   bool
	Module     *struct{ Path string }
	Deps       []string
	Imports    []string
}

func listPackages(t *testing.T, env []string, tags string) (ours []string, all map[string]pkg) {
	t.Helper()
	args := []string{"list", "-deps", "-json"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./...")...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	all = map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		all[p.ImportPath] = p
		if p.Module != nil && p.Module.Path == "wardsync" {
			ours = append(ours, p.ImportPath)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	sort.Strings(ours)
	return ours, all
}

// match reports whether path is pattern, or lies under it when pattern
// ends in "/...".
func match(path, pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

func matchAny(path string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(path, p) })
}

func (r rule) covers(path string) bool { return matchAny(path, r.pkgs) && !matchAny(path, r.notPkgs) }

// banned reports whether r forbids package owner from depending on dep.
func (r rule) banned(owner string, dep pkg) bool {
	d := dep.ImportPath
	if match(d, owner+"/...") || matchAny(d, r.except) {
		return false
	}
	for _, b := range r.ban {
		if b == thirdParty {
			if !dep.Standard && !match(d, "wardsync/...") {
				return true
			}
			continue
		}
		if matchAny(d, []string{b}) {
			return true
		}
	}
	return false
}

// check applies rules to every package of ours and returns one line per
// broken ban, and the packages no layer covers.
func check(rules []rule, ours []string, all map[string]pkg) (broken []string) {
	for _, path := range ours {
		p := all[path]
		for _, r := range rules {
			if !r.covers(path) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				if dp, ok := all[d]; ok && r.banned(path, dp) {
					broken = append(broken, path+" depends on "+d+": "+r.why)
				}
			}
		}
	}
	return broken
}

func TestImportRules(t *testing.T) {
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			ours, all := listPackages(t, b.env, b.tags)
			for _, want := range []string{"wardsync/workflow", "wardsync/server/http", "wardsync/desktop/app", "wardsync"} {
				if !slices.Contains(ours, want) {
					t.Fatalf("go list did not report %s: the graph read is not the module's", want)
				}
			}
			for _, path := range ours {
				if !slices.ContainsFunc(layers, func(r rule) bool { return r.covers(path) }) {
					t.Errorf("%s matches no layer of the import rules: add a rule for it (what it may not import, and why)", path)
				}
			}
			for _, line := range check(append(slices.Clone(layers), everywhere...), ours, all) {
				t.Error(line)
			}
		})
	}
}

// The checker must be able to fail: a graph that breaks each kind of rule
// is reported, with the rule's reason.
func TestImportRulesCatchBreaks(t *testing.T) {
	all := map[string]pkg{
		"fmt":                          {ImportPath: "fmt", Standard: true},
		"database/sql":                 {ImportPath: "database/sql", Standard: true},
		"github.com/google/uuid":       {ImportPath: "github.com/google/uuid"},
		"wardsync/workflow":            {ImportPath: "wardsync/workflow", Deps: []string{"fmt", "github.com/google/uuid"}},
		"wardsync/syncproto":           {ImportPath: "wardsync/syncproto", Deps: []string{"wardsync/workflow", "wardsync/version"}},
		"wardsync/server/http":         {ImportPath: "wardsync/server/http", Deps: []string{"wardsync/desktop/sqlite"}, Imports: []string{"database/sql"}},
		"wardsync/desktop/sqlite":      {ImportPath: "wardsync/desktop/sqlite", Imports: []string{"database/sql"}, Deps: []string{"database/sql"}},
		"wardsync/desktop":             {ImportPath: "wardsync/desktop", Deps: []string{"wardsync/desktop/sqlite", "database/sql", "wardsync/internal/wardtest"}},
		"wardsync/internal/wardtest":   {ImportPath: "wardsync/internal/wardtest", Deps: []string{"wardsync/server/http"}},
		"wardsync/version":             {ImportPath: "wardsync/version"},
		"wardsync/brand/new":           {ImportPath: "wardsync/brand/new"},
		"wardsync/desktop/app":         {ImportPath: "wardsync/desktop/app"},
		"wardsync/server/cmd/whatever": {ImportPath: "wardsync/server/cmd/whatever"},
	}
	var ours []string
	for p := range all {
		if match(p, "wardsync/...") {
			ours = append(ours, p)
		}
	}
	sort.Strings(ours)
	got := strings.Join(check(append(slices.Clone(layers), everywhere...), ours, all), "\n")
	for _, want := range []string{
		"wardsync/workflow depends on github.com/google/uuid: the clinical rules",
		"wardsync/syncproto depends on wardsync/version: the wire contract",
		"wardsync/server/http depends on wardsync/desktop/sqlite: the server and the workstation meet only",
		"wardsync/server/http depends on database/sql: SQL lives in the two adapters",
		"wardsync/desktop depends on wardsync/internal/wardtest: test kits",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no report %q; reports:\n%s", want, got)
		}
	}
	// Reached through the adapter, the driver is not a direct import.
	if strings.Contains(got, "wardsync/desktop depends on database/sql") {
		t.Errorf("desktop reaches database/sql only through desktop/sqlite, yet it was reported:\n%s", got)
	}
	if slices.ContainsFunc(layers, func(r rule) bool { return r.covers("wardsync/brand/new") }) {
		t.Error("a package no rule names is covered by a layer: it would pass without a rule of its own")
	}
}
