# The desktop app (Wails v2): the window around frontend/index.html and the
# workstation engine. Built with plain `go build` (no Wails CLI):
#
#   make desktop        frontend build + build/wardsync-desktop (production window)
#   make shot           the production window under Xvfb: build/screenshots/window-*.png
#   make test-desktop   the window checks: shot + TestWindowScreenshots,
#                       TestWindowErrors (error sentences read back from the
#                       real window by OCR: tesseract-ocr) and
#                       TestWindowIdleLock (the idle lock's screen, by OCR,
#                       hides the patient; unlocked offline); the other
#                       desktop tests (e2e/desktop: bound App against a real server,
#                       the UI in headless Chromium) run with every Go test
#   make desktop-run    start the app on the demo workstation once the local server
#                       answers (needs $DISPLAY); make run's RUN_EXTRA hook

DESKTOP_TAGS      := desktop,production,webkit2_41
DESKTOP_DEV_TAGS  := dev,webkit2_41
DESKTOP_APT       := curl libgtk-3-dev libwebkit2gtk-4.1-dev xvfb xauth xdotool imagemagick tesseract-ocr chromium
# postgres.DemoDeviceID, the workstation `wardsync-server seed` registers for
# every role (e2e/desktop TestDemoDeviceInMakefile keeps it right).
DEMO_DEVICE ?= bd52666b-83b1-563a-a631-0e3f43c087f5

DEPS_EXTRA += $(DESKTOP_APT)
TEST_PRE   += desktop-build
TEST_EXTRA += test-desktop
RUN_EXTRA  += desktop-run

.PHONY: desktop desktop-build shot test-desktop desktop-run frontend-desktop frontend-desktop-test

# The UI bundle: mk/frontend.mk's `frontend` target when there is one.
ifneq ($(wildcard mk/frontend.mk),)
DESKTOP_UI := frontend
else
DESKTOP_UI := frontend-desktop
TEST_EXTRA += frontend-desktop-test
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
frontend-desktop: frontend/node_modules/.package-lock.json
	cd frontend && npm run build
	@$(MAKE) --no-print-directory placeholder
frontend-desktop-test: frontend/node_modules/.package-lock.json
	cd frontend && npx vitest run src/desktop
endif

desktop: $(DESKTOP_UI) placeholder
	@mkdir -p build
	$(GO) build -tags $(DESKTOP_TAGS) -ldflags "$(GO_LDFLAGS)" -o build/wardsync-desktop .

# Both builds at once: on a cold cache each spends minutes compiling the
# WebKitGTK bindings, and they share nothing (the tags differ). The dev build
# warms the cache for e2e/desktop's browser test, which builds it again.
desktop-build: $(DESKTOP_UI) placeholder
	@mkdir -p build
	@echo "go build -tags $(DESKTOP_TAGS) and -tags $(DESKTOP_DEV_TAGS) (in parallel)"
	@$(GO) build -tags $(DESKTOP_TAGS) -ldflags "$(GO_LDFLAGS)" -o build/wardsync-desktop . & p=$$!; \
	  $(GO) build -tags $(DESKTOP_DEV_TAGS) -o build/wardsync-desktop-dev . || { wait $$p; exit 1; }; \
	  wait $$p

shot: desktop server
	@bash scripts/shot.sh

test-desktop: shot
	@export DATABASE_URL=$(dburl); WARDSYNC_WINDOW_SHOTS=$(CURDIR)/build/screenshots $(GO) test -count=1 -run 'TestWindowScreenshots|TestWindowErrors|TestWindowIdleLock|TestDemoDeviceInMakefile' -v ./e2e/desktop | grep -E '^(---|ok|FAIL|\s+window_)' ; exit $${PIPESTATUS[0]}

# make run: once the server answers, open the window on the demo
# workstation (its replica under ~/.config/wardsync); without a display,
# say how to start it elsewhere.
desktop-run: desktop
	@if [ -n "$$DISPLAY" ]; then \
	  echo "Desktop app: starting on $$DISPLAY once http://$(ADDR) answers (log: build/desktop-run.log)"; \
	  ( for i in $$(seq 240); do curl -fs http://$(ADDR)/healthz >/dev/null 2>&1 && break; sleep 0.5; done; \
	    exec ./build/wardsync-desktop -server http://$(ADDR) -device $(DEMO_DEVICE) ) >build/desktop-run.log 2>&1 & \
	else \
	  echo "Desktop app: no display here. On a machine with one: ./build/wardsync-desktop -server http://$(ADDR) -device $(DEMO_DEVICE)"; \
	fi
