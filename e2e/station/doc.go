// Package station holds the end-to-end tests of the workstation engine
// (package desktop and its headless CLI wardsync-station) against the real
// sync server (server/http over server/postgres) and a real PostgreSQL on
// loopback, with real SQLite replicas in temporary folders.
//
// desktop may not import server (the workstation knows the server only
// through the wire: internal/archtest), so these tests live here. They
// cover outages (a workstation cut off: its toxiproxy link is stopped),
// crashes (the CLI SIGKILLed while acting and pushing), conflicts between
// two offline nurses, the rebase of queued acts on pull, offline login and
// the initial sync of a large database. The workstation's benchmarks (local
// acts, dashboards, initial sync, drain) live in bench/ (`make bench`,
// docs/bench.md), which shares this package's hospital loader and ward
// scripts (bench/fixture).
//
// Environment:
//
//	WARDSYNC_LONG=1                  bigger variants: 2,000 offline acts, 300 kills,
//	                                 initial sync of 100,000 appointments (20,000 otherwise)
//	WARDSYNC_CRASH_SEED=S            replays TestCrash's random kill points
//	WARDSYNC_TEST_LOG=1              the server's and the engines' logs on stderr
//
// Server and workstations run in the test process (the CLI in child
// processes for TestCrash).
package station
