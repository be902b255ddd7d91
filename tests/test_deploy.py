# SPDX-License-Identifier: MIT
"""Deployment, proven on a real second host: ansible/site.yml provisions a booted
Debian 12 test host (tests/testhost.py) over SSH from a wheelhouse built here,
as README's "Deploy" section says, and the engine it starts trades in paper mode
against the simulators, which run on our side of the host's veth.

The order matters and is the operator's: bad inventories fail before any change;
`--check --diff` reports and fails nothing; the real run (`make deploy`)
succeeds; a second run changes nothing. Heavy: marked `integration`."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.demo import (
    DEPOSITS,
    LEGS_PER_TRIGGER,
    RATE_TX_PER_S,
    THRESHOLD_BTC,
    WALLET_A,
    WALLET_B,
    spawn,
    wait_file,
)
from orchestrator.sim import mainnet_block, self_signed_localhost
from tests.conftest import ROOT
from tests.packaging import clean_env
from tests.testhost import BootedHost, booted

# The module fixture builds the image (once), the wheelhouse and runs five playbooks.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

COIN = 100_000_000
API_KEY = "deploy" + "K" * 58
EXCHANGE_NAME = "exchange.test"   # the simulator's certificate name; its address is given
PEER_PORTS = (18333, 18334)


@dataclass
class Deployment:
    host: BootedHost
    wheelhouse: Path
    secret: str
    vault_password: str
    inventory: Path
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    left_by_bad_input: str = ""     # what the roles would create, looked for after bad input


def _yaml(data: Any) -> str:
    return json.dumps(data, indent=2)  # JSON is YAML


def _host_vars(host: BootedHost, ws_port: int, cert_pem: str) -> dict[str, Any]:
    return {
        **host.inventory_vars(),
        "host_tuning_apt_update_cache": False,   # the host reaches no mirror
        "host_tuning_isolated_cores": "1",
        "stratum_apt_update_cache": False,
        "stratum_paper": True,
        "stratum_loop_mode": "interrupt",
        "stratum_min_announcers": 1,
        "stratum_cpus_hot": "1", "stratum_cpus_orchestrator": "0",
        "stratum_mlockall": False,
        "stratum_metrics_port": 9464,
        # The trading interface as the test host has it: checked item by item.
        "stratum_network": {"interface": "eth0", "mtu": 1500,
                            "addresses": [f"{host.address}/30"]},
        "stratum_bitcoin_peers": [f"{host.gateway}:{port}" for port in PEER_PORTS],
        "stratum_strategy": {
            "network": "mainnet",
            "whale": {"threshold_btc": 1_000_000, "action": "whale"},
            "exchanges": [
                {"name": "exchange-a", "deposit_threshold_btc": THRESHOLD_BTC,
                 "action": "deposit_a", "addresses": [WALLET_A]},
                {"name": "exchange-b", "deposit_threshold_btc": THRESHOLD_BTC,
                 "action": "deposit_b", "addresses": [WALLET_B]},
            ],
        },
        "stratum_trust_files": {"exchange-sim": cert_pem},
        "stratum_venues": [{
            "name": "sim-binance", "profile": "binance",
            "url": f"wss://{EXCHANGE_NAME}:{ws_port}/ws-api/v3", "address": host.gateway,
            "trust": "/etc/stratum/trust/exchange-sim.pem",
            "book_url": f"wss://{EXCHANGE_NAME}:{ws_port}/ws/btcusdt@bookTicker",
            "standby": True, "auth": "hmac", "api_key": "sim_key", "secret": "sim_secret",
            "response_type": "RESULT", "on": ["deposit_a", "deposit_b"],
            "risk": {"max_quantity": "0.05", "max_notional": "5000", "max_open_orders": 8,
                     "orders_per_second": 4, "burst": 8, "max_price_age": 2.0},
            "legs": [{"symbol": "BTCUSDT", "side": side, "quantity": "0.01", "type": "LIMIT",
                      "time_in_force": "IOC", "offset_bps": offset, "tick": "0.01",
                      "price_decimals": 2, "quantity_decimals": 8}
                     for side, offset in (("SELL", 10), ("SELL", 20))],
        }],
    }


def _write_inventory(work: Path, host_vars: dict[str, Any], secret: str,
                     vault_password: str, name: str = "inventory") -> Path:
    """An inventory folder as README's Deploy section lays it out: hosts, group
    vars, and the secrets in an ansible-vault file."""
    inventory = work / name
    group_vars = inventory / "group_vars" / "stratum_hosts"
    group_vars.mkdir(parents=True)
    connection = {k: v for k, v in host_vars.items() if k.startswith("ansible_")}
    (inventory / "hosts.yml").write_text(_yaml(
        {"stratum_hosts": {"hosts": {"testhost": connection}}}))
    (group_vars / "vars.yml").write_text(_yaml(
        {k: v for k, v in host_vars.items() if k not in connection}))
    password_file = work / "vault-password"
    password_file.write_text(vault_password)
    password_file.chmod(0o600)
    vault = group_vars / "vault.yml"
    vault.write_text(_yaml({"stratum_secrets": {"sim_key": API_KEY, "sim_secret": secret}}))
    subprocess.run([_tool("ansible-vault"), "encrypt", "--vault-password-file",
                    str(password_file), str(vault)], check=True, capture_output=True,
                   env=clean_env(), timeout=60)
    assert secret not in vault.read_text()
    return inventory


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _playbook(deployment: Deployment, *args: str, extra: dict[str, Any] | None = None,
              inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [_tool("ansible-playbook"), "-v", "-i", str(inventory or deployment.inventory),
           "--vault-password-file", str(deployment.inventory.parent / "vault-password"),
           "-e", f"stratum_wheelhouse={deployment.wheelhouse}"]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    return subprocess.run([*cmd, *args, "site.yml"], cwd=ROOT / "ansible", capture_output=True,
                          text=True, timeout=1200, env=clean_env() | {"ANSIBLE_NOCOLOR": "1"})


def _recap(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = re.search(r"testhost\s+:\s+(.*)", run.stdout)
    assert match, f"no play recap:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


@pytest.fixture(scope="module")
def deployment(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("deploy")
    with ExitStack() as stack:
        host = stack.enter_context(booted(work / "host"))
        sim = work / "sim"
        sim.mkdir()
        cert, key = self_signed_localhost(sim, EXCHANGE_NAME)
        secret = secrets.token_hex(32)
        accounts = sim / "accounts.json"
        accounts.write_text(json.dumps({"binance": [{"apiKey": API_KEY, "hmacSecret": secret}]}))
        accounts.chmod(0o600)
        exchange = stack.enter_context(spawn(
            [sys.executable, "-m", "orchestrator.sim.exchange", "--host", host.gateway,
             "--cert", str(cert), "--key", str(key), "--accounts", str(accounts),
             "--record-dir", str(sim / "record"), "--ready-file", str(sim / "ready")],
            sim / "exchange.log"))
        ws_port = json.loads(wait_file(sim / "ready", exchange, "the exchange simulator"))[
            "ws_port"]
        vault_password = secrets.token_urlsafe(24)
        host_vars = _host_vars(host, ws_port, cert.read_text())
        inventory = _write_inventory(work, host_vars, secret, vault_password)
        deployment = Deployment(host, wheelhouse, secret, vault_password, inventory)
        # A wrong type and a missing variable: refused by the argument specs first.
        deployment.runs["wrong type"] = _playbook(
            deployment, extra={"stratum_metrics_port": "not-a-port"})
        without_peers = {k: v for k, v in host_vars.items() if k != "stratum_bitcoin_peers"}
        deployment.runs["missing"] = _playbook(deployment, inventory=_write_inventory(
            work, without_peers, secret, vault_password, "inventory-missing"))
        deployment.left_by_bad_input = host.ssh(
            "ls -d /opt/stratum /etc/stratum /etc/tuned/stratum-latency 2>/dev/null").stdout
        deployment.runs["check"] = _playbook(deployment, "--check", "--diff")
        # The peers listen before the engine starts: it connects to both at once and
        # each deposit is announced by both (min_announcers = 2).
        deposits = [a for addr, btc in DEPOSITS for a in ("--deposit", f"{addr}:{btc * COIN}")]
        for i, port in enumerate(PEER_PORTS):
            stack.enter_context(spawn(
                [sys.executable, "-m", "orchestrator.sim.btc_peer", "--host", host.gateway,
                 "--port", str(port), "--block", str(mainnet_block()),
                 "--rate", str(RATE_TX_PER_S), *deposits, *(["--wtxid"] if i else [])],
                sim / f"peer{i}.log"))
        deployment.runs["first"] = _deploy(deployment)
        deployment.runs["second"] = _playbook(deployment)
        yield deployment


def _deploy(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    """The real run, by README's command."""
    return subprocess.run(
        ["make", "--no-print-directory", "deploy", f"INVENTORY={deployment.inventory}",
         f"VAULT_PASSWORD_FILE={deployment.inventory.parent / 'vault-password'}",
         f"WHEELHOUSE={deployment.wheelhouse}", "ANSIBLE_ARGS=-v"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
        env=clean_env() | {"ANSIBLE_NOCOLOR": "1"})


def test_bad_inventory_fails_in_the_argument_specs_before_any_change(
        deployment: Deployment) -> None:
    for case, variable in (("wrong type", "stratum_metrics_port"),
                           ("missing", "stratum_bitcoin_peers")):
        run = deployment.runs[case]
        assert run.returncode != 0, case
        assert "Check the variables of every role before any change" in run.stdout, case
        assert variable in run.stdout, case
        assert _recap(run)["changed"] == 0, case
    assert deployment.left_by_bad_input == ""


def test_check_mode_reports_and_fails_nothing(deployment: Deployment) -> None:
    run = deployment.runs["check"]
    assert run.returncode == 0, run.stdout[-5000:]
    recap = _recap(run)
    assert recap["failed"] == 0 and recap["unreachable"] == 0
    assert recap["changed"] > 0     # a bare host: there is everything to do


def test_the_real_run_succeeds_and_a_second_changes_nothing(deployment: Deployment) -> None:
    first, second = deployment.runs["first"], deployment.runs["second"]
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    assert _recap(first)["failed"] == 0
    assert second.returncode == 0, second.stdout[-5000:]
    assert _recap(second)["changed"] == 0, second.stdout[-5000:]


def test_stratum_check_on_the_host_is_ok_or_not_supported(deployment: Deployment) -> None:
    result = deployment.host.ssh("/opt/stratum/venv/bin/stratum check --json "
                                 "--config /etc/stratum/stratum.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    items = json.loads(result.stdout)["items"]
    assert {i["status"] for i in items} <= {"ok", "not supported", "not checked"}, items
    assert all(i["detail"] for i in items if i["status"] == "not supported")


def test_the_unit_runs_hardened_and_the_engine_trades(deployment: Deployment) -> None:
    host = deployment.host
    shown = host.ssh("systemctl show stratum -p ActiveState -p User -p NoNewPrivileges "
                     "-p ProtectSystem -p LimitMEMLOCK -p CPUAffinity -p Restart").stdout
    assert "ActiveState=active" in shown
    for expected in ("User=stratum", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "LimitMEMLOCK=infinity", "Restart=on-failure", "CPUAffinity=0-1"):
        assert expected in shown, shown
    expected_orders = sum(btc >= THRESHOLD_BTC for _, btc in DEPOSITS) * LEGS_PER_TRIGGER
    deadline = time.monotonic() + 90
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = host.ssh("/opt/stratum/venv/bin/stratum status --json "
                          "--config /etc/stratum/stratum.toml")
        if result.returncode == 0:
            status = json.loads(result.stdout)
            if status["orders_sent"] >= expected_orders:
                break
        time.sleep(1)
    assert status.get("triggers", 0) >= 1, status or result.stderr
    assert status["orders_sent"] == expected_orders, status
    assert status["acks"] == expected_orders, status


def test_secrets_stay_in_the_secrets_file(deployment: Deployment) -> None:
    host = deployment.host
    stat = host.ssh("stat -c '%a %U' /etc/stratum/secrets.toml").stdout.split()
    assert stat == ["600", "stratum"]
    for name, run in deployment.runs.items():
        for text in (run.stdout, run.stderr):
            assert deployment.secret not in text, name
            assert deployment.vault_password not in text, name
    # Every file the deployment wrote on the host is in the overlay's upper layer.
    holders = subprocess.run(["grep", "-rlsF", deployment.secret, str(host.root.parent / "upper")],
                             capture_output=True, text=True).stdout.split()
    assert [Path(h).relative_to(host.root.parent / "upper") for h in holders] \
        == [Path("etc/stratum/secrets.toml")]
    journal = host.ssh("journalctl --no-pager -o cat").stdout
    assert journal and deployment.secret not in journal
