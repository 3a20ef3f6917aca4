#!/usr/bin/env bash
# End-to-end extraction speed on a GPU machine, in one command (see benchmarks/gpu_extract.py):
#
#   benchmarks/gpu_extract.sh [--fraction 0.2] [--batch-size 64] [--work DIR] [--dry-run]
#
# Writes a synthetic MARS test set (a fraction of MARS's 681,089 frames), runs `evaluate` with
# ResNet-50 at 256x128 with and without autocast, the model alone on the device, and prints one
# table. Stops with one line where torch sees no CUDA GPU (--dry-run: the same on the CPU, tiny).
# The whole run is bounded by REIDBENCH_GPU_BENCH_LIMIT seconds (default 470, under 8 minutes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-}"
if [ -z "$py" ]; then
    if [ -x "$here/../.venv/bin/python" ]; then py="$here/../.venv/bin/python"; else py=python3; fi
fi
if ! "$py" -c "import reidbench, torch" 2>/dev/null; then
    echo "error: benchmarks/gpu_extract.sh: expected a Python with reidbench and torch, got $py" \
         "without them. Run 'make .venv/.installed' (with a CUDA build of torch for the GPU)" \
         "or set PYTHON=/path/to/python." >&2
    exit 2
fi
limit="${REIDBENCH_GPU_BENCH_LIMIT:-470}"
status=0
timeout --signal=INT --kill-after=10 "$limit" "$py" "$here/gpu_extract.py" "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 130 ]; then
    echo "error: benchmarks/gpu_extract.sh: expected to finish within $limit s, got stopped" \
         "there (the rows above are what was measured). Pass a smaller --fraction." >&2
fi
exit "$status"
