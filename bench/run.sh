#!/usr/bin/env bash
# Every benchmark in bench/README.md, in the order of its tables (~25 min on
# 2 cores; nothing else should run meanwhile). Results land in bench/results/;
# it ends with one summary of the targets (bench/summary.py).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s dev-install
mkdir -p bench/results
bash bench/index_vs_peers.sh --reps 3 "$@"
.venv/bin/python bench/serve_memory.py --wrk 10 | tee bench/results/serve-memory.md
.venv/bin/python bench/serve_memory.py --ui | tee bench/results/serve-memory-ui.md
.venv/bin/python bench/index_scale.py | tee bench/results/index-scale.md
.venv/bin/python bench/big_upload.py | tee bench/results/big-upload.md
{ .venv/bin/python bench/release_ingest.py --wheels 30 --size-mb 8 --reps 3
  .venv/bin/python bench/release_ingest.py --wheels 1 --size-mb 200 --reps 1; } | tee bench/results/release-ingest.md
.venv/bin/python bench/page_bytes.py | tee bench/results/page-bytes.md
.venv/bin/python bench/proxied_pages.py | tee bench/results/proxied-pages.json
.venv/bin/python bench/summary.py
