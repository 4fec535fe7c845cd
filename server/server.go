// Package server owns the central side of wardsync: the sync server that
// authenticates workstations, applies their acts through the workflow in
// one PostgreSQL transaction, serves the change feed and pokes devices, and
// hosts the admin API, dashboard and monitoring. Its adapters are named for
// their technology: server/postgres holds every SQL statement, server/http
// the HTTP and websocket edge; server/cmd/wardsync-server is a thin main.
package server
