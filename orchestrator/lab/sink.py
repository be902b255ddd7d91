# SPDX-License-Identifier: MIT
"""The venue side of the floor: a plain TCP server that reads and discards,
so the floor's records have somewhere to go (its packets are what the lab
times, on the host side of the veth).

    python -m orchestrator.lab.sink --host IP --port N --ready-file PATH
        [--stats-file PATH]

Writes PATH once listening; with --stats-file, on SIGTERM/SIGINT, one JSON
object: {"connections": N, "bytes": [bytes read per connection]}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from orchestrator.sim import listen_address, serve_until_stopped


async def serve(args: argparse.Namespace) -> None:
    received: list[int] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(received)
        received.append(0)
        try:
            while data := await reader.read(1 << 16):
                received[index] += len(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_client, args.host, args.port)
    Path(args.ready_file).write_text(f"{server.sockets[0].getsockname()[1]}\n")
    await serve_until_stopped(server)
    if args.stats_file:
        Path(args.stats_file).write_text(json.dumps(
            {"connections": len(received), "bytes": received}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", type=listen_address, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--stats-file")
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
