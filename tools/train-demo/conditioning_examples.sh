#!/usr/bin/env bash
# Runs the worked examples of docs/conditioning.md exactly as written there (on the embedded demo
# model) and makes the PNG strips shown beside them (every 4th frame; every 8th for the loops).
# From the repository root after `make build`; needs ffmpeg.
set -euo pipefail
BIN=${BIN:-.build/release/opensora}
IMG=${IMG:-docs/images}
opensora() { "$BIN" "$@" ${EXTRA:-}; }   # EXTRA: e.g. "--num-sampling-steps 1" for a quick check
mkdir -p out/cond "$IMG"

# 1. image-to-video
opensora generate --config configs/demo.yaml --prompt "a yellow square moving right on a black background" \
  --image docs/examples/yellow-square-left.png --output out/cond/i2v.mp4 --overwrite
# 2. connect two images (first and last latent frame; align off, or -1 would snap to 0)
opensora generate --config configs/demo.yaml --prompt "a yellow square moving right on a black background" \
  --reference-path "docs/examples/yellow-square-left.png;docs/examples/yellow-square-right.png" \
  --mask-strategy "0;0,1,0,-1,1" --align none --output out/cond/connect.mp4 --overwrite
# 3. extend a clip: the last 2 latent frames of example 1 start the new clip
opensora generate --config configs/demo.yaml --prompt "a yellow square moving right on a black background" \
  --reference-path out/cond/i2v.mp4 --mask-strategy "0,0,-2,0,2" --align none --output out/cond/extend.mp4 --overwrite
# 4. edit a clip: example 1 re-noised half-way under another prompt
opensora generate --config configs/demo.yaml --prompt "a yellow square moving right on a blue background" \
  --reference-path out/cond/i2v.mp4 --mask-strategy "0,0,0,0,5,0.5" --output out/cond/edit.mp4 --overwrite
# 5. a 3-loop long video, one prompt per loop, starting from an image
opensora generate --config configs/demo.yaml --num-frames 34 --loop 3 --image docs/examples/red-circle-blue.png \
  --prompt "|0|a red circle moving down on a blue background|1|a red circle moving right on a blue background|2|a red circle moving up on a blue background" \
  --output out/cond/loop.mp4 --overwrite

for name in i2v connect extend edit; do
  ffmpeg -nostdin -loglevel error -y -i "out/cond/$name.mp4" \
    -vf "select='not(mod(n\,4))',scale=96:96:flags=neighbor,pad=100:96:0:0:white,tile=5x1" -frames:v 1 "$IMG/cond-$name.png"
done
ffmpeg -nostdin -loglevel error -y -i out/cond/loop.mp4 \
  -vf "select='not(mod(n\,8))',scale=64:64:flags=neighbor,pad=68:64:0:0:white,tile=9x1" -frames:v 1 "$IMG/cond-loop.png"
for f in out/cond/*.mp4; do echo "$f: $(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$f") frames"; done
