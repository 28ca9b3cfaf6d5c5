# Open-Sora Swift engine. `make setup && make demo` on a fresh Debian machine; `make test` runs the suite.

SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
APT_PACKAGES := python3 libopenblas-dev libsentencepiece-dev libpng-dev libjpeg-dev libavcodec-dev libavformat-dev \
                libswscale-dev libavutil-dev pkg-config ffmpeg zlib1g-dev libdnnl-dev
SWIFT_BUILD_FLAGS ?=
BIN := .build/release/opensora

.PHONY: setup deps build test demo bench clean test-slurm parity-report example

setup: deps build

deps:
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES)

build:
	swift build -c release $(SWIFT_BUILD_FLAGS)

# Tests run in a debug build (fast to compile; the golden cases are tiny) so they may use
# @testable imports; benchmarks use the release build.
test:
	swift test --disable-swift-testing $(SWIFT_BUILD_FLAGS)

# A separate Swift package that embeds the engine through its library product (examples/embed):
# built and run on the tiny fixture models, so the public API is checked from outside.
example:
	swift run --package-path examples/embed embed configs/tiny.yaml "a red ball" out/embed.mp4

# deploy/slurm/generate.sbatch on a real single-node Slurm cluster on this machine (installs Debian's
# slurm-wlm and munge if missing; needs root or sudo): docs/scale-out.md.
test-slurm: build
	tools/test-slurm.sh

demo: build
	$(BIN) generate --prompt "a red circle moving right on a blue background" --output out/demo.mp4 --overwrite

# The standard benchmark set (release build, random weights of the real shapes): one JSON line
# per run in bench/results/. The STDiT, VAE and pipeline runs take minutes each on 2 cores.
# Older models: STDiT (v1.0) at its checkpoint's 16x512x512
# (latent 16x64x64); STDiT2 (v1.1) and the v1.1 pipeline at 240p 2s: 240x426 -> latent 30x53 with
# the 2D sd-vae (8x in space, none in time), 51 frames (NUM_FRAMES_MAP "2s") -> 51 latent frames.
bench: build
	mkdir -p bench/results
	$(BIN) bench --component sgemm --shape 4500,1152,1152 | tee bench/results/sgemm.json
	$(BIN) bench --component sgemm --shape 4500,4608,1152 | tee -a bench/results/sgemm.json
	$(BIN) bench --component stdit3-xl2 --latent 15x18x32 | tee bench/results/stdit3-xl2.json
	$(BIN) bench --component vae-v1.2-decode --latent 15x18x32 | tee bench/results/vae-v1.2-decode.json
	$(BIN) bench --component t5-xxl | tee bench/results/t5-xxl.json
	$(BIN) bench --component pipeline-v1.2 --latent 15x18x32 --steps 1 | tee bench/results/pipeline-v1.2.json
	$(BIN) bench --component stdit-xl2 --latent 16x64x64 | tee bench/results/stdit-xl2.json
	$(BIN) bench --component stdit2-xl2 --latent 51x30x53 | tee bench/results/stdit2-xl2.json
	$(BIN) bench --component pipeline-v1.1 --latent 51x30x53 --steps 1 | tee bench/results/pipeline-v1.1.json
	$(BIN) bench --component mmdit-v2 --latent 9,32,32 --blocks 2 --quantize none,int8 | tee bench/results/mmdit-v2.json

# What a refactoring must leave unchanged (golden errors, output bytes, resolved configs), as text
# to diff between two commits (`make build && make -s parity-report > before.txt`): docs/architecture.md.
parity-report:
	@tools/parity-report.sh

clean:
	rm -rf .build

# Fuzzing: each libFuzzer target runs for FUZZ_SECONDS (default 60) from its seed corpus. A crash,
# leak, timeout or out-of-memory stops `make fuzz` with a non-zero status (the fuzzer's own log and
# the input that failed, in .build-fuzz/artifacts/, are kept); FUZZ_FLAGS adds libFuzzer options.
# The fuzzer runtime (libclang_rt.fuzzer) comes with the Swift toolchain; nothing else to install.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= FuzzSafetensors:safetensors FuzzWeightIndex:weight-index FuzzImage:image FuzzConfig:config \
                FuzzPickle:pickle FuzzPrompt:prompt
FUZZ_FLAGS ?=
.PHONY: fuzz
fuzz:
	@mkdir -p .build-fuzz/artifacts
	@for t in $(FUZZ_TARGETS); do \
	  name=$${t%%:*}; corpus=$${t##*:}; mkdir -p .build-fuzz/corpus/$$corpus; \
	  OPENSORA_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product $$name \
	    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library || exit 1; \
	  echo "== $$name ($(FUZZ_SECONDS) s)"; \
	  status=0; \
	  .build-fuzz/release/$$name -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
	    -artifact_prefix=.build-fuzz/artifacts/$$name- $(FUZZ_FLAGS) \
	    .build-fuzz/corpus/$$corpus Fuzz/corpus/$$corpus > .build-fuzz/$$name.log 2>&1 || status=$$?; \
	  grep -E "^(#[0-9]+.*DONE|Done|==[0-9]+==ERROR|SUMMARY)" .build-fuzz/$$name.log; \
	  if [ $$status -ne 0 ]; then \
	    tail -n 40 .build-fuzz/$$name.log; \
	    echo "== $$name FAILED (exit $$status): log .build-fuzz/$$name.log, input in .build-fuzz/artifacts/"; exit 1; \
	  fi; \
	done

# Tensor core, weights reader and thread pool under AddressSanitizer and ThreadSanitizer.
SANITIZE_FILTER ?= OpsTests|SafetensorsTests|DownloaderTests|ParallelTests
.PHONY: test-sanitize
test-sanitize:
	LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp swift test --disable-swift-testing --sanitize=address \
	  --scratch-path .build-asan --filter '$(SANITIZE_FILTER)'
	swift test --disable-swift-testing --sanitize=thread --scratch-path .build-tsan --filter '$(SANITIZE_FILTER)'
