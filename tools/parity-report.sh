#!/bin/bash
# The numbers a refactoring must not change, as text to diff between two commits:
#   make parity-report > before.txt; (change, rebuild); make parity-report > after.txt; diff before.txt after.txt
# Prints every golden case's per-tensor errors and output digests (Tests/Fixtures/golden, and ../shared/golden where it
# exists), the bytes of a tiny end-to-end generation (MP4 and PNG frames), each shipped config as
# --print-config resolves it, and the deterministic fields of one benchmark. Times are left out.
set -u
B=${BIN:-.build/release/opensora}
[ -x "$B" ] || { echo "parity-report: $B not found (make build)" >&2; exit 1; }
dirs=(Tests/Fixtures/golden)
[ -d ../shared/golden ] && dirs+=(../shared/golden)
for f in $(find "${dirs[@]}" -name '*.json' ! -name '*manifest*' ! -name '*.index.json' | sort); do
  echo "== check $f"
  "$B" check --digests "$f" 2>&1 | grep -v -i "seconds\|took\| s)$"
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for th in 1 2; do
  echo "== generate configs/tiny.yaml --threads $th"
  "$B" generate --config configs/tiny.yaml --prompt "a red fox in snow" --seed 7 --dtype fp32 --threads $th \
    --output "$T/tiny$th.mp4" >/dev/null 2>&1; echo "rc=$?"
  md5sum < "$T/tiny$th.mp4"
  "$B" generate --config configs/tiny.yaml --prompt "a red fox in snow" --seed 7 --dtype fp32 --threads $th \
    --format png --output "$T/png$th/" >/dev/null 2>&1; echo "rc=$?"
  cat "$T/png$th"/*.png | md5sum
done
for c in configs/*.yaml; do
  echo "== print-config $c"
  "$B" generate --config "$c" --print-config 2>&1
done
echo "== bench stdit3-xl2 2x4x4 (deterministic fields)"
"$B" bench --component stdit3-xl2 --latent 2x4x4 2>&1 | tail -1 | tr ',' '\n' | grep -E '"(component|latent|batch|caption_tokens|weights|tflop)"|^[0-9]'
