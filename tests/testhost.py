# SPDX-License-Identifier: MIT
"""A real second host for the deployment tests: a Debian 12 root made once with
debootstrap (cached outside the repo), booted with systemd as its PID 1 by
systemd-nspawn inside a network namespace of its own, reached over SSH on a
198.18.0.0/15 address with a key made here.

Like many colocated hosts it has no route anywhere but to us: the Debian packages
the roles install are baked into the image (the roles' apt tasks then find them
installed), and the engine comes from a wheelhouse the controller built.
Everything is torn down on exit, also when a test fails: the container is powered
off, its overlay unmounted, the namespace and veth removed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# What the host has before Ansible: a minimal Debian with systemd, sshd and
# Python for Ansible, plus every package the roles install (it reaches no mirror).
IMAGE_PACKAGES = (
    "systemd", "systemd-sysv", "libpam-systemd", "dbus", "openssh-server", "python3",
    "python3-apt", "python3-venv", "python3-packaging", "liburing2", "libbearssl0", "tuned",
    "chrony", "irqbalance", "iproute2", "procps", "ca-certificates",
)
CACHE = Path(os.environ.get("STRATUM_TESTHOST_CACHE", "/var/cache/stratum-testhost"))
BOOT_TIMEOUT_S = 120


def _run(*cmd: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check)


def _mirror() -> str:
    """The Debian mirror this machine's apt uses (the only one it reaches)."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in source.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def image() -> Path:
    """The cached Debian root for this package list, built on first use (~3 min)."""
    missing = [tool for tool in ("debootstrap", "systemd-nspawn") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the test host needs {' and '.join(missing)} (make test installs them)")
    key = hashlib.sha256(" ".join(IMAGE_PACKAGES).encode()).hexdigest()[:12]
    root = CACHE / f"bookworm-{key}"
    if (root / "etc" / "os-release").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    building = CACHE / f".building-{key}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    result = _run("debootstrap", "--variant=minbase", "--include=" + ",".join(IMAGE_PACKAGES),
                  "bookworm", str(building), _mirror(), timeout=900, check=False)
    if result.returncode != 0:
        log = building / "debootstrap" / "debootstrap.log"
        detail = log.read_text()[-2000:] if log.exists() else result.stderr[-2000:]
        shutil.rmtree(building, ignore_errors=True)
        if "Failed getting release file" in detail or "Could not resolve" in detail:
            pytest.skip(f"debootstrap cannot reach the Debian mirror {_mirror()}")
        raise RuntimeError(f"debootstrap failed:\n{detail}")
    building.rename(root)
    for stale in CACHE.glob("bookworm-*"):   # images of other package lists
        if stale != root:
            shutil.rmtree(stale, ignore_errors=True)
    return root


@dataclass
class BootedHost:
    """A booted test host: `address` is its SSH address, `gateway` ours on its veth."""

    name: str
    address: str
    gateway: str
    root: Path          # the host's file system (the overlay), readable from here
    key: Path           # the SSH private key for root@address

    def ssh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
             f"root@{self.address}", command],
            capture_output=True, text=True, timeout=timeout)

    def inventory_vars(self) -> dict[str, str]:
        return {
            "ansible_host": self.address, "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                       "-o UserKnownHostsFile=/dev/null",
        }


def _wait_ssh(address: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the test host stopped while booting:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection((address, 22), timeout=1) as s:
            if s.recv(4).startswith(b"SSH-"):
                return
        time.sleep(0.5)
    raise RuntimeError(f"no sshd on {address}:22 after {BOOT_TIMEOUT_S} s:\n"
                       f"{log.read_text()[-3000:]}")


def _free_subnet() -> int:
    """A third octet of 198.19.x.0/30 no interface here uses (two runs at once,
    e.g. a developer's and CI's, must not share an address)."""
    used = _run("ip", "-o", "-4", "addr", "show").stdout
    for _ in range(100):
        subnet = random.randrange(1, 255)
        if f" 198.19.{subnet}." not in used:
            return subnet
    raise RuntimeError("no free 198.19.x.0/30 for a test host")


@contextlib.contextmanager
def booted(work: Path) -> Iterator[BootedHost]:
    """Boots a test host from the cached image on 198.19.<x>.2/30; we are .1
    (198.19.0.0/16: the benchmark range's half the latency lab does not use)."""
    if os.geteuid() != 0:
        pytest.skip("the test host needs root (network namespaces, mounts, nspawn)")
    lower = image()
    tag = secrets.token_hex(3)
    name, veth = f"st-host-{tag}", f"sth{tag}"
    subnet = _free_subnet()
    gateway, address = f"198.19.{subnet}.1", f"198.19.{subnet}.2"
    upper, scratch, root = work / "upper", work / "overlay-work", work / "root"
    for folder in (upper, scratch, root):
        folder.mkdir(parents=True)
    key = work / "id_ed25519"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    with contextlib.ExitStack() as stack:
        _run("mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={lower},upperdir={upper},workdir={scratch}", str(root))
        stack.callback(_run, "umount", "-l", str(root), check=False)
        ssh_dir = root / "root" / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
        (root / "etc" / "hostname").write_text(f"{name}\n")
        _run("ip", "netns", "add", name)
        stack.callback(_run, "ip", "netns", "del", name, check=False)
        _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        stack.callback(_run, "ip", "link", "del", veth, check=False)
        _run("ip", "addr", "add", f"{gateway}/30", "dev", veth)
        _run("ip", "link", "set", veth, "up")
        for cmd in (("ip", "addr", "add", f"{address}/30", "dev", "eth0"),
                    ("ip", "link", "set", "eth0", "up"), ("ip", "link", "set", "lo", "up")):
            _run("ip", "netns", "exec", name, *cmd)
        Path("/run/systemd/nspawn/propagate").mkdir(parents=True, exist_ok=True)
        log = work / "nspawn.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["systemd-nspawn", "--quiet", "-D", str(root), "--boot", "--register=no",
                 "--keep-unit", f"--machine={name}", f"--network-namespace-path=/run/netns/{name}",
                 # io_uring is not in nspawn's default system call filter.
                 "--system-call-filter=io_uring_setup io_uring_enter io_uring_register"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        stack.callback(_power_off, proc)
        _wait_ssh(address, proc, log)
        yield BootedHost(name, address, gateway, root, key)


def _power_off(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM asks nspawn for a clean shutdown of the container; then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
