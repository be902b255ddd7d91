# SPDX-License-Identifier: MIT
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.tlsutil import Pki, make_pki

ROOT = Path(__file__).resolve().parents[1]
# Real data nobody on this project wrote (tests/data/README.md says where each file is from).
DATA = ROOT / "tests" / "data"
SANITIZE = os.environ.get("STRATUM_SANITIZE") == "1"


def data_file(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.fail(f"test data {path} is missing")
    return path


def signing_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(
        data_file("signing.json").read_text()
    )["cases"]
    return cases


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Test certificates made once per session with the openssl CLI."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make wheelhouse` once per session (the installed-wheel and deployment tests)."""
    from tests.packaging import build_wheelhouse

    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))
