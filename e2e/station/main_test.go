package station

import (
	"context"
	"os"
	"testing"

	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// stationBin is the wardsync-station CLI, built once by TestMain into
// workDir, a temporary folder removed when the tests end (benchmark
// fixtures live there too).
var stationBin, workDir string

func TestMain(m *testing.M) {
	os.Exit(wardtest.BuildAndRun(m, &workDir, map[string]*string{"desktop/cmd/wardsync-station": &stationBin}))
}

// long says whether the big variants run (WARDSYNC_LONG=1, not -short).
func long() bool { return os.Getenv("WARDSYNC_LONG") == "1" && !testing.Short() }

// env is a wardtest server on a database of the test's own (seeded or
// not); both go away when the test ends.
type env struct {
	*wardtest.Server
	tb testing.TB
}

func newEnv(tb testing.TB, seed bool) *env {
	tb.Helper()
	return &env{wardtest.StartServer(tb, wardtest.Options{NoSeed: !seed}), tb}
}

func (e *env) addDevice(id string, roles ...workflow.Role) {
	e.tb.Helper()
	if len(roles) == 0 {
		roles = workflow.Roles
	}
	if _, err := e.DB.AddDevice(context.Background(), id, "Workstation "+id, roles); err != nil {
		e.tb.Fatal(err)
	}
}
