"""The HTML report of a run or a sweep: one self-contained, offline page.

The page has no script and loads nothing: styles are inline, plots are SVG embedded as
``data:`` images, and a Content-Security-Policy forbids everything else. It is rendered by
Jinja2 with autoescaping, so every text from the scenario, the drafts and the replies is shown
as text. The same run gives the same page, byte for byte (no generation time in it).
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jinja2
import pandas as pd
from matplotlib.figure import Figure

from teamsim.model import TeamsimError
from teamsim.notebook._frames import funnel_frame, metrics_frame
from teamsim.notebook._plots import (
    figure_svg,
    plot_approval_latency,
    plot_attention,
    plot_daily,
    plot_funnel,
    plot_sweep,
    plot_swimlanes,
    plot_utilisation,
)
from teamsim.notebook._series import timeseries
from teamsim.notebook._source import RunData, RunInput, load_run, opened
from teamsim.notebook._sweeps import SweepData, SweepInput, load_sweep, sweep_frame
from teamsim.reports import run_ended
from teamsim.reports.diagnose import diagnose
from teamsim.reports.inbox import inbox_entries

__all__ = ["GENERATOR", "RUN_SECTIONS", "SWEEP_SECTIONS", "report_html", "sweep_report_html",
           "write_report"]

GENERATOR: Final = "teamsim report"
"""The page's ``<meta name="generator">``: how an earlier report is recognised."""

RUN_SECTIONS: Final = (("summary", "Scenario"), ("metrics", "Metrics"),
                       ("expectations", "Expectations"), ("funnel", "Funnel per step"),
                       ("daily", "Day by day"), ("plots", "Plots"),
                       ("diagnose", "Why isn't it sending?"),
                       ("inbox", "Needs attention at the end"))
"""The sections of a run's report (id, heading), in order."""

SWEEP_SECTIONS: Final = (("summary", "Sweep"), ("variants", "Variants"),
                         ("comparison", "Comparison with the baseline"),
                         ("plot", "Forest plot"), ("runs", "Runs"))
"""The sections of a sweep's report (id, heading), in order."""

_MAX_RUN_ROWS: Final = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plot:
    title: str
    src: str


def _plot(title: str, fig: Figure) -> _Plot:
    svg = figure_svg(fig).encode("utf-8")
    return _Plot(title=title, src="data:image/svg+xml;base64," + base64.b64encode(svg).decode())


def _environment() -> jinja2.Environment:
    folder = resources.files("teamsim.notebook") / "templates"
    templates = {name: (folder / name).read_text(encoding="utf-8")
                 for name in ("report.html.j2", "sweep.html.j2", "base.html.j2")}
    env = jinja2.Environment(loader=jinja2.DictLoader(templates), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["number"] = _number
    return env


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[None if v is pd.NA or v is pd.NaT else v for v in row]
            for row in frame.itertuples(index=False, name=None)]


def _local(data: RunData, when: Any) -> str:
    return str(pd.Timestamp(when).tz_convert(data.timezone).strftime("%Y-%m-%d %H:%M %Z"))


def report_html(run: RunInput) -> str:
    """The report of one run as an HTML page (see :data:`RUN_SECTIONS`)."""
    with opened(run) as data:
        events = data.events()
        with data.unit_of_work() as uow:
            sequences = uow.sequences.list()
            contacts = len(uow.contacts.list())
            inbox = inbox_entries(uow)
            at = run_ended(uow) or data.end
            diagnoses = [diagnose(uow, seq.name, at=at) for seq in sequences]
        funnel = funnel_frame(data)
        daily = timeseries(data, "day")
        daily_table = daily.copy()
        daily_table["start"] = daily_table["start"].dt.strftime("%Y-%m-%d")
        metrics = metrics_frame(data)
        plots = [_plot("Funnel per step", plot_funnel(data)),
                 _plot("Swimlanes", plot_swimlanes(data)),
                 _plot("Needs attention queue depth", plot_attention(data)),
                 _plot("Approval latency", plot_approval_latency(data)),
                 _plot("Teammate utilisation", plot_utilisation(data))]
        context = {
            "generator": GENERATOR, "sections": RUN_SECTIONS, "data": data,
            "title": f"{data.name}: seed {data.seed}",
            "start": _local(data, data.start), "end": _local(data, data.end),
            "days": data.minutes / 1440, "events": len(events), "contacts": contacts,
            "sequences": sequences, "teammates": data.world.teammates,
            "metrics": _rows(metrics), "expectations": data.expectations,
            "violations": data.violations,
            "funnel_columns": list(funnel.columns), "funnel": _rows(funnel),
            "daily_columns": list(daily_table.columns), "daily": _rows(daily_table),
            "daily_plot": _plot("Day by day", plot_daily(data)), "plots": plots,
            "diagnoses": diagnoses, "inbox": inbox,
        }
        return _environment().get_template("report.html.j2").render(context)


def sweep_report_html(sweep: SweepInput | SweepData) -> str:
    """The report of a sweep as an HTML page (see :data:`SWEEP_SECTIONS`)."""
    data = sweep if isinstance(sweep, SweepData) else load_sweep(sweep)
    runs = sweep_frame(data) if data.csv_path is not None else None
    summary = data.summary
    metrics = list(dict.fromkeys(summary["metric"]))
    context = {
        "generator": GENERATOR, "sections": SWEEP_SECTIONS, "data": data,
        "title": f"{data.scenario or 'Sweep'}: {len(data.variants)} variants x "
                 f"{len(data.seeds)} seeds",
        "metrics": metrics, "summary": _rows(summary), "summary_columns": list(summary.columns),
        "comparisons": _rows(data.comparisons),
        "comparison_columns": list(data.comparisons.columns),
        "plot": _plot("Forest plot", plot_sweep(data)),
        "run_columns": [] if runs is None else [str(c) for c in runs.columns],
        "runs": [] if runs is None else _rows(runs.head(_MAX_RUN_ROWS)),
        "runs_total": 0 if runs is None else len(runs), "max_rows": _MAX_RUN_ROWS,
    }
    return _environment().get_template("sweep.html.j2").render(context)


def is_report(path: Path) -> bool:
    """Whether ``path`` is a page this module wrote (its generator meta says so)."""
    try:
        with path.open("r", encoding="utf-8") as stream:
            head = stream.read(2048)
    except (OSError, UnicodeDecodeError):
        return False
    return f'<meta name="generator" content="{GENERATOR}">' in head


def write_report(source: str | os.PathLike[str] | None, out: str | os.PathLike[str], *,
                 force: bool = False, db: str | None = None, run: int | None = None) -> Path:
    """Write the report of a run folder or a sweep folder (or of run ``run`` of ``db``) to
    ``out``, atomically.

    Args:
        source: a run folder (``run.json``) or a sweep folder (``summary.json``); ``None``:
            run ``run`` of ``db``, read from the database alone (see :func:`load_run`).
        out: the page to write.
        force: replace ``out`` if it is an earlier teamsim report (never anything else).
        db: the database a run recorded with ``--db`` is in.
        run: the run's id in ``db``.

    Returns:
        The page written.

    Raises:
        TeamsimError: ``source`` is neither a run nor a sweep folder, or ``out`` is there
            already (without ``force``, or not a teamsim report), or cannot be written.
    """
    target = Path(out)
    _check_path(target, "--out ")
    if source is not None:
        _check_path(Path(source), "")
    if target.is_dir():
        raise TeamsimError(f"--out {target}: is a folder; name the page to write, like "
                           f"{target / 'report.html'}")
    if target.exists() or target.is_symlink():
        if not is_report(target) or target.is_symlink():
            raise TeamsimError(f"--out {target}: there already, and not a teamsim report; "
                               "choose another file")
        if not force:
            raise TeamsimError(f"--out {target}: there already (an earlier report); pass "
                               "--force to replace it")
    if source is None:
        with load_run(None, db=db, run=run) as data:
            page = report_html(data)
        _write_atomically(target, page)
        return target
    folder = Path(source)
    if not folder.is_dir():
        raise TeamsimError(f"{folder}: no such run or sweep directory; give the folder "
                           "`teamsim run` or `teamsim sweep --out` wrote")
    if ((folder / "sweep.csv").is_file() and not (folder / "summary.json").exists()
            and not (folder / "run.json").exists()):
        raise TeamsimError(f"{folder}: an unfinished sweep (sweep.csv, no summary.json yet); "
                           "finish it with the same `teamsim sweep ...` command and --resume")
    if (folder / "summary.json").is_file() and not (folder / "run.json").exists():
        page = sweep_report_html(folder)
    else:
        with load_run(folder, db=db, run=run) as data:
            page = report_html(data)
    _write_atomically(target, page)
    return target


def _check_path(path: Path, what: str) -> None:
    """Refuse a path that cannot even be looked at (a name too long, a folder we may not
    enter): ``Path.exists`` and ``is_dir`` raise its ``OSError``; only a missing one reads as
    absent."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise TeamsimError(f"{what}{path}: cannot use it ({exc.strerror or exc}); give another "
                           "path") from None


def _write_atomically(target: Path, text: str) -> None:
    parent = target.parent if str(target.parent) else Path(".")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise TeamsimError(f"--out {target}: cannot write it ({exc.strerror or exc})") from None
    temp = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise TeamsimError(f"--out {target}: cannot write it ({exc.strerror or exc})") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
