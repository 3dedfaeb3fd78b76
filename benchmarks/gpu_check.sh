#!/usr/bin/env bash
# The prepared device check of issue 15: everything a session with one GPU should run, in at most 8 minutes.
#
#   bash benchmarks/gpu_check.sh [--cifar10-archive PATH] [--budget SECONDS]   # on a GPU
#   bash benchmarks/gpu_check.sh --dry-run                                     # anywhere, tiny sizes, seconds (CI)
#
# Steps, in order, each with its own time limit (cut to what is left of the budget):
#   data        CIFAR-10 from the archive (the 20 MB cifar10.tar.gz of JPEGs), decoded once into a cache;
#               without it the timings run on random images of CIFAR-10's shape and no accuracy is reported
#   tests       the test suite's CUDA-only tests (pytest -m cuda): train/resume/fine-tune/TTA smoke tests, the
#               loader's device and pinned placements, the LION multi-tensor step, no syncs inside the step
#   lion        benchmarks/lion_step.py: one LION step, per parameter vs all tensors at once
#   throughput  benchmarks/gpu_throughput.py: B_12-Wi_1024 @ 64 px and B_6-Wi_1024 @ 32 px, batch 4096,
#               model-only vs our loader, eager / torch.compile / compile with CUDA graphs, vs the bf16 peak
#   table1_row  benchmarks/table1_row.py: "B-MLP + DA @1000E" on CIFAR-10 at the paper's settings for as many
#               epochs as fit in its time: s/epoch, projected 1000 and 5000 epochs
#   tta         benchmarks/tta_speed.py: 100 TTA views of the CIFAR-10 test set: seconds, views/s
# After every step the report results/gpu_<gpu name>.{json,md} is rewritten (with --dry-run: under a temporary
# folder, the repository stays untouched), and copied, with the log, to $OUT when that is set.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

dry=0; archive=""; budget=480; out_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --cifar10-archive) archive="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    --out-dir) out_dir="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (expected --dry-run, --cifar10-archive PATH, --budget SECONDS, --out-dir DIR)"; exit 2 ;;
  esac
  shift
done

py=$(command -v python3 || command -v python)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
parts="$work/parts"; mkdir -p "$parts"
if [ "$dry" = 1 ]; then
  out_dir=${out_dir:-$work/results}
  export TORCHDYNAMO_DISABLE=1  # no compilation in a dry run: the CPU's inductor build alone takes longer than the run
  dryflag=(--dry-run)
else
  out_dir=${out_dir:-$root/results}
  dryflag=()
fi
log="$parts/gpu_check.log"
start=$(date +%s)

# Device facts for the report (a separate process: the data step below must fork decoders before any CUDA use).
"$py" - "$parts/env.json" <<'EOF'
import json, sys, torch
cuda = torch.cuda.is_available()
json.dump({"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
           "cuda": torch.version.cuda if cuda else None}, open(sys.argv[1], "w"))
EOF

report() {
  local base
  base=$("$py" benchmarks/gpu_report.py --parts "$parts" --out "$out_dir" "${dryflag[@]}") || return 0
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then cp "$base.json" "$base.md" "$log" "$OUT/" 2>/dev/null || true; fi
  echo "report: $base.md"
}

# step NAME LIMIT COMMAND...: run with the smaller of LIMIT and what is left of the budget; log and time it
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 10 ]; then
    echo "== $name: skipped, the budget of ${budget}s is spent" | tee -a "$log"
    printf '%s\t%s\t%s\t%s\n' "$name" -1 0 0 >> "$parts/steps.tsv"; report; return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s, $(( $(date +%s) - start ))s elapsed)" | tee -a "$log"
  local t0=$(date +%s)
  timeout --kill-after=5 "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$limit" >> "$parts/steps.tsv"
  echo "== $name: exit $rc after $(( $(date +%s) - t0 ))s" | tee -a "$log"
  report
}

# data: the archive, else $SCALING_MLPS_DATA if it holds CIFAR-10, else random images (see benchmarks/cifar_data.py)
if [ "$dry" = 0 ]; then
  if [ -z "$archive" ]; then
    for f in .gpu_data/cifar10.tar.gz ../shared/data/cifar10.tar.gz; do [ -f "$f" ] && archive=$f && break; done
  fi
  if [ -n "$archive" ]; then
    export SCALING_MLPS_DATA="$work/data"; mkdir -p "$SCALING_MLPS_DATA/cifar10"
    step data 90 "$py" benchmarks/cifar_data.py --archive "$archive" --data-dir "$SCALING_MLPS_DATA"
  else
    echo "no CIFAR-10 archive (--cifar10-archive, .gpu_data/cifar10.tar.gz): timings on random images" | tee -a "$log"
  fi
fi

step tests 150 "$py" -m pytest -m cuda -o addopts= -q -p no:cacheprovider tests
grep -E "(passed|failed|skipped|error|deselected).* in [0-9.]+s" "$log" | tail -n 1 > "$parts/tests_summary.txt"; report >/dev/null
if [ "$dry" = 1 ]; then
  step lion 60 "$py" benchmarks/lion_step.py --tiny --json "$parts/lion.json"
  step throughput 60 "$py" benchmarks/gpu_throughput.py --tiny --json "$parts/throughput.json"
else
  step lion 40 "$py" benchmarks/lion_step.py --archs B_6-Wi_256 B_6-Wi_1024 B_12-Wi_1024 --json "$parts/lion.json"
  step throughput 190 "$py" benchmarks/gpu_throughput.py --modes none default reduce-overhead --json "$parts/throughput.json"
fi
step table1_row 110 "$py" benchmarks/table1_row.py "${dryflag[@]}" --max-seconds "$([ "$dry" = 1 ] && echo 20 || echo 60)" \
  --save-model "$work/row.pt" --json "$parts/table1_row.json"
step tta 45 "$py" benchmarks/tta_speed.py "${dryflag[@]}" $([ -f "$work/row.pt" ] && echo --model "$work/row.pt") --json "$parts/tta.json"

echo "gpu_check: $(( $(date +%s) - start ))s in all" | tee -a "$log"
cat "$(report | sed 's/^report: //')"
failed=$(awk -F'\t' '$2 != 0 {print $1}' "$parts/steps.tsv" | tr '\n' ' ')
if [ -n "$failed" ]; then echo "gpu_check: steps that did not pass: $failed"; exit 1; fi
echo "gpu_check: all steps passed"
