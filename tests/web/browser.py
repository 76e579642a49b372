"""Serving the app on a free local port and driving it with Debian's Chromium (Playwright).

Shared by the browser test and ``docs/screenshots.py``. Playwright's own browser download is
not used: the system's ``chromium`` is passed by ``executable_path``.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from teamsim.web import ServedRun, create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(served: ServedRun) -> Iterator[str]:
    """Serve ``served`` on 127.0.0.1 in a thread; yields the base URL."""
    port = free_port()
    app = create_app(served, allowed_hosts=["127.0.0.1"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not started.wait(0.05):  # uvicorn sets .started when bound
        if server.started:
            started.set()
    if not server.started:
        raise RuntimeError(f"the test server did not start on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
