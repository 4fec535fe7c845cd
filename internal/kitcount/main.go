// Command kitcount measures the test kit: the lines of internal/wardtest
// and the lines of set-up its users still write themselves, so that "the
// kit plus its users' set-up" is a number anyone can reproduce
// (go run ./internal/kitcount, from the module's folder).
//
// Kit lines are every line of internal/wardtest's .go files.
//
// Set-up lines are counted in the _test.go files of the kit's users
// (server/http, e2e/admin, e2e/desktop, e2e/soak, e2e/station, bench). A
// top-level declaration there, with its doc comment, is set-up when it is
//
//   - TestMain;
//   - a function or method, other than a Test, Benchmark, Fuzz or
//     Example, whose body calls one of the set-up calls below: it starts a
//     server, a process or a cluster, opens a database, logs in, dials a
//     websocket, builds binaries, or reads and compares states;
//   - a type with a set-up method (an env or harness type), every method
//     of such a type, and a var or const of such a type.
//
// The set-up calls are named in setupCalls (any receiver or package) and
// qualifiedCalls (only with that package's name, where the bare name is
// common: Diff, Command). Helpers that only build acts or assert answers
// are not set-up: they are the tests' own words.
//
// A second figure says how much of the set-up is scenario bodies: plain
// functions (not TestMain, not methods) that exactly one Test or
// Benchmark calls and nothing else, such as the soak's run of one seed.
// They count as set-up by the rule, since they start what they test, but
// most of their lines are the scenario itself.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// setupCalls are calls that are set-up under any receiver or package.
var setupCalls = map[string]bool{
	// servers, clusters, databases
	"StartServer": true, "Again": true, "Restart": true, "NewMain": true, "NewServer": true,
	"NewDatabase": true, "MustOpenDB": true, "OpenPool": true, "StartCluster": true,
	// processes and binaries
	"StartProc": true, "CommandContext": true, "BuildBinaries": true, "BuildAndRun": true,
	"WaitReady": true,
	// logins
	"Login": true, "LoginAs": true, "TryLogin": true, "LoginBody": true, "RememberLogin": true,
	// websockets
	"Dial": true, "TryDial": true, "DialConn": true, "Connect": true, "DialContext": true,
	// state reading and comparison
	"PGState": true, "ReadPGState": true, "ReplicaState": true, "ReadReplicaState": true,
	// toxiproxy links
	"NewProxy": true,
}

// qualifiedCalls are set-up only when called through that package.
var qualifiedCalls = map[string]string{
	"Diff": "wardtest", "Command": "exec", "Open": "postgres",
}

// users are the folders whose _test.go files set up through the kit.
var users = []string{"server/http", "e2e/admin", "e2e/desktop", "e2e/soak", "e2e/station", "bench"}

func main() {
	root := flag.String("root", ".", "the module's folder")
	verbose := flag.Bool("v", false, "list every set-up declaration")
	flag.Parse()
	kit, err := kitLines(filepath.Join(*root, "internal/wardtest"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setup, scenarios, byDir := 0, 0, map[string]int{}
	for _, dir := range users {
		decls, err := setupDecls(filepath.Join(*root, dir))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, d := range decls {
			setup += d.lines
			byDir[dir] += d.lines
			mark := ""
			if d.scenario {
				scenarios += d.lines
				mark = " (scenario body)"
			}
			if *verbose {
				fmt.Printf("  %5d  %s:%d %s%s\n", d.lines, filepath.Join(dir, d.file), d.line, d.name, mark)
			}
		}
	}
	for _, dir := range users {
		fmt.Printf("set-up %-12s %5d\n", dir, byDir[dir])
	}
	fmt.Printf("set-up in scenario bodies %d\n", scenarios)
	fmt.Printf("kit %d + set-up %d = %d lines\n", kit, setup, kit+setup)
}

// kitLines counts the lines of the kit's .go files.
func kitLines(dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		n += strings.Count(string(b), "\n")
	}
	return n, nil
}

type decl struct {
	file, name  string
	line, lines int
	scenario    bool
}

// setupDecls are the set-up declarations of dir's _test.go files.
func setupDecls(dir string) ([]decl, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	type top struct {
		file string
		d    ast.Decl
	}
	var all []top
	setupTypes := map[string]bool{}
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			all = append(all, top{filepath.Base(f), d})
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && callsSetup(fd) {
				setupTypes[recvType(fd)] = true
			}
		}
	}
	callers := map[string][]string{} // function name → the declarations that name it
	for _, t := range all {
		fd, ok := t.d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				callers[id.Name] = append(callers[id.Name], fd.Name.Name)
			}
			return true
		})
	}
	var out []decl
	for _, t := range all {
		name, ok := isSetup(t.d, setupTypes)
		if !ok {
			continue
		}
		start, end := t.d.Pos(), t.d.End()
		switch d := t.d.(type) {
		case *ast.FuncDecl:
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
		case *ast.GenDecl:
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
		}
		l0, l1 := fset.Position(start).Line, fset.Position(end).Line
		out = append(out, decl{t.file, name, l0, l1 - l0 + 1, isScenario(t.d, callers)})
	}
	slices.SortFunc(out, func(a, b decl) int { return strings.Compare(a.file, b.file)*1e6 + a.line - b.line })
	return out, nil
}

// isSetup says whether d is set-up by the rule of the package comment,
// and names it.
func isSetup(d ast.Decl, setupTypes map[string]bool) (string, bool) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		name := d.Name.Name
		if d.Recv != nil {
			t := recvType(d)
			return t + "." + name, setupTypes[t]
		}
		if name == "TestMain" {
			return name, true
		}
		for _, p := range []string{"Test", "Benchmark", "Fuzz", "Example"} {
			if strings.HasPrefix(name, p) {
				return name, false
			}
		}
		return name, callsSetup(d)
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if setupTypes[s.Name.Name] {
					return "type " + s.Name.Name, true
				}
			case *ast.ValueSpec:
				if s.Type != nil && setupTypes[baseType(s.Type)] {
					return "var " + s.Names[0].Name, true
				}
			}
		}
	}
	return "", false
}

// isScenario says whether d is a plain function that exactly one Test or
// Benchmark names, and nothing else.
func isScenario(d ast.Decl, callers map[string][]string) bool {
	fd, ok := d.(*ast.FuncDecl)
	if !ok || fd.Recv != nil || fd.Name.Name == "TestMain" {
		return false
	}
	cs := slices.Compact(slices.Sorted(slices.Values(callers[fd.Name.Name])))
	return len(cs) == 1 && (strings.HasPrefix(cs[0], "Test") || strings.HasPrefix(cs[0], "Benchmark"))
}

// callsSetup says whether fd's body makes a set-up call.
func callsSetup(fd *ast.FuncDecl) bool {
	if fd.Body == nil {
		return false
	}
	found := false
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok || found {
			return !found
		}
		switch f := c.Fun.(type) {
		case *ast.Ident:
			found = setupCalls[f.Name]
		case *ast.SelectorExpr:
			if setupCalls[f.Sel.Name] {
				found = true
			} else if pkg, ok := qualifiedCalls[f.Sel.Name]; ok {
				x, isIdent := f.X.(*ast.Ident)
				found = isIdent && x.Name == pkg
			}
		}
		return !found
	})
	return found
}

func recvType(fd *ast.FuncDecl) string { return baseType(fd.Recv.List[0].Type) }

func baseType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
