# SPDX-License-Identifier: MIT
"""Bitcoin addresses to output scripts.

Base58 (P2PKH, P2SH) and segwit v0 (P2WPKH, P2WSH) through python-bitcoinlib;
segwit v1+ (P2TR, bech32m, BIP 350), which python-bitcoinlib 0.12 does not
read, through the small decoder below, written from BIP 173/350.
"""

from __future__ import annotations

import bitcoin
from bitcoin.wallet import CBitcoinAddress, CBitcoinAddressError

from orchestrator.errors import ConfigError

# python-bitcoinlib's chain names, and each network's bech32 prefix.
CHAINS = {"mainnet": "mainnet", "testnet3": "testnet", "signet": "signet", "regtest": "regtest"}
HRP = {"mainnet": "bc", "testnet3": "tb", "signet": "tb", "regtest": "bcrt"}

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _convert_bits(data: list[int], frm: int, to: int) -> list[int] | None:
    acc = bits = 0
    out = []
    for value in data:
        acc = (acc << frm) | value
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & ((1 << to) - 1))
    if bits >= frm or (acc << (to - bits)) & ((1 << to) - 1):
        return None  # padding must be zero and shorter than a group
    return out


def _segwit_v1_script(address: str, hrp: str) -> bytes | None:
    """Script for a bech32m address of witness version 1..16, else None."""
    if address.lower() != address and address.upper() != address:
        return None
    addr = address.lower()
    pos = addr.rfind("1")
    if addr[:pos] != hrp or pos + 7 > len(addr) or len(addr) > 90:
        return None
    if any(c not in _CHARSET for c in addr[pos + 1:]):
        return None
    data = [_CHARSET.find(c) for c in addr[pos + 1:]]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _polymod(expanded + data) != _BECH32M_CONST:
        return None
    version, program = data[0], _convert_bits(data[1:-6], 5, 8)
    if not 1 <= version <= 16 or program is None or not 2 <= len(program) <= 40:
        return None
    if version == 1 and len(program) != 32:
        return None  # P2TR programs are 32 bytes
    return bytes([0x50 + version, len(program)]) + bytes(program)


def script_for(address: str, network: str = "mainnet") -> bytes:
    """The scriptPubKey that pays `address` on `network`; ConfigError if invalid."""
    if network not in CHAINS:
        raise ConfigError(f"unknown network {network!r}; choose from {', '.join(CHAINS)}")
    script = _segwit_v1_script(address, HRP[network])
    if script is not None:
        return script
    bitcoin.SelectParams(CHAINS[network])
    try:
        return bytes(CBitcoinAddress(address).to_scriptPubKey())
    except CBitcoinAddressError as exc:
        raise ConfigError(f"{address!r} is not a valid {network} address ({exc})") from None
    except Exception:  # python-bitcoinlib asserts on some malformed bech32 input
        raise ConfigError(f"{address!r} is not a valid {network} address") from None
