"""teamsim.web: play the human in a browser while a run steps along (``teamsim serve``).

:class:`ServedRun` runs a scenario in step mode (the simulation stops at the human's next
check-in session with something in Needs attention, and waits), journals every decision the
person makes with its simulated minute, and at the end writes the run folder by replaying
that journal. :func:`create_app` is the FastAPI app over it: Needs attention, Sequences
(with "Why isn't it sending?"), Run. Needs the ``web`` extra (``pip install 'teamsim[web]'``).
"""

from teamsim.model import public_home as _public_home
from teamsim.web._app import CSRF_HEADER, create_app
from teamsim.web._served import Advance, Outcome, RunView, ServedRun

__all__ = ["CSRF_HEADER", "Advance", "Outcome", "RunView", "ServedRun", "create_app"]

_public_home(__name__, globals())
