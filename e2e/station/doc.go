// Package station holds the end-to-end tests of the workstation engine
// (package desktop and its headless CLI wardsync-station) against the real
// sync server (server/http over server/postgres) and a real PostgreSQL on
// loopback, with real SQLite replicas in temporary folders.
//
// desktop may not import server (DESIGN §2), so these tests live here. They
// cover outages (a workstation cut off by a TCP proxy with a kill switch),
// crashes (the CLI SIGKILLed while acting and pushing), conflicts between
// two offline nurses, the rebase of queued acts on pull, offline login and
// the initial sync of a large database. The benchmarks measure local acts,
// dashboards on a busy replica, initial sync time and memory, and the drain
// of a long queue:
//
//	go test -run '^$' -bench . ./e2e/station
//
// Bigger variants run with WARDSYNC_LONG=1 (see the tests' comments).
package station
