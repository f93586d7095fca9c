# p2pquic top-level entry points. Every target installs what it needs first
# (scripts/install-deps.sh is idempotent), so each works on a fresh Debian 12.
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
BUILD ?= build
CHECK_BUILD ?= build-check
FUZZ_BUILD ?= build-fuzz

.PHONY: all deps build check unit demo bench fuzz fuzz-smoke lab-check clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2PQ_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)

# Every test, built with -Werror under AddressSanitizer + UBSan.
check: deps
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DP2PQ_WERROR=ON -DP2PQ_SANITIZE=ON
	cmake --build $(CHECK_BUILD) -j $(JOBS)
	cd $(CHECK_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)
	@bash scripts/check-extra.sh $(CHECK_BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

# libFuzzer: each target runs FUZZ_SECONDS on its seed corpus.
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2PQ_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@bash scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=60

lab-check: build
	@bash tests/netns/lab-check.sh $(BUILD)
	@bash tests/netns/scenarios/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD)
