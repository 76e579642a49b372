"""The web app over a :class:`ServedRun`: Needs attention, Sequences, Run; htmx-enhanced forms.

Every page is plain HTML that works without JavaScript; the vendored htmx (``/static``, no CDN)
turns the forms into in-page requests (``hx-boost``). Text from the run is escaped by Jinja2's
autoescape. Every POST carries the app's CSRF token (a hidden form field, or the
``X-CSRF-Token`` header htmx sends); without it the request is refused (403) and nothing
happens. A decision the run cannot take (an item already decided) is refused with the reason
(409), never applied twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from teamsim.model import TeamsimError
from teamsim.sim import HumanAction
from teamsim.web._served import Advance, Outcome, ServedRun

__all__ = ["CSRF_HEADER", "create_app"]

CSRF_HEADER = "X-CSRF-Token"
"""The header (or form field ``csrf``) every POST must carry the app's token in."""

_HERE = Path(__file__).parent
_PAGES = {"/", "/sequences", "/run"}


def create_app(served: ServedRun, *, token: str | None = None,
               allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The web app for ``served``.

    Args:
        served: the run the page plays.
        token: the CSRF token (default: a new random one; it guards the forms only and never
            touches the run).
        allowed_hosts: the host names a request may be addressed to (``None``: any). A
            server on the loopback address passes its loopback names, so that a web page
            elsewhere cannot reach it by DNS rebinding.
    """
    app = FastAPI(title="teamsim: play the human", docs_url=None, redoc_url=None,
                  openapi_url=None)
    csrf = token or secrets.token_urlsafe(32)
    app.state.csrf = csrf
    app.state.served = served
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    # follow_symlink: an editable install links the files in from the source tree.
    app.mount("/static", StaticFiles(directory=str(_HERE / "static"), follow_symlink=True),
              name="static")

    def page(request: Request, name: str, status: int = 200, **context: object) -> Response:
        context.setdefault("note", request.query_params.get("note", ""))
        context.setdefault("error", "")
        context.update(csrf=csrf, clock=served.clock(), over=served.over,
                       human=served.human_plays() if not served.over else False,
                       journal=str(served.journal.path), path=request.url.path)
        return templates.TemplateResponse(request, name, context, status_code=status)

    def refused(request: Request, message: str, status: int) -> Response:
        return page(request, "error.html", status=status, error=message)

    def checked(request: Request, given: str | None) -> Response | None:
        sent = given or request.headers.get(CSRF_HEADER, "")
        if not sent or not secrets.compare_digest(sent.encode(), csrf.encode()):
            return refused(request, "error: the form's CSRF token is missing or wrong; "
                                    "reload the page and try again", 403)
        return None

    def back_to(back: str, outcome: Outcome) -> Response:
        target = back if back in _PAGES or back.startswith("/sequences/") else "/"
        return RedirectResponse(f"{target}?{urlencode({'note': outcome.message})}",
                                status_code=303)

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return refused(request, f"error: {where}: {first.get('msg', 'invalid')}; "
                                "use the page's buttons", 400)

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        return refused(request, f"error: {request.url.path}: {exc.detail}", exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def attention(request: Request) -> Response:
        return page(request, "attention.html", items=served.attention())

    @app.get("/sequences", response_class=HTMLResponse)
    def sequences(request: Request) -> Response:
        return page(request, "sequences.html", sequences=served.sequences())

    @app.get("/sequences/{seq_id}", response_class=HTMLResponse)
    def sequence(request: Request, seq_id: int, contact: str = "") -> Response:
        found = next((s for s in served.sequences() if s.id == seq_id), None)
        if found is None:
            return refused(request, f"error: there is no sequence {seq_id} in this run "
                                    "(or the run is over)", 404)
        try:
            lines = served.checklist(found.name, contact.strip() or None)
            problem = ""
        except TeamsimError as exc:
            lines, problem = [], f"error: {exc}"
        return page(request, "sequence.html", seq=found, lines=lines, contact=contact,
                    error=problem, status=200 if not problem else 400)

    @app.get("/run", response_class=HTMLResponse)
    def run_page(request: Request, contact: str = "") -> Response:
        view = served.run_view(contact)
        return page(request, "run.html", view=view, error=view.error and f"error: {view.error}")

    @app.post("/attention/{item_id}")
    def decide(
        request: Request, item_id: int, action: Annotated[str, Form()],
        csrf: Annotated[str | None, Form()] = None,
        subject: Annotated[str | None, Form()] = None,
        body: Annotated[str | None, Form()] = None,
        note: Annotated[str, Form()] = "",
    ) -> Response:
        bad = checked(request, csrf)
        if bad is not None:
            return bad
        try:
            chosen = HumanAction(action)
        except ValueError:
            return refused(request, f"error: action: {action!r} is not an action; use the "
                                    "page's buttons", 400)
        if chosen is HumanAction.EDIT:
            subject = subject if subject and subject.strip() else None
        else:
            subject = body = None
        outcome = served.decide(chosen, item_id=item_id, subject=subject, body=body,
                                note=note.strip())
        if not outcome.ok:
            return page(request, "attention.html", status=409, items=served.attention(),
                        error=f"refused: {outcome.message}")
        return back_to("/", outcome)

    @app.post("/sequences/{seq_id}")
    def switch(request: Request, seq_id: int, action: Annotated[str, Form()],
               csrf: Annotated[str | None, Form()] = None) -> Response:
        bad = checked(request, csrf)
        if bad is not None:
            return bad
        if action not in (HumanAction.PAUSE.value, HumanAction.ACTIVATE.value):
            return refused(request, f"error: action: {action!r} is not pause or activate", 400)
        found = next((s for s in served.sequences() if s.id == seq_id), None)
        if found is None:
            return refused(request, f"error: there is no sequence {seq_id} in this run", 404)
        outcome = served.decide(HumanAction(action), sequence=found.name)
        if not outcome.ok:
            return page(request, "sequences.html", status=409, sequences=served.sequences(),
                        error=f"refused: {outcome.message}")
        return back_to("/sequences", outcome)

    @app.post("/advance")
    def advance(request: Request, to: Annotated[str, Form()],
                csrf: Annotated[str | None, Form()] = None,
                back: Annotated[str, Form()] = "/") -> Response:
        bad = checked(request, csrf)
        if bad is not None:
            return bad
        try:
            how = Advance(to)
        except ValueError:
            return refused(request, f"error: to: {to!r} is not one of "
                                    f"{', '.join(a.value for a in Advance)}", 400)
        outcome = served.advance(how)
        if not outcome.ok:
            return refused(request, f"refused: {outcome.message}", 409)
        return back_to("/run" if served.over else back, outcome)

    return app
