#!/usr/bin/env python3
"""Runs the benchmark matrix for metaxy-rs and Python Metaxy side by side and prints a
Markdown table of ratios (peer time / metaxy-rs time, per cell, measured in one sitting).

    python3 crates/metaxy-bench/matrix.py --bench target/release/metaxy-bench \
        --peer-python .venv/bin/python --sizes 1000000,10000000 --backends memory,duckdb

Every JSON line of both programs is also appended to --jsonl (default bench-results.jsonl),
so a run can be re-tabulated with --table-only.

Both programs run with glibc's transparent huge pages for large allocations
(GLIBC_TUNABLES=glibc.malloc.hugetlb=1: the multi-gigabyte buffers of a 10M resolve are
otherwise faulted in 4 KiB page by page on kernels with THP in `madvise` mode); every JSON
line records it as "glibc_hugetlb". --no-huge-pages runs both without it.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def run(cmd, huge_pages):
    env = dict(os.environ)
    if huge_pages:
        tunables = [t for t in env.get("GLIBC_TUNABLES", "").split(":") if t and not t.startswith("glibc.malloc.hugetlb=")]
        env["GLIBC_TUNABLES"] = ":".join(tunables + ["glibc.malloc.hugetlb=1"])
    print("$", " ".join(cmd), f"(glibc.malloc.hugetlb={int(huge_pages)})", file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for r in rows:
        r["glibc_hugetlb"] = huge_pages
        print("  ", json.dumps(r), file=sys.stderr, flush=True)
    return rows


def table(rows, backends):
    peer = {(r["graph"], r["n"], r["phase"]): r for r in rows if r["impl"].startswith("metaxy-0")}
    ours = {(r["impl"], r["graph"], r["n"], r["phase"]): r for r in rows if r["impl"].startswith("metaxy-rs")}
    head = ["graph", "N", "phase", "Metaxy 0.1.11 (s)"]
    for b in backends:
        head += [f"{b} (s)", f"{b} ×", f"{b} peak MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keys = sorted({(r["graph"], r["n"], r["phase"]) for r in rows if r["impl"].startswith("metaxy-rs")},
                  key=lambda k: (k[0], k[1], k[2] != "new"))
    for g, n, phase in keys:
        p = peer.get((g, n, phase))
        cells = [g, f"{n:,}", phase, f"{p['median_s']:.3f}" if p else "—"]
        for b in backends:
            r = ours.get((f"metaxy-rs-{b}", g, n, phase))
            if r is None:
                cells += ["—", "—", "—"]
                continue
            ratio = f"{p['median_s'] / r['median_s']:.0f}×" if p else "—"
            cells += [f"{r['median_s']:.3f}", ratio, f"{r.get('peak_mib', 0):,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="target/release/metaxy-bench", help="the metaxy-bench binary")
    ap.add_argument("--peer-python", help="a Python with metaxy[delta]==0.1.11 (omit to skip the peer)")
    ap.add_argument("--graphs", default="simple,wide")
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--backends", default="memory,duckdb")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peer-rounds", type=int, default=3)
    ap.add_argument("--jsonl", default="bench-results.jsonl")
    ap.add_argument("--table-only", action="store_true", help="tabulate --jsonl without running")
    ap.add_argument("--no-huge-pages", action="store_true", help="run without GLIBC_TUNABLES=glibc.malloc.hugetlb=1")
    a = ap.parse_args()
    backends = a.backends.split(",")
    rows = []
    huge = not a.no_huge_pages
    if not a.table_only:
        with open(a.jsonl, "a") as sink:
            for g in a.graphs.split(","):
                for n in a.sizes.split(","):
                    got = []
                    if a.peer_python:
                        got += run([a.peer_python, str(HERE / "peer" / "peer_metaxy.py"), n, g, str(a.peer_rounds)], huge)
                    for b in backends:
                        got += run([a.bench, "--graph", g, "--n", n, "--backend", b, "--rounds", str(a.rounds)], huge)
                    for r in got:
                        sink.write(json.dumps(r) + "\n")
                    rows += got
    else:
        rows = [json.loads(l) for l in open(a.jsonl) if l.startswith("{")]
    print(table(rows, backends))


if __name__ == "__main__":
    main()
