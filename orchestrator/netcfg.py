# SPDX-License-Identifier: MIT
"""The trading interface, checked and (with --apply) set up: pyroute2 for links,
addresses, routes and ethtool features/channels; /proc for IRQ affinity and the
busy-poll sysctls.

Every item is reported as ok / would change / changed / not supported / wrong,
with the reason. Nothing changes unless `apply` is given; what a device cannot
do (a veth has no IRQs, rings or coalescing settings) is "not supported", not a
failure. /sys and /proc are parameters so that IRQ handling can be tested on a
fake tree.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.config import NetworkConfig

OK, WOULD_CHANGE, CHANGED = "ok", "would change", "changed"
NOT_SUPPORTED, WRONG = "not supported", "wrong"


@dataclass(frozen=True)
class Item:
    name: str
    status: str
    detail: str


def parse_cpulist(text: str) -> set[int]:
    """ "0-3,8" -> {0, 1, 2, 3, 8} """
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def cpulist(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _change(name: str, current: Any, wanted: Any, apply: bool, do: Callable[[], object],
            what: str) -> Item:
    """The item for one setting: ok, or would change / changed / wrong."""
    if current == wanted:
        return Item(name, OK, f"{what} {current}")
    if not apply:
        return Item(name, WOULD_CHANGE, f"{what} {current} -> {wanted}")
    try:
        do()
    except OSError as exc:
        return Item(name, WRONG, f"{what} {current}, could not set {wanted}: {exc.strerror}")
    except Exception as exc:  # pyroute2 raises its own NetlinkError family
        return Item(name, WRONG, f"{what} {current}, could not set {wanted}: {exc}")
    return Item(name, CHANGED, f"{what} {current} -> {wanted}")


# -- IRQs and sysctls (files) ----------------------------------------------------


def nic_irqs(interface: str, sys_root: Path = Path("/sys"),
             proc_root: Path = Path("/proc")) -> list[int]:
    """The NIC's IRQs: its MSI vectors, else /proc/interrupts lines naming it."""
    msi = sys_root / "class" / "net" / interface / "device" / "msi_irqs"
    if msi.is_dir():
        return sorted(int(p.name) for p in msi.iterdir() if p.name.isdigit())
    irqs = []
    try:
        lines = (proc_root / "interrupts").read_text().splitlines()
    except OSError:
        return []
    for line in lines[1:]:
        fields = line.split()
        if fields and fields[0].rstrip(":").isdigit() and any(
                f == interface or f.startswith(interface + "-") for f in fields[1:]):
            irqs.append(int(fields[0].rstrip(":")))
    return irqs


def irq_items(interface: str, hot_cpu: int | None, usable: set[int], apply: bool,
              sys_root: Path = Path("/sys"), proc_root: Path = Path("/proc")) -> list[Item]:
    """Keeps the NIC's interrupts off the hot core (on every other usable core)."""
    irqs = nic_irqs(interface, sys_root, proc_root)
    if not irqs:
        return [Item("IRQ affinity", NOT_SUPPORTED,
                     f"{interface} has no interrupts of its own (a virtual device)")]
    wanted = usable - {hot_cpu} if hot_cpu is not None and len(usable) > 1 else usable
    items = []
    for irq in irqs:
        path = proc_root / "irq" / str(irq) / "smp_affinity_list"
        try:
            current = parse_cpulist(path.read_text())
        except OSError as exc:
            items.append(Item(f"IRQ {irq} affinity", WRONG, f"{path}: {exc.strerror}"))
            continue

        def write(path: Path = path) -> None:
            try:
                path.write_text(cpulist(wanted))
            except OSError as exc:
                if exc.errno == errno.EIO:   # a managed IRQ: the kernel places it
                    raise OSError(exc.errno, "managed by the kernel") from None
                raise

        item = _change(f"IRQ {irq} affinity", cpulist(current), cpulist(wanted), apply, write,
                       "CPUs")
        if item.status == WRONG and "managed by the kernel" in item.detail:
            item = Item(item.name, NOT_SUPPORTED, item.detail)
        items.append(item)
    return items


def sysctl_items(busy_poll_us: int | None, apply: bool,
                 proc_root: Path = Path("/proc")) -> list[Item]:
    """net.core.busy_poll and busy_read (µs a socket read may spin)."""
    if busy_poll_us is None:
        return []
    items = []
    for name in ("busy_poll", "busy_read"):
        path = proc_root / "sys" / "net" / "core" / name
        try:
            current = int(path.read_text())
        except (OSError, ValueError):
            items.append(Item(f"net.core.{name}", NOT_SUPPORTED, f"{path} cannot be read"))
            continue
        items.append(_change(f"net.core.{name}", current, busy_poll_us, apply,
                             functools.partial(path.write_text, str(busy_poll_us)), "µs"))
    return items


# -- links (pyroute2) --------------------------------------------------------------


def _link_items(ipr: Any, interface: str, cfg: NetworkConfig, apply: bool) -> list[Item]:
    index = ipr.link_lookup(ifname=interface)[0]
    link = ipr.get_links(index)[0]
    up = bool(link["flags"] & 1)
    items = [_change("link state", "up" if up else "down", "up", apply,
                     lambda: ipr.link("set", index=index, state="up"), "state")]
    if cfg.mtu is not None:
        items.append(_change("MTU", link.get_attr("IFLA_MTU"), cfg.mtu, apply,
                             lambda: ipr.link("set", index=index, mtu=cfg.mtu), "bytes"))
    present = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
               for a in ipr.get_addr(index=index)}
    for address in cfg.addresses:
        net = ipaddress.ip_interface(address)
        items.append(_change(f"address {address}", address in present, True, apply,
                             functools.partial(ipr.addr, "add", index=index,
                                               address=str(net.ip),
                                               prefixlen=net.network.prefixlen),
                             "present:"))
    for route in cfg.routes:
        dst, _, gateway = route.partition(" via ")
        items.append(_change(f"route {route}", _route_present(ipr, dst), True, apply,
                             functools.partial(ipr.route, "add", dst=dst,
                                               gateway=gateway or None, oif=index),
                             "present:"))
    return items


def _route_present(ipr: Any, dst: str) -> bool:
    """Whether the main table has a route to exactly dst (a listing, not a lookup:
    a lookup fails when the network is unreachable)."""
    net = ipaddress.ip_network(dst, strict=False)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    return any(r.get_attr("RTA_DST") == str(net.network_address) and
               r["dst_len"] == net.prefixlen for r in ipr.get_routes(family=family))


def _ethtool_items(interface: str, cfg: NetworkConfig, apply: bool) -> list[Item]:
    from pyroute2.ethtool import Ethtool
    from pyroute2.ethtool.ioctl import NotSupportedError

    items = []
    eth = Ethtool()
    try:
        features = eth.get_features(interface)
        for name, wanted in cfg.features.items():
            feature = features.features.get(name)
            if feature is None:
                items.append(Item(f"feature {name}", NOT_SUPPORTED,
                                  f"{interface} has no such feature"))
            elif not feature.available and feature.enable != wanted:
                items.append(Item(f"feature {name}", NOT_SUPPORTED,
                                  f"fixed at {'on' if feature.enable else 'off'} by the driver"))
            else:
                def set_feature(feature: Any = feature, wanted: bool = wanted) -> None:
                    feature.enable = wanted
                    eth.set_features(interface, features)

                items.append(_change(f"feature {name}", bool(feature.enable), wanted, apply,
                                     set_feature, "enabled:"))
        if cfg.channels is not None:
            items.append(_channels(eth, interface, cfg.channels, apply))
        for name, getter in (("rings", eth.get_rings), ("coalescing", eth.get_coalesce)):
            try:
                getter(interface)
                items.append(Item(name, OK, "readable; not managed by this version"))
            except (NotSupportedError, OSError):
                items.append(Item(name, NOT_SUPPORTED, f"the {interface} driver has no {name}"))
    finally:
        eth.close()
    return items


def _channels(eth: Any, interface: str, wanted: int, apply: bool) -> Item:
    from pyroute2.ethtool.ioctl import NotSupportedError

    try:
        ch = eth.get_channels(interface)
    except (NotSupportedError, OSError):
        return Item("channels", NOT_SUPPORTED, f"the {interface} driver has no channels")
    combined = ch.max_combined > 0
    limit = ch.max_combined if combined else min(ch.max_rx, ch.max_tx)
    current = ch.combined_count if combined else ch.rx_count
    if wanted > limit:
        return Item("channels", NOT_SUPPORTED, f"{interface} has at most {limit}")

    def set_channels() -> None:
        counts = {"combined_count": wanted} if combined else \
            {"rx_count": wanted, "tx_count": wanted}
        eth.set_channels(interface, counts)

    return _change("channels", current, wanted, apply, set_channels,
                   "combined" if combined else "rx/tx")


def check_network(cfg: NetworkConfig, hot_cpu: int | None, usable: set[int],
                  apply: bool = False) -> list[Item]:
    """Every item of the trading interface's set-up."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=cfg.interface):
            return [Item("trading interface", WRONG, f"{cfg.interface} does not exist here")]
        items = [Item("trading interface", OK, f"{cfg.interface} exists")]
        try:
            items += _link_items(ipr, cfg.interface, cfg, apply)
        except Exception as exc:  # pyroute2's netlink errors have no common base here
            items.append(Item("link settings", WRONG, f"could not read them: {exc}"))
    try:
        items += _ethtool_items(cfg.interface, cfg, apply)
    except Exception as exc:
        items.append(Item("ethtool settings", WRONG, f"could not read them: {exc}"))
    items += irq_items(cfg.interface, hot_cpu, usable, apply)
    items += sysctl_items(cfg.busy_poll_us, apply)
    return items
