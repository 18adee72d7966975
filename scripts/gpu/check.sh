#!/usr/bin/env bash
# GPU check, for a CUDA machine (never run by CI): from a clean checkout, in under 8 minutes,
#   1. installs the project (npm install: node-llama-cpp's CUDA prebuilt binaries come from npm as its
#      optional dependencies @node-llama-cpp/linux-x64-cuda*), unless node_modules is already there;
#   2. builds the random-weight model of a real shape (npm run shapes:build; default tinyllama-1.1b);
#   3. runs the shape section of the benchmark (npm run bench -- --shape-only --gpu GPU);
#   4. times `inference-guard batch` on a generated prompts file with --parallel 1 and --parallel P
#      (concurrent requests sharing the batch; reported as "parallel not available" when this
#      checkout's batch command has no --parallel option);
# and writes every result into OUTDIR: bench-shape.json/.txt, concurrency.json, summary.json, logs.
#
#   scripts/gpu/check.sh OUTDIR [--gpu cuda|cpu|auto|vulkan] [--shape NAME] [--tokens N] [--seeds N]
#                               [--requests R] [--parallel P] [--batch-tokens T] [--threads N] [--skip-install]
#
# Environment: GPU (same as --gpu; default cuda), INFERENCE_GUARD_SHAPES_DIR (model cache).
# Tested on CPU with: scripts/gpu/check.sh /tmp/gpu-check --gpu cpu --shape tiny-64 --tokens 8 --seeds 1
# Exit status: 0 when every step ran, 1 when one failed (the others still run), 2 on bad arguments.
set -uo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

OUTDIR=""
GPU=${GPU:-cuda}
SHAPE=tinyllama-1.1b
TOKENS=""
SEEDS=""
REQUESTS=8
PARALLEL=4
BATCH_TOKENS=32
THREADS=""
SKIP_INSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) GPU=$2; shift 2 ;;
    --shape) SHAPE=$2; shift 2 ;;
    --tokens) TOKENS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --batch-tokens) BATCH_TOKENS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "check.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) if [ -z "$OUTDIR" ]; then OUTDIR=$1; shift; else echo "check.sh: one OUTDIR only" >&2; exit 2; fi ;;
  esac
done
[ -n "$OUTDIR" ] || { echo "check.sh: OUTDIR is required" >&2; usage >&2; exit 2; }
case "$GPU" in cpu|auto|cuda|metal|vulkan) ;; *) echo "check.sh: --gpu must be cpu, auto, cuda, metal or vulkan (got $GPU)" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd)
cd "$ROOT" || exit 1
STARTED=$(date +%s.%N)
STARTUP_SECONDS=0
STEPS_FILE="$OUTDIR/steps.tsv"
: > "$STEPS_FILE"
FAILED=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# step NAME LOG COMMAND...: runs it with its output in OUTDIR/LOG, records name, status and seconds.
step() {
  local name=$1 log=$2
  shift 2
  echo "== $name" >&2
  local t0 t1 rc
  t0=$(now)
  "$@" > "$OUTDIR/$log" 2>&1
  rc=$?
  t1=$(now)
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(elapsed "$t0" "$t1")" >> "$STEPS_FILE"
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "   failed (exit $rc); the last lines of $OUTDIR/$log:" >&2
    tail -n 15 "$OUTDIR/$log" >&2
  else
    echo "   done in $(elapsed "$t0" "$t1") s" >&2
  fi
  return "$rc"
}

# ---- machine ----
{ command -v nvidia-smi > /dev/null && nvidia-smi; } > "$OUTDIR/nvidia-smi.txt" 2>&1 || true
{ echo "commit $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"; node --version; nproc; uname -a; } > "$OUTDIR/machine.txt" 2>&1

# ---- 1. install ----
if [ "$SKIP_INSTALL" = 1 ] || [ -d node_modules/node-llama-cpp ]; then
  echo "== install: node_modules is there (skipped)" >&2
  printf 'install\tskipped\t0\n' >> "$STEPS_FILE"
else
  # npm install runs the package's install script (the C++ addon) and prepare (the TypeScript
  # build). Not npm ci: as in .ci/run, a registry mirror without the other platforms' optional
  # llama.cpp binaries of the lock file makes npm ci refuse; npm install takes this platform's
  # (linux-x64-cuda among them).
  step install install.log npm install --no-audit --no-fund
fi
# dist/ is what `npx inference-guard` runs: build it from this checkout's sources every time (a few seconds).
step tsc-build tsc.log npx --no-install tsc -p tsconfig.build.json
[ -f build/Release/inference_guard.node ] || step addon-build addon.log npm run -s build:native
if [ "$GPU" != cpu ]; then
  # Which GPU node-llama-cpp sees (diagnostic only: a failure here does not stop the check).
  timeout 120 npx --no-install node-llama-cpp inspect gpu > "$OUTDIR/inspect-gpu.txt" 2>&1 || true
fi

# ---- 2. the shape model ----
MODEL=""
if step shape-build shape-build.log npm run -s shapes:build -- "$SHAPE"; then
  MODEL=$(tail -n 1 "$OUTDIR/shape-build.log")
fi

# ---- 3. the shape benchmark ----
BENCH_ARGS=(--shape-only --shape "$SHAPE" --gpu "$GPU" --no-build --out "$OUTDIR/bench-shape.json")
[ -n "$TOKENS" ] && BENCH_ARGS+=(--shape-tokens "$TOKENS")
[ -n "$SEEDS" ] && BENCH_ARGS+=(--shape-seeds "$SEEDS")
[ -n "$THREADS" ] && BENCH_ARGS+=(--shape-threads "$THREADS")
step bench bench-shape.log timeout 300 npm run -s bench -- "${BENCH_ARGS[@]}"
# The tables alone (the log also has the progress lines).
grep -v '^\[' "$OUTDIR/bench-shape.log" > "$OUTDIR/bench-shape.txt" 2> /dev/null || true

# ---- 4. concurrency: batch --parallel 1 vs --parallel P ----
PROMPTS="$OUTDIR/prompts.jsonl"
node -e '
  const n = Number(process.argv[1]);
  const starts = ["Once upon a time", "The little robot", "In a small village", "Tom and his dog", "The sun was shining", "A girl found a box", "Late at night", "The old tree"];
  for (let i = 0; i < n; i++) console.log(JSON.stringify({ id: i + 1, prompt: starts[i % starts.length] }));
' "$REQUESTS" > "$PROMPTS"
BATCH_ARGS=(--in "$PROMPTS" --model "$MODEL" --gpu "$GPU" --max-tokens "$BATCH_TOKENS" --seed 1 --quiet)
[ -n "$THREADS" ] && BATCH_ARGS+=(--threads "$THREADS")
PARALLEL_AVAILABLE=0
if [ -n "$MODEL" ] && npx --no-install inference-guard batch --help 2>&1 | grep -q -- '--parallel'; then PARALLEL_AVAILABLE=1; fi
declare -A BATCH_SECONDS=()
declare -A BATCH_RC=()
run_batch() {
  local label=$1
  shift
  rm -f "$OUTDIR/batch-$label.jsonl"
  local t0 t1
  t0=$(now)
  step "batch-$label" "batch-$label.log" timeout 150 npx --no-install inference-guard batch "${BATCH_ARGS[@]}" --out "$OUTDIR/batch-$label.jsonl" "$@"
  BATCH_RC[$label]=$?
  t1=$(now)
  BATCH_SECONDS[$label]=$(elapsed "$t0" "$t1")
}
# The process start and model load, counted in every run's wall time: one request of one token.
STARTUP_PROMPTS="$OUTDIR/prompts-startup.jsonl"
echo '{"id": "startup", "prompt": "Once upon a time", "guard": {"method": "sample", "maxTokens": 1}}' > "$STARTUP_PROMPTS"
if [ -z "$MODEL" ]; then
  echo "== concurrency: skipped (no model)" >&2
else
  rm -f "$OUTDIR/batch-startup.jsonl"
  t0=$(now)
  step batch-startup batch-startup.log timeout 120 npx --no-install inference-guard batch --in "$STARTUP_PROMPTS" --model "$MODEL" --gpu "$GPU" --quiet --out "$OUTDIR/batch-startup.jsonl" ${THREADS:+--threads "$THREADS"}
  STARTUP_SECONDS=$(elapsed "$t0" "$(now)")
fi
if [ -z "$MODEL" ]; then
  :
elif [ "$PARALLEL_AVAILABLE" = 1 ]; then
  run_batch p1 --parallel 1
  run_batch "p$PARALLEL" --parallel "$PARALLEL"
else
  echo "== concurrency: parallel not available (this checkout's batch has no --parallel); timing requests in a row only" >&2
  run_batch sequential
fi
node -e '
  const fs = require("node:fs");
  const [out, available, parallel, requests, tokens, gpu, model, startup, ...runs] = process.argv.slice(1);
  const startupSeconds = Number(startup) || 0;
  const result = {
    parallelAvailable: available === "1",
    note: available === "1" ? undefined : "parallel not available",
    gpu, model, requests: Number(requests), maxTokens: Number(tokens),
    startupSeconds,
    about: "seconds = wall time of the whole command; answering = seconds - startupSeconds (a one-token run: process start and model load)",
    runs: {},
  };
  for (let i = 0; i < runs.length; i += 3) {
    const [label, seconds, rc] = [runs[i], Number(runs[i + 1]), Number(runs[i + 2])];
    let lines = [];
    try { lines = fs.readFileSync(`${out}/batch-${label}.jsonl`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)); } catch {}
    const answerTokens = lines.reduce((s, r) => s + (r.tokens ?? 0), 0);
    const answering = Math.max(Math.round((seconds - startupSeconds) * 100) / 100, 0.01);
    result.runs[label] = { exitStatus: rc, seconds, answeringSeconds: answering, answered: lines.length, answerTokens, answerTokensPerSecond: answerTokens / answering };
  }
  const p1 = result.runs.p1, pp = result.runs[`p${parallel}`];
  if (p1 && pp && p1.answered > 0 && pp.answered > 0) result.throughputRatio = pp.answerTokensPerSecond / p1.answerTokensPerSecond;
  fs.writeFileSync(`${out}/concurrency.json`, JSON.stringify(result, null, 2) + "\n");
  console.error(JSON.stringify(result.runs), result.throughputRatio === undefined ? "" : `throughput ratio p${parallel}/p1: ${result.throughputRatio.toFixed(2)}`, result.note ?? "");
' "$OUTDIR" "$PARALLEL_AVAILABLE" "$PARALLEL" "$REQUESTS" "$BATCH_TOKENS" "$GPU" "$MODEL" "${STARTUP_SECONDS:-0}" \
  $(for k in "${!BATCH_SECONDS[@]}"; do echo "$k ${BATCH_SECONDS[$k]} ${BATCH_RC[$k]}"; done)

# ---- summary ----
node -e '
  const fs = require("node:fs");
  const [out, gpu, shape, model, seconds, failed] = process.argv.slice(1);
  const steps = fs.readFileSync(`${out}/steps.tsv`, "utf8").split("\n").filter(Boolean).map((l) => {
    const [name, status, s] = l.split("\t");
    return { name, status: status === "skipped" ? "skipped" : Number(status), seconds: Number(s) };
  });
  fs.writeFileSync(`${out}/summary.json`, JSON.stringify({ gpu, shape, model, seconds: Number(seconds), ok: failed === "0", steps, node: process.version, finishedAt: new Date().toISOString() }, null, 2) + "\n");
' "$OUTDIR" "$GPU" "$SHAPE" "$MODEL" "$(elapsed "$STARTED" "$(now)")" "$FAILED"
echo "check.sh: $( [ "$FAILED" = 0 ] && echo ok || echo 'some steps failed') in $(elapsed "$STARTED" "$(now)") s; results in $OUTDIR" >&2
exit "$FAILED"
