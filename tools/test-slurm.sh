#!/usr/bin/env bash
# `make test-slurm`: deploy/slurm/generate.sbatch on a real, single-node Slurm cluster on this
# machine (Debian's slurm-wlm and munge; daemons started directly, no systemd), with the demo model.
#   1. the array job's outputs equal a single-process run: the saved latents and the MP4 files,
#      byte for byte;
#   2. one array task killed mid-run: resubmitting the same job makes only its missing videos.
# Runs as root (CI) or with sudo. Waits are bounded; the daemons are stopped and the scratch
# folder removed on exit. OPENSORA=path/to/opensora to test another build (default: the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
OPENSORA=${OPENSORA:-$REPO/.build/release/opensora}
SHARDS=3
STEP_TIMEOUT=${STEP_TIMEOUT:-600}     # seconds for any one wait

say() { echo "== test-slurm: $*"; }
fail() { echo "test-slurm: FAIL: $*" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends slurm-wlm munge
fi
[ -x "$OPENSORA" ] || fail "$OPENSORA not found: run 'make build' first"

WORK=$(mktemp -d /tmp/opensora-slurm.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  set +e
  if [ -n "${SLURM_CONF:-}" ]; then scancel --quiet --user="$(id -un)" 2>/dev/null; fi
  for f in "$WORK"/slurmd.pid "$WORK"/slurmctld.pid "$WORK"/munged.pid; do
    [ -f "$f" ] && $SUDO kill "$(cat "$f")" 2>/dev/null
  done
  sleep 1
  for f in "$WORK"/slurmd.pid "$WORK"/slurmctld.pid "$WORK"/munged.pid; do
    [ -f "$f" ] && $SUDO kill -9 "$(cat "$f")" 2>/dev/null
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else $SUDO rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- munge: a private daemon, key and socket -------------------------------------------------
say "starting munged"
mkdir -p "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$WORK/munge"; chmod 400 "$WORK/munge/munge.key"
MUNGE_USER=$(id -un)
$SUDO munged --force --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/munge.sock" \
  --pid-file="$WORK/munged.pid" --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/munged.seed"
for _ in $(seq 50); do [ -S "$WORK/munge/munge.sock" ] && break; sleep 0.2; done
[ -S "$WORK/munge/munge.sock" ] || { cat "$WORK/munge/munged.log" >&2; fail "munged did not start"; }

# --- slurm: controller and one node on localhost ----------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
mkdir -p "$WORK/state" "$WORK/spool"
export SLURM_CONF="$WORK/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=opensora-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/munge.sock
CredType=cred/munge
SlurmUser=$MUNGE_USER
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
NodeName=opensora-node NodeAddr=127.0.0.1 NodeHostname=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
say "starting slurmctld and slurmd ($CPUS CPUs)"
$SUDO env SLURM_CONF="$SLURM_CONF" slurmctld -i
$SUDO env SLURM_CONF="$SLURM_CONF" slurmd -N opensora-node
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break; sleep 0.3
done
sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' || { tail -20 "$WORK"/slurm*.log >&2; fail "the node did not come up"; }

# --- the run ----------------------------------------------------------------------------------
printf '%s\n' "a red circle moving right on a blue background" "a green square bouncing on a black background" \
  "a yellow triangle moving up on a purple background" "a white circle growing on a gray background" \
  "a blue square moving left on a green background" "a red triangle still on a black background" \
  "a green circle moving down on a purple background" "a yellow square growing on a blue background" \
  "a white triangle bouncing on a gray background" > "$WORK/prompts.txt"
VIDEOS=9
# 120 steps (the demo's default is 30) so that a video takes a few seconds: long enough to kill a task mid-run.
FLAGS="--save-latents --num-sampling-steps 120"
# shellcheck disable=SC2206
COMMON=(--config "$REPO/configs/demo.yaml" $FLAGS --threads 1)

say "single-process reference run"
"$OPENSORA" generate "${COMMON[@]}" --prompt-path "$WORK/prompts.txt" --output "$WORK/single/v.mp4" --quiet > /dev/null

submit() {   # submit OUT: the sbatch array over the prompt file into OUT; prints the job id
  sbatch --parsable --array=0-$((SHARDS - 1)) --cpus-per-task=1 --mem=0 --chdir="$WORK" \
    --output="$WORK/log-%A_%a.txt" \
    --export=ALL,PROMPTS="$WORK/prompts.txt",OUTPUT="$1/v.mp4",OPENSORA="$OPENSORA",CONFIG="$REPO/configs/demo.yaml",EXTRA_ARGS="$FLAGS" \
    "$REPO/deploy/slurm/generate.sbatch"
}
wait_job() {   # wait_job ID: until no task of the job is pending or running
  local t=0
  while squeue -h -j "$1" 2>/dev/null | grep -q .; do
    sleep 1; t=$((t + 1)); [ $t -lt "$STEP_TIMEOUT" ] || fail "job $1 still running after ${STEP_TIMEOUT}s"
  done
}
video_records() { cat "$1"/v.manifest*.jsonl 2>/dev/null | grep -c '"event":"video"' || true; }
# Latent tensors (not the files: their metadata names the output) of one folder against the reference.
same_latents() {
  python3 - "$WORK/single" "$1" "$VIDEOS" <<'PY'
import json, struct, sys
ref, got, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def tensor(path):
    b = open(path, "rb").read()
    k = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + k])["latent"]
    return h["shape"], b[8 + k + h["data_offsets"][0]: 8 + k + h["data_offsets"][1]]
bad = [i for i in range(n) if tensor(f"{ref}/v_{i:04d}.latent.safetensors") != tensor(f"{got}/v_{i:04d}.latent.safetensors")]
if bad: sys.exit(f"latents differ from the single-process run for videos {bad}")
PY
}

say "array job of $SHARDS tasks"
JOB=$(submit "$WORK/array")
wait_job "$JOB"
for i in $(seq 0 $((VIDEOS - 1))); do
  f=$(printf "%s/array/v_%04d.mp4" "$WORK" "$i")
  [ -s "$f" ] || { cat "$WORK"/log-*.txt >&2; fail "$f missing"; }
done
same_latents "$WORK/array" || fail "array outputs differ from the single-process run"
same_videos() {
  for i in $(seq 0 $((VIDEOS - 1))); do
    name=$(printf "v_%04d.mp4" "$i")
    cmp -s "$WORK/single/$name" "$1/$name" || { echo "$1/$name differs from the single-process run's" >&2; return 1; }
  done
}
same_videos "$WORK/array" || fail "array MP4 files differ from the single-process run"
[ "$(video_records "$WORK/array")" = "$VIDEOS" ] || fail "expected $VIDEOS video records"
say "outputs equal the single-process run ($VIDEOS videos)"

say "array job with task 1 killed mid-run"
JOB=$(submit "$WORK/killed")
t=0
# A task denoises all its videos, then decodes them: kill task 1 once its first latent is saved.
until [ "$(cat "$WORK"/killed/v.manifest.shard-1-of-$SHARDS.jsonl 2>/dev/null | grep -c '"event":"latent"' || true)" -ge 1 ]; do
  sleep 0.1; t=$((t + 1)); [ $t -lt $((STEP_TIMEOUT * 10)) ] || fail "task 1 saved no latent"
done
scancel --signal=KILL "${JOB}_1"
wait_job "$JOB"
before=$(video_records "$WORK/killed")
[ "$before" -lt "$VIDEOS" ] || fail "task 1 finished before it was killed (the test needs a slower video)"
say "$before of $VIDEOS videos finished; resubmitting"
JOB=$(submit "$WORK/killed")
wait_job "$JOB"
after=$(video_records "$WORK/killed")
[ "$after" = "$VIDEOS" ] || { cat "$WORK"/log-"$JOB"_*.txt >&2; fail "after resubmitting: $after video records, expected $VIDEOS (each video made once)"; }
same_latents "$WORK/killed" || fail "resumed outputs differ from the single-process run"
same_videos "$WORK/killed" || fail "resumed MP4 files differ from the single-process run"
say "the resubmitted job made only the $((VIDEOS - before)) missing videos"
grep -q '"shard":"1/3"' <(cat "$WORK"/killed/v.manifest.shard-1-of-$SHARDS.jsonl) || fail "no run record of shard 1"
say "PASS"
