package soak

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// The binaries under test, built once by TestMain into binDir (removed
// when the tests end).
var stationBin, serverBin, binDir string

var seedFlag = flag.Uint64("seed", 0, "replay one soak seed (also WARDSYNC_SOAK_SEED); 0 draws new ones")

func TestMain(m *testing.M) {
	flag.Parse()
	// toxiproxy's toxics log through zerolog's global logger.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	os.Exit(wardtest.BuildAndRun(m, &binDir, map[string]*string{
		"desktop/cmd/wardsync-station": &stationBin, "server/cmd/wardsync-server": &serverBin}))
}

// longSeeds is how many seeds the long form runs (WARDSYNC_SOAK_SEEDS);
// 0 means the short form.
func longSeeds(tb testing.TB) int {
	v := os.Getenv("WARDSYNC_SOAK_SEEDS")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("WARDSYNC_SOAK_SEEDS=%q is not a count", v)
	}
	return n
}

// replaySeed is the seed asked for by -seed or WARDSYNC_SOAK_SEED (0: none).
func replaySeed(tb testing.TB) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if v := os.Getenv("WARDSYNC_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("WARDSYNC_SOAK_SEED=%q is not a seed", v)
		}
		return n
	}
	return 0
}

func roleList(rs []workflow.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, "+")
}
