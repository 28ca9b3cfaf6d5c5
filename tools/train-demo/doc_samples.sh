#!/usr/bin/env bash
# Frames 0, 5, 10, 15 of the engine's demo output for a few held-out prompts, as PNG strips for
# docs/demo.md (run from the repository root after `make build`; needs ffmpeg).
set -euo pipefail
BIN=${BIN:-.build/release/opensora}
OUT=${OUT:-docs/images}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
i=0
while IFS= read -r prompt; do
  i=$((i + 1))
  "$BIN" generate --config configs/demo.yaml --prompt "$prompt" --seed 42 --format png --output "$tmp/p$i" --overwrite --quiet </dev/null >/dev/null
  ffmpeg -nostdin -loglevel error -y -start_number 0 -i "$tmp/p${i}_%04d.png" \
    -vf "select='not(mod(n\,5))',scale=128:128:flags=neighbor,pad=132:128:0:0:white,tile=4x1" -frames:v 1 "$OUT/demo-$i.png"
  echo "$OUT/demo-$i.png: $prompt"
done <<'PROMPTS'
a red circle moving right on a blue background
a green square moving left on a black background
a blue triangle moving up on a gray background
PROMPTS
