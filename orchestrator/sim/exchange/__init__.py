# SPDX-License-Identifier: MIT
"""A TLS WebSocket exchange simulator: one module per venue, listed in :mod:`.venues`.

Run it as ``python -m orchestrator.sim.exchange --help``; see ``__main__.py`` for the usage summary.
Each venue module's pure signature checks can be imported on their own.
"""
