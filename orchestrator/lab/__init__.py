# SPDX-License-Identifier: MIT
"""The latency lab: the engine and its competitors measured on the wire.

- `orchestrator.lab.btcp2p`: a scapy layer for the Bitcoin P2P messages the lab
  crafts and reads back from captures (needs the `lab` extra: scapy);
- `orchestrator.lab.topology`: two network namespaces on a veth pair, the
  simulators in one, the system under test in the other;
- `orchestrator.lab.pybot`: the Python reference bot, written as users write it.

Nothing here is imported by the product: scapy is only needed by the lab.
"""
