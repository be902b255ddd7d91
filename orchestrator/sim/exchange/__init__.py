# SPDX-License-Identifier: MIT
"""A TLS WebSocket exchange simulator (Binance Spot WebSocket API and Kraken WS v2 subsets).

Run it as ``python -m orchestrator.sim.exchange --help``; see ``__main__.py`` for the usage summary.
The pure signature checks in :mod:`.signing` can be imported on their own.
"""
