"""Run the emulator on its own: ``python3 -m tests.emulator [--port 8765]``.

Prints the ``[discord]`` config section to point ``newsdesk run`` at it, then
serves until interrupted; on exit, prints what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tests.emulator.server import Emulator


async def serve(port: int) -> None:
    emu = await Emulator().start(port=port)
    try:
        print("[discord]")
        print(f'token = "{emu.token}"')
        print(f'api_base = "{emu.api_base}"')
        print(f'gateway_url = "{emu.gateway_url}"', flush=True)
        await asyncio.Event().wait()
    finally:
        print(emu.failure_report())
        await emu.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m tests.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
