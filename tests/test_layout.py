# SPDX-License-Identifier: MIT
"""docs/ARCHITECTURE.md §2 lists the modules that exist and no others: every
entry of orchestrator/ and every C file of native/src/ is named in its layout
block, and every name there exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_MODULES = {"__init__.py", "__pycache__", "py.typed", "_native.pyi"}


def layout_block() -> list[str]:
    text = (ROOT / "docs/ARCHITECTURE.md").read_text()
    section = text[text.index("## 2. Layout"):]
    return section.split("```\n")[1].splitlines()


def entries(block: list[str], parent: str) -> dict[str, str]:
    """The entries under `parent` (lines indented two spaces): name -> its text,
    continuation lines included."""
    start = block.index(next(line for line in block if line.startswith(parent + " ")
                             or line == parent))
    out: dict[str, str] = {}
    name = ""
    for line in block[start + 1:]:
        if not line.startswith(" "):
            break
        if line.startswith("  ") and not line.startswith("   "):
            name, _, text = line.strip().partition("  ")
            out[name] = text
        else:
            out[name] += " " + line.strip()
    return out


def test_every_orchestrator_module_is_listed_and_every_listed_one_exists() -> None:
    listed = set(entries(layout_block(), "orchestrator/"))
    present = {p.name + ("/" if p.is_dir() else "") for p in (ROOT / "orchestrator").iterdir()
               if p.name not in NOT_MODULES and not p.name.endswith(".so")}
    listed_paths = {name for name in listed if "/" not in name.rstrip("/")}
    assert present - listed_paths == set(), "in orchestrator/, not in ARCHITECTURE §2"
    assert listed_paths - present == set(), "in ARCHITECTURE §2, not in orchestrator/"


def test_every_native_source_is_listed_and_every_listed_one_exists() -> None:
    text = entries(layout_block(), "native/")["src/"]
    listed = set(re.findall(r"[a-z0-9_]+\.[ch]\b", text))
    present = {p.name for p in (ROOT / "native/src").iterdir()}
    assert present - listed == set(), "in native/src, not in ARCHITECTURE §2"
    assert listed - present == set(), "in ARCHITECTURE §2, not in native/src"


# `obj._name` where obj is not self/cls: one object reaching into another's
# insides (modules named _x, sys._getframe and os._exit aside).
REACH = re.compile(r"\b(?!self\b|cls\b|orchestrator\b|sys\b|os\b)[a-z_]\w*\._[a-z]\w*")


def test_no_module_reaches_into_another_objects_private_attributes() -> None:
    """Native objects pass between wrappers through their public `cdata`."""
    reaches = [f"{p.relative_to(ROOT)}:{n}: {m.group(0)}"
               for p in sorted((ROOT / "orchestrator").rglob("*.py"))
               for n, line in enumerate(p.read_text().splitlines(), 1)
               for m in REACH.finditer(line)]
    assert reaches == []
