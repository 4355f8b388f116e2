#!/usr/bin/env python3
"""The one summary `bash bench/run.sh` ends with: issue 11's targets read
from what the run left in bench/results/ (the newest harness run, make
serve's memory, the index at 100 to 100,000 files, proxied pages).

Ratios are Envelope over the peer for req/s and the peer over Envelope for
times (> 1: Envelope is better); only figures from one run are compared.

    .venv/bin/python bench/summary.py [bench/results]
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

PEERS = ("pypiserver", "devpi", "nginx")
EXTRAS = ("envelope", "envelope-nginx")
MEMORY_BUDGET_MB = 200
P99_BUDGET_MS = 20
TARGET_OVER_BEST_PEER = 5  # Python alone: each page at least 5x the better of pypiserver and devpi
UV_WITHIN = 1.5  # nginx-fronted: uv pip compile within 1.5x of static nginx


def median(rows: list[dict], key: str) -> float | None:
    values = [row[key] for row in rows if row.get(key) is not None]
    return statistics.median(values) if values else None


def harness(results: Path) -> list[str]:
    runs = sorted(results.glob("results-*.json"))
    if not runs:
        return ["(no harness run in bench/results: bench/index_vs_peers.sh)"]
    data = json.loads(runs[-1].read_text())
    res = data["results"]
    lines = [f"Harness run {data['meta']['when']} ({runs[-1].name}), medians of {data['meta']['args']['reps']} reps:",
             "", f"{'server':16} {'/simple/ req/s':>15} {'p99':>9} {'page req/s':>11} {'p99':>9} {'uv compile':>11}"]
    figures = {}
    for name in (*PEERS, *EXTRAS):
        if name not in res:
            continue
        r = res[name]
        fig = {"root": median(r["root"], "rps"), "root_p99": median(r["root"], "p99_ms"),
               "page": median(r["page"], "rps"), "page_p99": median(r["page"], "p99_ms"), "uv": median(r["uv"], "s")}
        figures[name] = fig
        lines.append(f"{name:16} {fig['root']:>15,.0f} {fig['root_p99']:>7.1f}ms {fig['page']:>11,.0f} "
                     f"{fig['page_p99']:>7.1f}ms {fig['uv']:>10.2f}s")
    lines += ["", "Ratios (req/s: Envelope/peer; p99 and uv: peer/Envelope; > 1 is Envelope ahead):",
              f"{'':16} {'vs':12} {'/simple/':>9} {'page':>9} {'p99 /simple/':>13} {'p99 page':>9} {'uv':>7}"]
    for extra in EXTRAS:
        for peer in PEERS:
            if extra in figures and peer in figures:
                e, p = figures[extra], figures[peer]
                lines.append(f"{extra:16} {peer:12} {e['root'] / p['root']:>8.2f}x {e['page'] / p['page']:>8.2f}x "
                             f"{p['root_p99'] / e['root_p99']:>12.2f}x {p['page_p99'] / e['page_p99']:>8.2f}x "
                             f"{p['uv'] / e['uv']:>6.2f}x")
    if "envelope" in figures and {"pypiserver", "devpi"} <= figures.keys():
        e = figures["envelope"]
        best_root = max(figures["pypiserver"]["root"], figures["devpi"]["root"])
        best_page = max(figures["pypiserver"]["page"], figures["devpi"]["page"])
        ok = (e["root"] >= TARGET_OVER_BEST_PEER * best_root and e["page"] >= TARGET_OVER_BEST_PEER * best_page
              and max(e["root_p99"], e["page_p99"]) < P99_BUDGET_MS)
        lines += ["", f"Target, Python alone: >= {TARGET_OVER_BEST_PEER}x the better peer on both pages, p99 < "
                      f"{P99_BUDGET_MS} ms: {e['root'] / best_root:.2f}x and {e['page'] / best_page:.2f}x, "
                      f"p99 {e['root_p99']:.1f}/{e['page_p99']:.1f} ms -> {'MET' if ok else 'NOT MET'}"]
    if "envelope-nginx" in figures and "nginx" in figures:
        ratio = figures["envelope-nginx"]["uv"] / figures["nginx"]["uv"]
        lines.append(f"Target, nginx-fronted uv pip compile within {UV_WITHIN}x of static nginx: {ratio:.2f}x -> "
                     f"{'MET' if ratio <= UV_WITHIN else 'NOT MET'}")
    return lines


def memory(results: Path) -> list[str]:
    path = results / "serve-memory.json"
    if not path.exists():
        return ["(no make-serve memory figure: bench/serve_memory.py)"]
    data = json.loads(path.read_text())
    lines = [f"make serve after light use: {data['pss_mb']:.0f} MB PSS in {data['processes']} processes "
             f"(budget {MEMORY_BUDGET_MB} MB) -> {'MET' if data['pss_mb'] <= MEMORY_BUDGET_MB else 'NOT MET'}"]
    if data.get("pss_mb_after_wrk"):
        lines.append(f"  after wrk on both pages: {data['pss_mb_after_wrk']:.0f} MB; "
                     + ", ".join(f"{path} {row['rps']:,.0f} req/s p99 {row['p99_ms']:.1f} ms"
                                 for path, row in data["wrk"].items()))
    return lines


def scale(results: Path) -> list[str]:
    path = results / "index-scale.json"
    if not path.exists():
        return ["(no index-scale figure: bench/index_scale.py)"]
    rows = json.loads(path.read_text())
    lines = ["Index as the organization grows (req/s, p99):"]
    for size in sorted({row["files"] for row in rows}):
        cells = [f"{row['path']} {row['rps']:,.0f} ({row['p99_ms']:.1f} ms)" for row in rows if row["files"] == size]
        lines.append(f"  {size:>7,} files: " + ", ".join(cells))
    for suffix in ("/simple/", "/probe/"):
        rps = [row["rps"] for row in rows if row["path"].endswith(suffix)]
        if len(rps) > 1:
            lines.append(f"  {suffix}: largest/smallest organization {rps[-1] / rps[0]:.2f}x")
    return lines


def proxied(results: Path) -> list[str]:
    path = results / "proxied-pages.json"
    if not path.exists():
        return ["(no proxied-page figure: bench/proxied_pages.py)"]
    row = json.loads(path.read_text().strip().splitlines()[-1])
    lines = [f"Proxied pages: warm {row['warm_rps']:,.0f} req/s (p99 {row['warm_p99_ms']:.0f} ms), "
             f"stale {row['stale_rps']:,.0f} req/s (p99 {row['stale_p99_ms']:.0f} ms), cold {row['cold_s']:.2f} s, "
             f"{row['upstream_requests']} upstream requests"]
    if row.get("private_rps"):
        lines.append(f"  warm proxied / private page of as many files: {row['warm_rps'] / row['private_rps']:.2f}x")
    return lines


def main() -> None:
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results"
    print("== Summary (issue 11 targets) ==")
    for section in (harness, memory, scale, proxied):
        print()
        print("\n".join(section(results)))


if __name__ == "__main__":
    main()
