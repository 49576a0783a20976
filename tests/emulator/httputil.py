"""Request parsing and Discord-shaped responses."""

from __future__ import annotations

import email.parser
import email.policy
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.emulator.errors import ApiError
from tests.emulator.messages import UploadedFile

API_PREFIX = "/api/v10"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", no charset: discord.py compares the header verbatim.
    return web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers
    )


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass(frozen=True)
class Body:
    payload: dict[str, Any]
    uploads: list[UploadedFile]

    def summary(self) -> Any:
        if not self.uploads:
            return self.payload
        files = [f"{u.filename} ({len(u.data)} B)" for u in self.uploads]
        return {"payload_json": self.payload, "files": files}


_BODY = web.RequestKey("body", Body)


async def read_body(request: web.Request) -> Body:
    """JSON, or multipart/form-data with ``payload_json`` and ``files[n]`` (cached on the request)."""
    cached = request.get(_BODY)
    if cached is not None:
        return cached
    raw = await request.read()
    body = Body({}, [])
    content_type = request.headers.get("Content-Type", "")
    if raw and content_type.startswith("multipart/form-data"):
        body = _parse_multipart(content_type, raw)
    elif raw:
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from e
        body = Body(payload if isinstance(payload, dict) else {"_": payload}, [])
    request[_BODY] = body
    return body


def _parse_multipart(content_type: str, raw: bytes) -> Body:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    payload: dict[str, Any] = {}
    uploads: list[UploadedFile] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if name == "payload_json":
            payload = json.loads(data)
        elif isinstance(name, str) and (name.startswith("files[") or name == "file"):
            index = int(name[6:-1]) if name.startswith("files[") else 0
            filename = part.get_filename() or f"file{index}"
            uploads.append(UploadedFile(index, filename, part.get_content_type(), data))
    return Body(payload, uploads)


def int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except (KeyError, ValueError) as e:
        raise ApiError(404, 0, "404: Not Found") from e


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as e:
        raise ApiError(
            400,
            50035,
            "Invalid Form Body",
            {name: {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Value is not int."}]}},
        ) from e
