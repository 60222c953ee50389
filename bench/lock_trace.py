"""How long SQLite transactions waited for the write lock and held it, per process and
transaction, from the traces bench/locktrace/sitecustomize.py wrote. Not a test:

    mkdir /tmp/locks && LOCKTRACE_DIR=/tmp/locks PYTHONPATH=bench/locktrace \\
        .venv/bin/python bench/first_page_bench.py --db sqlite
    .venv/bin/python bench/lock_trace.py /tmp/locks

Wait and hold are wall-clock times (milliseconds), so they grow with the load on the
machine; "CPU held" is the CPU time the holding thread spent while it held the lock, which
does not. "held": the share of the traced time the lock was held (wall, then CPU).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import rig


def main() -> None:
    folder = Path(sys.argv[1])
    groups: dict[tuple[str, str], list[tuple[float, float, float]]] = defaultdict(list)
    span = [float("inf"), 0.0]
    for path in sorted(folder.glob("locks.*.txt")):
        role = path.name.split(".")[1]
        for line in path.read_text().splitlines():
            at, wait, hold, cpu, where = line.split(" ", 4)
            row = (float(wait), float(hold), float(cpu))
            groups[(role, where)].append(row)
            groups[(role, "ALL")].append(row)
            span = [min(span[0], float(at)), max(span[1], float(at))]
    seconds = max(span[1] - span[0], 1e-9)
    print(f"{seconds:.1f} s traced")
    print(
        "| process | transaction | count | wait p50 | p99 | max | hold p50 | p99 | max "
        "| CPU held p50 | p99 | held | CPU held |"
    )
    print("|---|---|" + "---:|" * 11)
    for (role, where), rows in sorted(groups.items(), key=lambda g: (g[0][0], -len(g[1]))):
        waits, holds, cpus = ([r[i] for r in rows] for i in range(3))
        cells = [rig.percentile(waits, 50), rig.percentile(waits, 99), max(waits)]
        cells += [rig.percentile(holds, 50), rig.percentile(holds, 99), max(holds)]
        cells += [rig.percentile(cpus, 50), rig.percentile(cpus, 99)]
        print(
            f"| {role} | {where} | {len(rows)} | "
            + " | ".join(f"{c * 1000:.1f}" for c in cells)
            + f" | {sum(holds) / seconds:.0%} | {sum(cpus) / seconds:.0%} |"
        )


if __name__ == "__main__":
    main()
