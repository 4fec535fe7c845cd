// Package dist checks the release artefacts `make dist` wrote (make
// test-dist sets WARDSYNC_DIST_DIR; without it every test skips, saying
// so):
//
//   - the Windows build of wardsync-station runs under Wine against the
//     real server on loopback: it claims its registration, logs in, syncs
//     the ward's records, queues acts with the server out of reach and
//     drains them; PostgreSQL then holds them (modernc's SQLite, Windows
//     paths and websockets on Windows);
//   - the MSI, read with msiinfo: product version, the silent-install
//     properties, the files, the Start menu entries;
//   - both .deb files, read with dpkg-deb; the server's is unpacked into a
//     scratch root, and its binary states its version and migrates a fresh
//     database of the test cluster; its systemd unit passes
//     systemd-analyze verify where systemd-analyze exists;
//   - SHA256SUMS matches the files.
//
// Wine needs a prefix (WINEPREFIX, a temporary folder here, created on
// first use: wineboot takes a few seconds), WINEDEBUG=-all to keep its
// noise out, and, on Wine 8, the stand-in bcryptprimitives.dll of
// testdata/ (compiled with mingw-w64). Set WARDSYNC_TEST_LOG=1 for the
// server's log.
package dist
