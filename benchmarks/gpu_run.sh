#!/usr/bin/env bash
# One prepared run of the final preset on a lent GPU (H100/H200), from the repo root on a bare machine. It is
# sized for the device tool (at most 10 minutes per call, 15 minutes of device time per session, start included):
# about 6 minutes with a carried judge, so a rerun still fits.
#
#   Here, once:  mkdir -p .gpu_carry && cp "$(python -m lab5_utils judge ensure)" .gpu_carry/judge.pth
#   Device call: JUDGE=.gpu_carry/judge.pth bash benchmarks/gpu_run.sh     (carry: .gpu_carry; timeout ~480 s)
#   CPU check:   GPU_RUN_DRY=1 bash benchmarks/gpu_run.sh                  (tiny settings, ~1 min; JUDGE optional)
#
# Carrying the judge (45 MB; .gpu_carry/ is git-ignored) means the GPU figures are read by the very judge of the
# CPU figures in report.md; without JUDGE the script renders the judge's own set (12,000 scenes, seed 1) and
# trains one (JUDGE_EPOCHS, default 10; several minutes more).
# Stages: versions and device; render the synthetic default (6,003 scenes, seed 0); our WGAN-GP step vs the
# reference's (bench_throughput.py, fp32 weights; cuDNN's default TF32 convolutions on both sides); train
# PRESET (default wgan_gp) with bf16 autocast for TRAIN_MINUTES (default 3) of training time; its metrics
# (python -m lab5_utils train evaluates last.pt's G and EMA: 10 noise seeds on test.json / new_test.json,
# judge-feature Frechet distance) are copied to $OUT at once; best.pt scored too (picked on the same files:
# optimistic, labelled); 8-per-row grids of the EMA generator.
# $OUT gets run.log, metrics.json, stats.jsonl, best_metrics.json, grid_test.png, grid_new_test.png.
# Environment: OUT (default /tmp/gpu_out), WORK (default /tmp/gpu_work), JUDGE, TRAIN_MINUTES, JUDGE_EPOCHS,
# PRESET, PYTHON (default .venv/bin/python if it runs, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-/tmp/gpu_out}"
WORK="${WORK:-/tmp/gpu_work}"
DRY="${GPU_RUN_DRY:-0}"
if [[ -z "${PYTHON:-}" ]]; then
    if .venv/bin/python -c "" 2>/dev/null; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export LAB5_CACHE="$WORK/cache"  # dataset cache and anything else the package caches: inside WORK
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run.log") 2>&1
TEE_PID=$!
trap 'exec >&- 2>&-; wait "$TEE_PID" 2>/dev/null || true' EXIT  # run.log gets every line, the last ones too
DATA="$WORK/data" JUDGE_DATA="$WORK/judge_data" RUN="$WORK/run"
rm -rf "$RUN"  # a fresh run every time (no accidental resume)

if [[ "$DRY" == "1" ]]; then
    DEVICE=cpu PRESET="${PRESET:-tiny_wgan_gp}" SCENES=12 JUDGE_SCENES=12 WORKERS=2 SEEDS=2 FRECHET=16
    JUDGE_ARGS=(--tiny --epochs 1 --max-images 24)
    TRAIN_ARGS=(--steps 4 --eval-every 2)
    BENCH_ARGS=(--preset tiny_wgan_gp --rounds 2 --steps 1)
else
    DEVICE=cuda PRESET="${PRESET:-wgan_gp}" SCENES=6003 JUDGE_SCENES=12000 WORKERS="$(nproc)" SEEDS=10 FRECHET=2048
    JUDGE_ARGS=(--epochs "${JUDGE_EPOCHS:-10}")
    TRAIN_ARGS=(--train-minutes "${TRAIN_MINUTES:-3}" --eval-every 1000)
    BENCH_ARGS=(--preset wgan_gp --rounds 5 --steps 10 --warmup 3 --threads "$(nproc)")
fi
export DEVICE SEEDS FRECHET RUN DATA OUT
stage() { echo "== [$(date +%H:%M:%S), ${SECONDS}s] $*"; }

stage "versions and device"
"$PYTHON" - <<'PY'
import os
import platform

import torch

print(f"python {platform.python_version()}, torch {torch.__version__}, cuda available: {torch.cuda.is_available()}")
if os.environ["DEVICE"] == "cuda":
    assert torch.cuda.is_available(), "no CUDA device"
    print(f"device: {torch.cuda.get_device_name()}; TF32 convolutions {torch.backends.cudnn.allow_tf32}, "
          f"TF32 matmul {torch.backends.cuda.matmul.allow_tf32}")
PY

stage "render $SCENES scenes -> $DATA"
if [[ ! -f "$DATA/train.json" ]]; then
    "$PYTHON" -m lab5_utils render --out "$DATA" --scenes "$SCENES" --workers "$WORKERS" --no-progress
fi

if [[ -n "${JUDGE:-}" ]]; then
    stage "judge: $JUDGE (carried)"
    [[ -f "$JUDGE" ]] || { echo "JUDGE=$JUDGE: no such file"; exit 1; }
else
    JUDGE="$WORK/judge.pth"
    stage "render the judge's own set: $JUDGE_SCENES scenes, seed 1 (never the GAN's training images)"
    if [[ ! -f "$JUDGE_DATA/train.json" ]]; then
        "$PYTHON" -m lab5_utils render --out "$JUDGE_DATA" --scenes "$JUDGE_SCENES" --seed 1 --workers "$WORKERS" \
            --no-progress
    fi
    stage "train the judge on $DEVICE"
    "$PYTHON" -m lab5_utils judge train --data "$JUDGE_DATA" --out "$JUDGE" --device "$DEVICE" --no-progress \
        "${JUDGE_ARGS[@]}"
fi
export LAB5_JUDGE="$JUDGE"  # every evaluation below (and the trainer's best.pt choice) uses this judge
sha256sum "$JUDGE"

stage "throughput: our step vs the reference's (fp32 weights), $DEVICE"
"$PYTHON" benchmarks/bench_throughput.py --device "$DEVICE" "${BENCH_ARGS[@]}"

stage "train $PRESET (bf16 autocast) on $DEVICE; then its metrics ($SEEDS seeds, last.pt G and EMA)"
"$PYTHON" -m lab5_utils train --preset "$PRESET" --data "$DATA" --out "$RUN" --device "$DEVICE" --no-progress \
    --set bf16=true --seeds "$SEEDS" --frechet-samples "$FRECHET" "${TRAIN_ARGS[@]}"
cp "$RUN/metrics.json" "$RUN/stats.jsonl" "$OUT/"

stage "images/s, and best.pt (picked on test/new_test: optimistic, not the result)"
"$PYTHON" - <<'PY'
import json
import os
import statistics
from pathlib import Path

from lab5_utils.evaluation.measurement import CONDITION_FILES, MeasureSettings, evaluate_generator
from lab5_utils.gan.checkpoint import load_checkpoint, load_generator
from lab5_utils.gan.log import read_stats
from lab5_utils.judge.cache import ensure_judge
from lab5_utils.judge.model import load_judge
from lab5_utils.report.figures import metrics_table

run, device, out = Path(os.environ["RUN"]), os.environ["DEVICE"], Path(os.environ["OUT"])
rates = [r["images_per_s"] for r in read_stats(run) if r.get("images_per_s")]
median = statistics.median(rates) if rates else float("nan")
print(f"training images/s (real images seen by the critic, median of {len(rates)} log windows): {median:.0f}")
best = {"images_per_s_median": median}
if (run / "best.pt").is_file():
    which = load_checkpoint(run / "best.pt")["best"].get("which")
    G = load_generator(run / "best.pt", ema=which != "G", device=device)
    best["which"] = which
    judge = load_judge(ensure_judge(progress=False), device=device)
    settings = MeasureSettings(seeds=range(int(os.environ["SEEDS"])), frechet_samples=int(os.environ["FRECHET"]),
                               device=device, progress=False)
    best["results"] = evaluate_generator(G, CONDITION_FILES, judge, reference=os.environ["DATA"], settings=settings)
    print(f"best.pt ({which}):\n{metrics_table(best['results'])}")
(out / "best_metrics.json").write_text(json.dumps(best, indent=1, default=str))
PY

stage "grids (EMA generator of last.pt, noise seed 0)"
for cond in test new_test; do
    "$PYTHON" -m lab5_utils generate --ckpt "$RUN/last.pt" --conditions "$cond" --out "$OUT/grid_$cond.png" \
        --device "$DEVICE"
done
stage "done: $(ls "$OUT" | tr '\n' ' ')"
