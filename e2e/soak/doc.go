// Package soak holds wardsync's fault soak and its hostile-input tests.
//
// TestSoak runs the real binaries as separate processes: two instances of
// wardsync-server on one PostgreSQL database and several wardsync-station
// workstations, each reaching each server through its own in-process
// toxiproxy proxy. Every workstation drives random but legal workflow
// sequences for the roles it serves, aiming at the same appointments and
// prescriptions as the others, while faults strike at random: links down
// for seconds, latency with jitter, bandwidth limits, connections reset in
// the middle of a frame, kill -9 of a server or of a workstation (restarted
// after a while) and, in the long form, restarts of a PostgreSQL cluster
// the test owns. Then everything heals, the system settles, and the test
// checks exactly-once delivery against the audit log, empty outboxes,
// replicas equal to PostgreSQL on the columns their roles may see, no state
// the workflow forbids, and every device pulled up to the feed's head.
//
//	go test ./e2e/soak                         3 short seeds (make test)
//	go test ./e2e/soak -run TestSoak -args -seed N   replay one seed (also WARDSYNC_SOAK_SEED)
//	WARDSYNC_SOAK_SEEDS=100 go test -timeout 0 -run TestSoak ./e2e/soak   the long form (make soak)
//
// hostile_test.go sends what a broken or hostile client might through
// /sync and the auth API and checks that each is refused with its
// documented error, writes nothing, and leaves the server serving others.
package soak
