"""Real HTTP servers on 127.0.0.1 that answer like the Dremio usage API and the Databricks Account API.

Each server keeps the requests it saw and can be told to misbehave (status codes with Retry-After,
malformed bodies, looping page tokens) so the clients are tested over real sockets.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def json(value: Any, status: int = 200, **headers: str) -> Answer:
        return Answer(status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers})


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""  # what a POST sent


Handler = Callable[[Request], Answer]


@contextmanager
def serve(handler: Handler) -> Iterator[tuple[str, list[Request]]]:
    """Run `handler` behind a real HTTP server; yields its base URL and the list of requests seen."""
    seen: list[Request] = []

    class _Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer(b"")

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _answer(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            request = Request(parts.path, query, dict(self.headers), body)
            seen.append(request)
            answer = handler(request)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


class DremioUsage:
    """Dremio's `GET /v0/usage`: serves `objects` whose startTime is inside the request's filter, paged.

    `objects` is a list of dicts as the API sends them, with `usage` as the JSON number's text.
    Page tokens are offsets; `faults` maps a request number (1-based) to an answer sent instead.
    """

    def __init__(self, objects: list[dict[str, str]], token: str = "dremio-secret-token") -> None:
        self.objects = objects
        self.token = token
        self.faults: dict[int, Answer] = {}
        self.fail_windows_from: datetime | None = None  # answer 503 for windows starting at or after this
        self.requests = 0

    def __call__(self, request: Request) -> Answer:
        self.requests += 1
        if self.requests in self.faults:
            return self.faults[self.requests]
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Answer.json({"errorMessage": "unauthorized"}, 401)
        low, high = (int(part.split()[-1]) for part in request.query["filter"].split("&&"))
        if self.fail_windows_from is not None and low >= _ms(self.fail_windows_from):
            return Answer.json({"errorMessage": "temporarily unavailable"}, 500)
        chosen = [
            o
            for o in self.objects
            if low <= _ms(datetime.fromisoformat(o["startTime"])) < high
            and o["type"] == request.query.get("groupBy", "PROJECT")
        ]
        size = int(request.query.get("maxResults", "20"))
        offset = int(request.query.get("pageToken", "0"))
        page = chosen[offset : offset + size]
        following = str(offset + size) if offset + size < len(chosen) else ""
        data = ",".join(
            "{" + ", ".join(f'"{k}": {v}' if k == "usage" else f'"{k}": {json.dumps(v)}' for k, v in o.items()) + "}"
            for o in page
        )
        body = f'{{"data": [{data}], "previousPageToken": "", "nextPageToken": "{following}"}}'
        return Answer(200, body.encode(), {"Content-Type": "application/json"})


def hourly(ids: list[str], first: datetime, hours: int, amount: Callable[[str, int], str]) -> list[dict[str, str]]:
    """Hourly PROJECT usage objects for each id, `hours` hours from `first`."""
    objects = []
    for hour in range(hours):
        start = datetime.fromtimestamp(first.timestamp() + 3600 * hour, UTC)
        end = datetime.fromtimestamp(start.timestamp() + 3600, UTC)
        for ident in ids:
            objects.append(
                {
                    "id": ident,
                    "type": "PROJECT",
                    "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "usage": amount(ident, hour),
                }
            )
    return objects


class AccountApi:
    """The Account API's usage download: one CSV per requested month from `months`, or a fault."""

    def __init__(self, account_id: str, months: dict[str, str], token: str = "dapi-secret-token") -> None:
        self.account_id = account_id
        self.months = months
        self.token = token
        self.faults: dict[str, Answer] = {}  # month -> answer sent instead of its CSV

    def __call__(self, request: Request) -> Answer:
        if request.path == "/.well-known/databricks-config":
            return Answer.json({})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Answer.json({"error_code": "UNAUTHENTICATED", "message": f"invalid token {self.token}"}, 401)
        if request.path != f"/api/2.0/accounts/{self.account_id}/usage/download":
            return Answer.json({"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"}, 404)
        month = request.query["start_month"]
        if month in self.faults:
            return self.faults[month]
        return Answer(200, self.months.get(month, "").encode(), {"Content-Type": "text/plain"})
