# SPDX-License-Identifier: MIT
"""The demo's own pieces: its files, its histogram."""

from __future__ import annotations

import stat
from contextlib import ExitStack
from pathlib import Path

from orchestrator._native import lib
from orchestrator.demo import World, histogram_figure
from orchestrator.engine import Histogram


def test_the_files_holding_the_secret_are_owner_only(tmp_path: Path) -> None:
    """Issue 10: the simulator's accounts file (with the HMAC secret) was 0644."""
    (tmp_path / "accounts.json").write_text("{}")
    (tmp_path / "accounts.json").chmod(0o644)         # left wider by an earlier run
    with ExitStack() as stack:
        world = World(tmp_path, stack)
    secret = world.account.credentials["secret"]
    for name in ("accounts.json", "secrets.toml"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        assert secret in (tmp_path / name).read_text(), name


def histogram(counts: dict[int, int]) -> Histogram:
    buckets = [0] * lib.ST_HIST_BUCKETS
    for bucket, n in counts.items():
        buckets[bucket] = n
    return Histogram(sum(counts.values()), 0, 0, tuple(buckets))


def test_the_histogram_counts_in_whole_numbers_and_marks_p50_p99() -> None:
    """Issue 10 item 6: the count axis showed fractions (0.25, 0.5 ...) and the
    percentiles were nowhere on the picture."""
    send = histogram({100: 1, 104: 2, 120: 1})          # few triggers: few per bucket
    ack = histogram({150: 2, 160: 2})
    stages = {"trigger_to_send": send, "trigger_to_ack": ack}
    fig = histogram_figure(stages)
    [ax] = fig.axes
    fig.canvas.draw()
    low, high = ax.get_ylim()
    ticks = [t for t in ax.get_yticks() if low <= t <= high]
    assert ticks and all(t == int(t) for t in ticks), ticks
    marks = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    for name, h in stages.items():
        for q in (50, 99):
            [label] = [m for m in marks if m.startswith(f"{name} p{q} ")]
            assert marks[label] == h.percentile(q / 100) / 1000
