# The fault soak and the fuzzers (e2e/soak, workflow and syncproto).
#
#   make soak                 the long soak: SEEDS seeds (default 100), each one
#                             7 workstations and 2 servers under 45 s of faults,
#                             PostgreSQL restarts included, on a cluster of its own
#   make soak SEEDS=10        fewer seeds
#   make soak SEED=123        replay one long seed (the run prints its seed)
#   make soak-short           the three short seeds make test runs anyway
#   make soak-short SEED=123  replay one short seed
#   make fuzz                 FuzzApply and FuzzDecode, FUZZTIME each (default 5m);
#                             new corpus entries stay in Go's cache
#
# The short soak is an ordinary Go test (TestSoak in e2e/soak), so make test
# runs it with every package; nothing is added to TEST_EXTRA.
SEEDS    ?= 100
FUZZTIME ?= 5m

.PHONY: soak soak-short fuzz

soak: placeholder
	@WARDSYNC_SOAK_SEEDS=$(if $(SEED),1,$(SEEDS)) $(if $(SEED),WARDSYNC_SOAK_SEED=$(SEED)) \
	  $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./e2e/soak | grep --line-buffered -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}

soak-short: placeholder
	@$(if $(SEED),WARDSYNC_SOAK_SEED=$(SEED)) \
	  $(GO) test -count=1 -run '^TestSoak$$' -v ./e2e/soak | grep --line-buffered -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}

fuzz: placeholder
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./workflow
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./syncproto
