"""Decompression bombs: cut at ``fetch.max_bytes`` with bounded memory.

aiohttp before 3.13.3 inflated a whole received chunk at once (CVE-2025-69223): with 3.12.15
these bombs peaked at 132 MB (gzip) and 2.2 GB (brotli) despite ``max_bytes``; 3.13.3-3.13.5
refused them as "a broken response" after 67 and 104 MB (a 32 MiB cap per chunk); from 3.14
they are cut at ``max_bytes`` after 6 and 11 MB.
Each fetch here runs in a child process that resets its RSS high-water mark after a warm-up
fetch and reports the peak over the bomb's fetch: the figure is the fetcher's alone (not the
imports', the server's, nor the rest of the test session's).
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import brotli
import pytest
from aiohttp import web

from tests.loopback import serve

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
#: What each bomb inflates to.
BOMB_BYTES = 1 << 30
#: Growth of the fetching process allowed over its warmed-up baseline (max_bytes is 5 MB).
PEAK_BOUND = 50 * MIB
_PAGE = b"<!doctype html><title>small</title><p>" + b"news " * 2000


def gzip_zeros(total: int) -> bytes:
    """A gzip body of ``total`` zero bytes (``total`` a multiple of 1 MiB), made in milliseconds.

    After a full flush deflate forgets its history, so every 1 MiB of zeros compresses to the
    same block: one block, repeated, with a true CRC and length in the trailer.
    """
    zeros = bytes(MIB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.flush()
    crc, count = 0, total // MIB
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * count + tail + struct.pack("<II", crc, total & 0xFFFFFFFF)


def brotli_zeros(total: int) -> bytes:
    compressor = brotli.Compressor(quality=5)
    zeros = bytes(MIB)
    parts = [compressor.process(zeros) for _ in range(total // MIB)]
    return b"".join([*parts, compressor.finish()])


def test_the_gzip_bomb_is_what_it_claims() -> None:
    small = gzip_zeros(3 * MIB)
    assert zlib.decompress(small, 31) == bytes(3 * MIB)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {"gzip": gzip_zeros(BOMB_BYTES), "br": brotli_zeros(BOMB_BYTES)}


@pytest.fixture
async def bomb_site(bombs: dict[str, bytes]) -> AsyncIterator[str]:
    async def bomb(request: web.Request) -> web.Response:
        encoding = request.match_info["encoding"]
        return web.Response(
            body=bombs[encoding], headers={"Content-Type": "text/html", "Content-Encoding": encoding}
        )

    async def small(request: web.Request) -> web.Response:
        encoding = request.match_info["encoding"]
        body = zlib.compress(_PAGE, wbits=31) if encoding == "gzip" else brotli.compress(_PAGE)
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": encoding})

    app = web.Application()
    app.router.add_get("/bomb/{encoding}", bomb)
    app.router.add_get("/small/{encoding}", small)
    async with serve(app) as base:
        yield base


async def _fetch_in_child(base: str, encoding: str) -> dict[str, object]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys, tests.test_fetch_bombs as m; m.child_main(sys.argv[1], sys.argv[2])",
        base,
        encoding,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode == 0, err.decode()
    report: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_a_decompression_bomb_is_cut_at_max_bytes_with_bounded_memory(
    bomb_site: str, bombs: dict[str, bytes], encoding: str
) -> None:
    report = await _fetch_in_child(bomb_site, encoding)
    print(
        f"{encoding} bomb: {len(bombs[encoding]):,} bytes on the wire for {BOMB_BYTES:,};"
        f" baseline {report['baseline']:,} B, peak {report['peak']:,} B,"
        f" growth {report['growth']:,} B, {report['seconds']:.2f} s"
    )
    assert report["error"] == "TooLargeError", report
    assert report["message"] == "The web page is larger than the 5 MB limit."
    assert isinstance(report["growth"], int)
    assert report["growth"] < PEAK_BOUND, report


def child_main(base: str, encoding: str) -> None:
    """Run in the child: warm up on a small page of ``encoding``, then fetch the bomb."""
    asyncio.run(_child(base, encoding))


async def _child(base: str, encoding: str) -> None:
    import time

    from bot.config import FetchSettings
    from bot.errors import FetchError
    from bot.fetch import Fetcher

    report: dict[str, object] = {"error": None, "message": None}
    async with Fetcher(FetchSettings(allow_private_networks=True)) as fetcher:
        small = await fetcher.fetch(f"{base}/small/{encoding}")
        assert small.body == _PAGE
        baseline = _reset_peak_rss()
        began = time.monotonic()
        try:
            await fetcher.fetch(f"{base}/bomb/{encoding}")
        except FetchError as e:
            report.update(error=type(e).__name__, message=e.message)
        report["seconds"] = time.monotonic() - began
    peak = _peak_rss()
    report.update(baseline=baseline, peak=peak, growth=peak - baseline)
    print(json.dumps(report))


def _reset_peak_rss() -> int:
    """Reset this process's RSS high-water mark (Linux: clear_refs 5); return the RSS now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _peak_rss() -> int:
    return _status_bytes("VmHWM")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise LookupError(field)
