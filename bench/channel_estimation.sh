#!/usr/bin/env bash
# The channel-estimation benchmark of docs/benchmarks.md (issue 3), end to end.
#
#   bash bench/channel_estimation.sh [WORKDIR]      (default: bench/work-ce)
#
# Simulates the default TDL-A ranges (train 50k, val 2k) and the test grid (SNR 0-25 dB step 5
# x Doppler 200/600/1000 Hz x delay spread 50/150/300 ns x 100 slots = 5400), trains
# AdaFortiTran and FortiTran (cpu size) on the same data for the same 4 epochs (200k samples),
# evaluates both against LS, genie LMMSE and robust LMMSE, and copies the report to
# bench/results/ce_eval.json. Both trainings are resumable: re-run the script after a kill.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$here/work-ce}"
mkdir -p "$work" && cd "$work"

sim() { [ -f "$1" ] || wirelessml simulate ofdm -o "$@"; }
sim train.h5 -n 50000 --seed 1
sim val.h5 -n 2000 --seed 2
sim test.h5 -n 5400 --seed 3 --set mode=grid

train() {  # model, folder: fresh, or continue a killed/timed-out run
  local resume=()
  [ -f "runs/$2/run.json" ] && resume=(--resume)
  wirelessml train channel-estimation -m "$1" --train train.h5 --val val.h5 -o "runs/$2" \
    --epochs 4 --max-time 2h --train-set patience=100 -q "${resume[@]}"
}
train adafortitran ada
train fortitran forti

wirelessml evaluate runs/ada runs/forti --data test.h5 --out runs/eval-test
cp runs/eval-test/report.json "$here/results/ce_eval.json"
