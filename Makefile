# The README's two commands: `make run` and `make check`.
BUILD  ?= build
ASAN   ?= build-asan
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run check check-asan test clean install bench
.PHONY: fuzz fuzz-smoke check-fault

FUZZ   ?= build-fuzz
FAULT  ?= build-fault
FUZZ_SECONDS ?= 300

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DXVA_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: deps
	cmake -S . -B $(ASAN) -DXVA_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
	  -DXVA_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

check: test check-asan fuzz-smoke check-fault

run: build
	./scripts/run.sh $(BUILD)/xva

bench: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
	cmake --build build-bench -j $(JOBS)
	python3 bench/run.py build-bench/xva

install: build
	cmake --install $(BUILD)

# libFuzzer targets (clang, ASan+UBSan) for FUZZ_SECONDS each, from
# seed corpora made with `xva pack` and tests/gen/xvagen.py.  The same
# clang build compiles the whole tree first, so clang's warnings are
# errors too.
fuzz: build
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ) -DXVA_WERROR=ON -DXVA_FUZZ=ON
	cmake --build $(FUZZ) -j $(JOBS)
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz-all
	tests/fuzz/mkcorpus.sh tests/fuzz/corpus $(BUILD)/xva
	tests/fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS)

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

# The Nth allocation, read or write fails, for every N (ASan+UBSan).
check-fault: deps
	cmake -S . -B $(FAULT) -DXVA_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
	  -DXVA_SANITIZE=address,undefined -DXVA_FAULT_INJECTION=ON $(CMAKE_FLAGS)
	cmake --build $(FAULT) -j $(JOBS) --target fault-all
	cd $(FAULT) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -V -R '^fault/' > fault.log 2>&1; \
	  rc=$$?; grep -E 'faults injected|tests passed' fault.log; \
	  [ $$rc = 0 ] || { tail -60 fault.log; exit 1; }

# The full load test: 50 concurrent transfers and 500 RPC/s for 60 s
# against one server (tests/e2e/harden-load.sh; `make check` runs a
# short one).  Prints requests, failures, p99 latency, fd and RSS.
.PHONY: soak
soak: build
	cd $(BUILD) && XVA_LOAD_TRANSFERS=50 XVA_LOAD_RATE=500 \
	  XVA_LOAD_SECONDS=60 ctest -V -R '^e2e/harden-load$$'

clean:
	rm -rf $(BUILD) $(ASAN) build-bench $(FUZZ) $(FAULT)
