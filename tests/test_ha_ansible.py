# SPDX-License-Identifier: MIT
"""Ansible for host failover, rendered (cheap: no host): the etcd role's
/etc/default/etcd names a three-member static cluster; the stratum role renders
stratum_ha as an [ha] table the engine's own parser accepts."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import HA_KEYS, Table, _ha
from tests.conftest import ROOT

ANSIBLE = Path(sys.executable).parent / "ansible"
ROLES = ROOT / "ansible" / "roles"


def render(template: Path, variables: dict[str, Any], tmp: Path) -> str:
    (tmp / "vars.json").write_text(json.dumps(variables))
    out = tmp / "rendered"
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-i", "localhost,",
         "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{tmp / 'vars.json'}",
         "-m", "ansible.builtin.template", "-a", f"src={template} dest={out}"],
        capture_output=True, text=True, timeout=120, cwd=tmp)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out.read_text()


def test_etcd_role_renders_a_three_member_cluster(tmp_path: Path) -> None:
    members = {"e1": "198.18.20.1", "e2": "198.18.20.2", "e3": "198.18.20.3"}
    defaults = yaml.safe_load((ROLES / "etcd" / "defaults" / "main.yml").read_text())
    text = render(ROLES / "etcd" / "templates" / "etcd.default.j2",
                  {**defaults, "etcd_name": "e2", "etcd_address": members["e2"],
                   "etcd_members": members}, tmp_path)
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line
               and not line.startswith("#"))
    assert env["ETCD_NAME"] == '"e2"'
    assert env["ETCD_LISTEN_CLIENT_URLS"] == '"http://198.18.20.2:2379"'
    assert env["ETCD_INITIAL_CLUSTER"].strip('"').split(",") == [
        f"{n}=http://{a}:2380" for n, a in members.items()]


def test_stratum_role_renders_ha_the_engine_accepts(tmp_path: Path) -> None:
    ha = {"name": "colo-a", "endpoints": ["http://198.18.20.1:2379", "http://198.18.20.2:2379",
                                          "http://198.18.20.3:2379"],
          "key": "/stratum/prod/leader", "ttl": 3, "peer_state_dir": "/srv/colo-b/state"}
    defaults = yaml.safe_load((ROLES / "stratum" / "defaults" / "main.yml").read_text())
    text = render(ROLES / "stratum" / "templates" / "stratum.toml.j2",
                  {**defaults, "stratum_ha": ha, "stratum_bitcoin_peers": ["198.18.0.1:8333"],
                   "stratum_venues": []}, tmp_path)
    data = tomllib.loads(text)
    assert data["ha"] == ha
    parsed = _ha(Table("stratum.toml", "ha", data["ha"], HA_KEYS, {"name", "endpoints"}),
                 Path("/etc/stratum"))
    assert parsed.name == "colo-a" and len(parsed.endpoints) == 3
    assert parsed.peer_state_dir == Path("/srv/colo-b/state")
    no_ha = render(ROLES / "stratum" / "templates" / "stratum.toml.j2",
                   {**defaults, "stratum_bitcoin_peers": ["198.18.0.1:8333"],
                    "stratum_venues": []}, tmp_path)
    assert "ha" not in tomllib.loads(no_ha)
