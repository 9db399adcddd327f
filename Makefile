# Thin wrapper over CMake. `make demo` and `make test` install missing Debian packages first.
MAKEFLAGS += --no-print-directory
BUILD ?= build
SAN_BUILD ?= build-sanitize
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all build deps demo test test-sanitize bench fuzz format clean

all: build

deps:
	@scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	@$(BUILD)/tsloop demo

test: deps build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Every test (unit suites, fuzz-corpus replays, integration) under AddressSanitizer + UBSan.
test-sanitize: deps
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTSL_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	@ctest --test-dir $(SAN_BUILD) --output-on-failure -j $(JOBS)

bench: build
	@scripts/deps.sh --bench
	@bench/run.sh $(BUILD)/tsloop

# libFuzzer builds (clang): run e.g. build-fuzz/tests/fuzz_csv tests/fuzz/corpus/csv
fuzz:
	@scripts/deps.sh --fuzz
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTSL_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(SAN_BUILD) build-fuzz
