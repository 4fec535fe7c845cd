# The TypeScript UIs (admin dashboard, desktop app), built by Vite into
# frontend/dist, which the server and the desktop binary embed.
FRONTEND_DEPS := frontend/node_modules/.package-lock.json

$(FRONTEND_DEPS): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

.PHONY: frontend test-frontend
frontend: $(FRONTEND_DEPS)
	cd frontend && npm run build
	@touch frontend/dist/.keep

test-frontend: $(FRONTEND_DEPS)
	cd frontend && npm test

# The server embeds the dashboard (make run / make server).
build/wardsync-server: frontend

TEST_PRE += frontend
TEST_EXTRA += test-frontend
DEPS_EXTRA += chromium fonts-dejavu-core
