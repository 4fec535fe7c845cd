# Release artefacts and their checks (docs/install.md):
#
#   make dist        dist/: the server and desktop .deb, the Windows MSI, the
#                    headless station for Linux and Windows, SHA256SUMS
#                    (scripts/dist.sh; VERSION and COMMIT from git describe)
#   make test-dist   make dist, then e2e/dist: the Windows station under wine
#                    against the server on loopback, the MSI read with msiinfo,
#                    both .deb files with dpkg-deb (the server's installed into
#                    a scratch root, its binary migrating the test cluster, its
#                    unit through systemd-analyze verify), and the Prometheus
#                    alert rules with promtool test rules
#
# wine64 runs the Windows build; Debian 12's Wine 8 lacks bcryptprimitives.dll,
# which Go's runtime needs, so the test compiles a stand-in with mingw-w64
# (e2e/dist/testdata/bcryptprimitives.c). wixl builds the MSI and msiinfo reads
# it (msitools). promtool comes with prometheus. systemd-analyze with systemd.

DIST_APT := wine64 msitools wixl prometheus dpkg-dev gcc-mingw-w64-x86-64-win32 systemd

DEPS_EXTRA += $(DIST_APT)
TEST_EXTRA += test-dist

.PHONY: dist test-dist test-alerts

dist: $(DESKTOP_UI) placeholder
	@GO=$(GO) bash scripts/dist.sh

test-alerts:
	promtool check rules deploy/prometheus/wardsync-alerts.yml
	promtool test rules deploy/prometheus/wardsync-alerts_test.yml

test-dist: dist test-alerts
	@export DATABASE_URL=$(dburl) WARDSYNC_DIST_DIR=$(CURDIR)/dist; \
	  $(GO) test -count=1 -timeout 10m -v ./e2e/dist | grep -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}
