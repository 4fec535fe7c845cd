package dist

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"
)

// distDir is where make dist wrote the artefacts ("" outside make test-dist).
var distDir = os.Getenv("WARDSYNC_DIST_DIR")

// release is what the artefacts were built as: the version (1.3.0,
// 0.0.0-224-g09b8a27), its dpkg spelling and the MSI's numeric one.
type release struct{ version, deb, msi string }

// needDist skips outside make test-dist and returns the release, read from
// the station's file name (scripts/dist.sh names it).
func needDist(t *testing.T) release {
	t.Helper()
	if distDir == "" {
		t.Skip("WARDSYNC_DIST_DIR is not set: these tests check make dist's artefacts (run make test-dist)")
	}
	st := artefact(t, "wardsync-station-*-linux-amd64")
	v := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(st), "wardsync-station-"), "-linux-amd64")
	m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g)?`).FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("station file %s: version %q is not MAJOR.MINOR.PATCH…", st, v)
	}
	since := m[4]
	if since == "" {
		since = "0"
	}
	deb := strings.Replace(v, "-", "+", 1)
	deb = strings.ReplaceAll(deb, "-", ".")
	return release{version: v, deb: deb, msi: m[1] + "." + m[2] + "." + m[3] + "." + since}
}

// artefact is the one file of dist/ matching pattern.
func artefact(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(distDir, pattern))
	if err != nil || len(m) != 1 {
		t.Fatalf("dist/%s: want exactly one file, found %v (%v)", pattern, m, err)
	}
	return m[0]
}

// run runs a command and returns its combined output, failing the test
// when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// need skips when a tool is missing (make deps installs them all).
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps installs it): %v", tool, err)
		}
	}
}

func mustContain(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func fileContains(t *testing.T, path string, want []byte) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, want)
}
