# Open-Sora Swift engine. `make setup && make demo` on a fresh Debian machine; `make test` runs the suite.

SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := libopenblas-dev libsentencepiece-dev libpng-dev libjpeg-dev libavcodec-dev libavformat-dev \
                libswscale-dev libavutil-dev pkg-config ffmpeg
SWIFT_BUILD_FLAGS ?=
BIN := .build/release/opensora

.PHONY: setup deps build test demo bench clean

setup: deps build

deps:
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES)

build:
	swift build -c release $(SWIFT_BUILD_FLAGS)

test:
	swift build --build-tests -c release $(SWIFT_BUILD_FLAGS)
	swift test -c release --skip-build --disable-swift-testing $(SWIFT_BUILD_FLAGS)

demo: build
	$(BIN) generate --prompt "a red circle moving right on a blue background" --output out/demo.mp4

bench: build
	mkdir -p bench/results
	$(BIN) bench --component sgemm --shape 4500,1152,1152 | tee bench/results/sgemm.json

clean:
	rm -rf .build
