# SPDX-License-Identifier: MIT
"""One CDF per competitor of `stratum bench wire --json`, on the same axes.

    python -m orchestrator.lab.plot REPORT.json OUT.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def cdf_png(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for row in report["results"]:
        values = row["samples_us"]
        ax.step(values, [(i + 1) / len(values) for i in range(len(values))], where="post",
                label=f"{row['name']} (p50 {row['p50']} µs, n={row['n']})")
    ax.set_xscale("log")
    ax.set_xlabel("wire to wire, µs (kernel timestamps, host side of the veth)")
    ax.set_ylabel("fraction of triggers")
    ax.set_title(f"stratum bench wire on {report['cpu']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    report = next(json.loads(line) for line in Path(args[0]).read_text().splitlines()
                  if line.startswith("{") and '"suite": "wire"' in line)
    cdf_png(report, Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
