"""The pipeline page as a Starlette app: the page itself (one HTML file, no build step), a
server-sent event stream every open page reads (the figures when they change, the stream's
new records), and the JSON a click asks for (a record's journey, a key's history). Every
figure comes from the one Monitor, whatever the number of pages open."""
from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ddblab.flow.journey import journey, summary
from ddblab.flow.monitor import Monitor

PAGE = Path(__file__).with_name("page.html")
TICK = 0.25  # how often each event stream looks for news: the most a figure waits to leave
TAIL_BATCH = 200  # records sent at once at most: a page behind a bulk load gets the newest


def event(name: str, data) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


def chain_data(monitor: Monitor) -> dict:
    settings = monitor.live.settings
    return {"chain": [node.as_dict() for node in monitor.nodes], "endpoint": settings.endpoint_url,
            "prefix": settings.prefix}


def record_answer(found) -> Response:
    if found is None:
        return JSONResponse({"error": "not in the stream window (it keeps the newest records only)"}, status_code=404)
    return JSONResponse(json.loads(json.dumps(found, default=str)))


def history_answer(monitor: Monitor, key: str) -> Response:
    if not key:
        return JSONResponse({"error": "say which key: /api/history?key=ada@example.com"}, status_code=400)
    return JSONResponse(json.loads(json.dumps([summary(e) for e in monitor.history(key)], default=str)))


async def updates(monitor: Monitor, chain: dict):
    """One page's event stream: the chain once, then the figures when they change and the
    records as they come."""
    monitor.clients += 1
    try:
        version, seen, errors = -1, 0, None
        yield "retry: 2000\n\n" + event("chain", chain)
        while True:
            snapshot = monitor.snapshot()
            if snapshot["version"] != version or snapshot["errors"] != errors:
                version, errors = snapshot["version"], snapshot["errors"]
                yield event("figures", snapshot)
            fresh, skipped = monitor.records_after(seen, TAIL_BATCH)
            if fresh:
                seen = fresh[-1]["n"]
                yield event("records", {"records": [summary(e) for e in fresh], "skipped": skipped})
            await asyncio.sleep(TICK)
    finally:
        monitor.clients -= 1


def create_app(settings, interval: float = 1.0) -> Starlette:
    monitor = Monitor(settings, interval=interval)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        monitor.start()
        try:
            yield
        finally:
            monitor.stop()

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def events(request: Request) -> Response:
        return StreamingResponse(updates(monitor, chain_data(monitor)), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def record(request: Request) -> Response:
        return record_answer(await asyncio.to_thread(journey, monitor, request.path_params["sequence"]))

    async def history(request: Request) -> Response:
        return history_answer(monitor, request.query_params.get("key", "").strip())

    async def snapshot(request: Request) -> Response:
        return JSONResponse(json.loads(json.dumps({**chain_data(monitor), **monitor.snapshot()}, default=str)))

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    app = Starlette(routes=[Route("/", page), Route("/favicon.ico", no_icon), Route("/events", events),
                            Route("/api/snapshot", snapshot), Route("/api/record/{sequence}", record),
                            Route("/api/history", history)],
                    lifespan=lifespan)
    app.state.monitor = monitor
    return app


def server(settings, port: int, interval: float = 1.0):
    """A uvicorn server of the page on 127.0.0.1:port (loopback only: the page can change
    nothing, but it shows the data). .run() serves until Ctrl-C."""
    import uvicorn

    config = uvicorn.Config(create_app(settings, interval), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    # (an open page's event stream never ends by itself: Ctrl-C closes it after 1 s)
    return uvicorn.Server(config)
