"""The aiohttp application: the pages, their live fragments, the JSON API and /metrics. Read-only: it
answers GET (and HEAD), and POST /login alone, which only checks a token.

    GET /                           every service                  (HTML)
    GET /services/NAME              one service: timeline, log     (HTML)
    GET /fragments/...              the parts of those pages that refresh themselves
    GET /api/services               `0xl list --json`
    GET /api/services/NAME          `0xl status NAME --json`
    GET /api/services/NAME/history  `0xl history NAME --json`
    GET /api/services/NAME/log      the end of its log, as `0xl logs` shows it (text/plain)
    GET /metrics                    Prometheus text format
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from zeroxl.web import auth, metrics
from zeroxl.web.adapter import CpuRates, NoSuchService, Source
from zeroxl.web.pages import Pages
from zeroxl.web.timeline import layout

STATIC = Path(__file__).with_name("static")
LOG_LINES = 200
MAX_LOG_LINES = 5000

# No script but our own file, no inline script or style, no framing, nothing sent elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Settings:
    host: str  # shown in the page's title: which machine this is
    token: str | None  # required from every client when set
    secure_cookie: bool  # served over TLS
    # Without a token, the names the server answers to (loopback's): a web page elsewhere that makes its
    # own name resolve to 127.0.0.1 (DNS rebinding) must not read this one through the browser.
    hosts: frozenset[str] = frozenset()
    refresh: float = 2.0


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SOURCE = web.AppKey("source", Source)
SETTINGS = web.AppKey("settings", Settings)
PAGES = web.AppKey("pages", Pages)
RATES = web.AppKey("rates", CpuRates)


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:
        response = e
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def token_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Without the token: 401 with no token given, 403 with a wrong one (a page asks a browser for it).
    With none set (loopback), only requests for a loopback name."""
    settings = request.app[SETTINGS]
    token = settings.token
    if token is None:
        if request.url.host not in settings.hosts:
            return web.json_response({"error": "unknown host name"}, status=403)
        return await handler(request)
    if request.path in ("/login", "/static/style.css", "/static/app.js"):
        return await handler(request)
    given = auth.bearer(request.headers.get("Authorization"))
    if given is None:
        given = request.cookies.get(auth.COOKIE)
    if auth.matches(given, token):
        return await handler(request)
    status = 401 if given is None else 403
    wants_page = request.method == "GET" and not request.path.startswith(("/api/", "/metrics", "/fragments/"))
    if wants_page:
        page = request.app[PAGES].render("login.html", wrong=given is not None)
        return web.Response(text=page, status=status, content_type="text/html", headers=_challenge(status))
    return web.json_response(
        {"error": "a token is needed" if given is None else "wrong token"}, status=status, headers=_challenge(status)
    )


def _challenge(status: int) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="0xl"'} if status == 401 else {}


async def _read(request: web.Request, fn: Callable[..., Any], *args: Any) -> Any:
    """FN(*ARGS) in a worker thread: 0xl's reads are blocking file and /proc IO."""
    try:
        return await asyncio.to_thread(fn, *args)
    except NoSuchService:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such service"}), content_type="application/json") from None


def _json(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data, sort_keys=True, separators=(",", ":")), content_type="application/json")


# -- HTML ----------------------------------------------------------------------------------------------------


def _rows(app: web.Application, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ROWS with each running service's CPU rate since the page last asked (cpurate.CpuRates)."""
    rates, at = app[RATES], time.time()
    for row in rows:
        res = row.get("resources")
        row["cpu_percent"] = (
            rates.percent(
                row["name"],
                started=row.get("started"),
                cpu_seconds=res["cpu_seconds"],
                now=at,
                uptime=row.get("uptime"),
            )
            if res
            else None
        )
    rates.keep_only({row["name"] for row in rows})
    return rows


async def index(request: web.Request) -> web.Response:
    rows = _rows(request.app, await _read(request, request.app[SOURCE].overview))
    return _html(request, "index.html", services=rows)


async def services_fragment(request: web.Request) -> web.Response:
    rows = _rows(request.app, await _read(request, request.app[SOURCE].overview))
    return _html(request, "_rows.html", services=rows)


async def _service_page(request: web.Request) -> dict[str, Any]:
    name = request.match_info["name"]
    page: dict[str, Any] = await _read(request, request.app[SOURCE].service_page, name, LOG_LINES)
    status = page["status"]
    res = status.get("resources")
    page["cpu_percent"] = (
        request.app[RATES].percent(
            name,
            started=status.get("started"),
            cpu_seconds=res["cpu_seconds"],
            now=time.time(),
            uptime=status.get("uptime"),
        )
        if res
        else None
    )
    page["timeline"] = layout(page["history"], status.get("version"))
    page["log_lines"] = LOG_LINES
    return page


async def service(request: web.Request) -> web.Response:
    page = await _service_page(request)
    return _html(request, "service.html", name=page["status"]["name"], page=page)


async def service_fragment(request: web.Request) -> web.Response:
    return _html(request, "_service.html", page=await _service_page(request))


def _html(request: web.Request, template: str, **values: Any) -> web.Response:
    return web.Response(text=request.app[PAGES].render(template, **values), content_type="text/html")


async def login(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    if request.method == "GET" or settings.token is None:
        if settings.token is None:
            raise web.HTTPSeeOther("/")
        return _html(request, "login.html", wrong=False)
    form = await request.post()
    given = form.get("token")
    if not isinstance(given, str) or not auth.matches(given.strip(), settings.token):
        page = request.app[PAGES].render("login.html", wrong=True)
        return web.Response(text=page, status=403, content_type="text/html")
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        auth.COOKIE, given.strip(), httponly=True, samesite="Strict", secure=settings.secure_cookie, path="/"
    )
    return response


# -- JSON, text, metrics -------------------------------------------------------------------------------------


async def api_list(request: web.Request) -> web.Response:
    return _json(await _read(request, request.app[SOURCE].list_json))


async def api_status(request: web.Request) -> web.Response:
    return _json(await _read(request, request.app[SOURCE].status_json, request.match_info["name"]))


async def api_history(request: web.Request) -> web.Response:
    return _json(await _read(request, request.app[SOURCE].history_json, request.match_info["name"]))


async def api_log(request: web.Request) -> web.Response:
    try:
        lines = min(int(request.query.get("lines", str(LOG_LINES))), MAX_LOG_LINES)
    except ValueError:
        raise web.HTTPBadRequest(text="lines must be a whole number") from None
    text = await _read(request, request.app[SOURCE].log_tail, request.match_info["name"], max(lines, 0))
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def prometheus(request: web.Request) -> web.Response:
    def scrape() -> bytes:
        return metrics.exposition(request.app[SOURCE].overview())

    body = await _read(request, scrape)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


def make_app(source: Source, settings: Settings) -> web.Application:
    app = web.Application(middlewares=[headers, token_check], client_max_size=4096)
    app[SOURCE] = source
    app[SETTINGS] = settings
    app[PAGES] = Pages(host=settings.host, home=source.home, refresh=settings.refresh)
    app[RATES] = CpuRates()
    app.add_routes(
        [
            web.get("/", index),
            web.get("/services/{name}", service),
            web.get("/fragments/services", services_fragment),
            web.get("/fragments/services/{name}", service_fragment),
            web.get("/api/services", api_list),
            web.get("/api/services/{name}", api_status),
            web.get("/api/services/{name}/history", api_history),
            web.get("/api/services/{name}/log", api_log),
            web.get("/metrics", prometheus),
            web.get("/login", login),
            web.post("/login", login),
            web.static("/static", STATIC),
        ]
    )
    return app
