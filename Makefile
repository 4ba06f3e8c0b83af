# Warren: `make up` runs the whole stack, `make test` runs every test. Both install what is missing first.
SHELL := /bin/bash
BUILD_DIR ?= build
PRESET ?= release
JOBS ?= $(shell nproc)
WARREN := $(BUILD_DIR)/bin/warren

.PHONY: all deps configure build up test test-unit test-chaos test-cluster soak test-asan test-tsan fuzz bench bench-quick bench-build format tidy clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then cmake --preset $(PRESET) $(CMAKE_ARGS); fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

up: build
	$(WARREN) up $(ARGS)

# everything but the three-node cluster test (make test-cluster)
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -LE cluster $(CTEST_ARGS)

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

# the fault scenarios of tests/chaos, longer than the short run `make test` includes (CHAOS_SCALE times);
# their reports go to tests/chaos/results/
CHAOS_SCALE ?= 5
test-chaos: build
	mkdir -p tests/chaos/results
	WARREN_CHAOS_SCALE=$(CHAOS_SCALE) WARREN_CHAOS_RESULTS=$(CURDIR)/tests/chaos/results/chaos-$$(date -u +%Y%m%dT%H%M%SZ).txt \
	  ctest --test-dir $(BUILD_DIR) --output-on-failure -L chaos

# a three-node RabbitMQ cluster on loopback with PostgreSQL and quorum queues, a node killed under load
# (several minutes); its figures go to tests/cluster/results/
test-cluster: build
	mkdir -p tests/cluster/results
	WARREN_CLUSTER_RESULTS=$(CURDIR)/tests/cluster/results/cluster-$$(date -u +%Y%m%dT%H%M%SZ).txt \
	  ctest --test-dir $(BUILD_DIR) --output-on-failure -L cluster

# the soak (tests/chaos, Chaos.Soak*): SOAK_MINUTES of load at half the measured maximum, a worker
# killed every SOAK_KILL_EVERY seconds, the broker restarted every SOAK_BROKER_EVERY seconds; figures
# to tests/chaos/results/
SOAK_MINUTES ?= 30
SOAK_KILL_EVERY ?= 60
SOAK_BROKER_EVERY ?= 600
soak: build
	mkdir -p tests/chaos/results
	WARREN_SOAK_MINUTES=$(SOAK_MINUTES) WARREN_SOAK_KILL_EVERY=$(SOAK_KILL_EVERY) \
	  WARREN_SOAK_BROKER_EVERY=$(SOAK_BROKER_EVERY) \
	  WARREN_CHAOS_RESULTS=$(CURDIR)/tests/chaos/results/soak-$$(date -u +%Y%m%dT%H%M%SZ).txt \
	  $(BUILD_DIR)/bin/warren_chaos_tests --gtest_filter='Chaos.Soak*'

# The unit and integration suites (not e2e, chaos or benchmarks) under ASan + UBSan (preset debug) and
# under TSan (preset tsan); any sanitizer report fails the test (docs/reliability.md, Sanitizers).
SANITIZER_LABELS ?= unit|integration
# halt_on_error: a report aborts the process (UBSan and ASan are also built -fno-sanitize-recover), so a
# finding in a child serve or work fails the test that started it instead of scrolling by.
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
test-asan: deps
	cmake --preset debug && cmake --build build/debug -j $(JOBS) --target warren_sanitizer_suite
	$(SANITIZER_ENV) ctest --test-dir build/debug --output-on-failure -L '$(SANITIZER_LABELS)' $(CTEST_ARGS)

test-tsan: deps
	cmake --preset tsan && cmake --build build/tsan -j $(JOBS) --target warren_sanitizer_suite
	$(SANITIZER_ENV) ctest --test-dir build/tsan --output-on-failure -L '$(SANITIZER_LABELS)' $(CTEST_ARGS)

# libFuzzer (clang, preset fuzz: only the fuzz targets and their libraries): each target of fuzz/ for
# FUZZ_SECONDS from its committed corpus; fails on any crash, leak, sanitizer report or failed check.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= job_spec http_request config command_template schedule
fuzz: deps
	cmake --preset fuzz && cmake --build build/fuzz -j $(JOBS)
	fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# micro-benchmarks + the side-by-side system benchmarks (Warren vs the demo, Celery, raw RabbitMQ)
bench: bench-build
	bench/run.sh

# the same, short: one run per figure, smaller workloads (under 10 minutes on a 2-core machine)
bench-quick: bench-build
	bench/run.sh --quick

# only what the benchmarks run (not the tests): keeps bench-quick short on a fresh checkout
bench-build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target warren warren_bench_ceiling warren_micro_bench warren_bench_open_loop

format:
	find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

tidy: build
	find src -name '*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)
