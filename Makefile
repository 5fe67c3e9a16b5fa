# The README's two commands: `make run` and `make check`.
BUILD  ?= build
ASAN   ?= build-asan
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run check check-asan test clean install bench

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

check: test check-asan

run: build
	./scripts/run.sh $(BUILD)/xva

bench: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
	cmake --build build-bench -j $(JOBS)
	python3 bench/run.py build-bench/xva

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) build-bench
