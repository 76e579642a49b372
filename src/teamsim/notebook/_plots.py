"""A run's plots: each function returns a matplotlib ``Figure`` with a title, labelled axes
and units; :func:`save_figure` and :func:`figure_svg` write them reproducibly.

Figures are made with ``matplotlib.figure.Figure`` (not ``pyplot``): no global state, no GUI
backend, and nothing left open. Saved figures are the same bytes for the same run: SVG ids
come from a fixed hash salt and no date is written (:data:`REPRODUCIBLE`).
"""

from __future__ import annotations

import io
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from teamsim.model import EventKind, EventRecord, ReplyReceived
from teamsim.notebook._frames import attention_frame, funnel_frame
from teamsim.notebook._series import attention_levels, human_sessions, timeseries
from teamsim.notebook._source import RunData, RunInput, busy_minutes, opened
from teamsim.notebook._sweeps import SweepData, SweepInput, load_sweep

__all__ = [
    "REPRODUCIBLE",
    "figure_svg",
    "plot_approval_latency",
    "plot_attention",
    "plot_daily",
    "plot_funnel",
    "plot_sweep",
    "plot_swimlanes",
    "plot_utilisation",
    "save_figure",
]

REPRODUCIBLE: Final[dict[str, Any]] = {
    "svg.hashsalt": "teamsim",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "axes.titlesize": "medium",
}
"""The matplotlib settings every teamsim figure is drawn and saved with."""

_COLOURS: Final = {"due": "#9aa5b1", "drafted": "#6c8ebf", "approved": "#3d6fb6",
                   "sent": "#1f4e8c", "opened": "#e8a33d", "replied": "#3a9e5c",
                   "queue": "#c0504d", "session": "#a9cbe8", "human": "#3d6fb6",
                   "rule": "#3a9e5c"}


@contextmanager
def _style() -> Iterator[None]:
    # matplotlib types rcParams' keys as a Literal of every setting: these are among them.
    with mpl.rc_context(cast("Any", REPRODUCIBLE)):
        yield


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    with _style():
        return Figure(figsize=(width, height), layout="constrained")


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text, the same bytes for the same figure (no date, fixed ids)."""
    buffer = io.StringIO()
    with _style():
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """Save ``fig`` as SVG or PNG (by the file's suffix), reproducibly.

    Raises:
        ValueError: the suffix is neither ``.svg`` nor ``.png``.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    with _style():
        if suffix == ".svg":
            target.write_text(figure_svg(fig), encoding="utf-8")
        elif suffix == ".png":
            fig.savefig(target, format="png", dpi=dpi, metadata={"Software": None})
        else:
            raise ValueError(f"{target}: save a figure as .svg or .png")
    return target


def _days(minute: float) -> float:
    return minute / 1440


def _title(ax: Axes, text: str, data: RunData) -> None:
    ax.set_title(f"{text}\n{data.name} (seed {data.seed})", loc="left")


def plot_funnel(run: RunInput) -> Figure:
    """The funnel per message step: due, drafted, approved, sent, opened and replied, as
    grouped horizontal bars (messages)."""
    with opened(run) as data, _style():
        funnel = funnel_frame(data)
        fig = _figure(8.0, 1.6 + 0.9 * max(1, len(funnel)))
        ax = fig.add_subplot()
        stages = [("due", funnel["due"]), ("drafted", funnel["drafted"]),
                  ("approved", funnel["approved_human"] + funnel["approved_rule"]),
                  ("sent", funnel["sent"]), ("opened", funnel["opened"]),
                  ("replied", funnel["replied"])]
        labels = [f"{r.sequence}\n{r.step_id} {r.label}".strip()
                  for r in funnel.itertuples()]
        height = 0.8 / len(stages)
        for i, (name, values) in enumerate(stages):
            ys = [row + (i - (len(stages) - 1) / 2) * height for row in range(len(funnel))]
            ax.barh(ys, list(values), height=height, label=name, color=_COLOURS[name])
        ax.set_yticks(range(len(funnel)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("messages")
        ax.legend(loc="lower right", fontsize="small", ncols=3)
        _title(ax, "Funnel per step", data)
        return fig


def _swimlane_marks(events: Sequence[EventRecord]) -> dict[int, dict[str, list[int]]]:
    """Per contact: the minutes of each kind of mark."""
    marks: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        if e.contact_id is None:
            continue
        kind = e.type
        if kind == EventKind.MESSAGE_SENT:
            name = "sent"
        elif kind == EventKind.MESSAGE_OPENED:
            name = "opened"
        elif kind == EventKind.REPLY_RECEIVED:
            name = "replied" if ReplyReceived.from_payload(e.payload).kind == "reply" \
                else "other reply"
        elif kind == EventKind.ENROLLMENT_PAUSED:
            name = "paused"
        elif kind in (EventKind.ENROLLMENT_ENDED, EventKind.ENROLLMENT_COMPLETED):
            name = "ended"
        elif kind == EventKind.ENROLLMENT_CREATED:
            name = "enrolled"
        else:
            continue
        marks[e.contact_id][name].append(e.seq)
    return marks


_MARKS: Final = (("enrolled", "|", "#555555"), ("sent", "^", "#1f4e8c"),
                 ("opened", "o", "#e8a33d"), ("paused", "P", "#c0504d"),
                 ("replied", "*", "#3a9e5c"), ("other reply", "s", "#8a6d3b"),
                 ("ended", "X", "#000000"))


def plot_swimlanes(run: RunInput, contacts: int | Sequence[str] = 12) -> Figure:
    """Swimlanes for a sample of contacts: one lane each, with their enrollment, sends,
    opens, replies (and out-of-office notes, bounces, unsubscribes), pauses and ends
    (completed or ended early) over simulated days.

    Args:
        run: the run.
        contacts: how many contacts (spread evenly over the enrolled, in enrollment order),
            or their emails.
    """
    with opened(run) as data, _style():
        events = data.events()
        marks = _swimlane_marks(events)
        minute_of = {e.seq: round((e.at - data.start).total_seconds() / 60) for e in events
                     if e.contact_id in marks}
        with data.unit_of_work() as uow:
            people = {c.id: c for c in uow.contacts.list()}
        enrolled = [cid for cid in marks if "enrolled" in marks[cid]]
        if isinstance(contacts, int):
            if contacts < 1:
                raise ValueError(f"contacts must be >= 1, got {contacts}")
            step = max(1, len(enrolled) / contacts) if enrolled else 1
            chosen = [enrolled[int(i * step)] for i in range(min(contacts, len(enrolled)))]
        else:
            by_email = {c.email: c.id for c in people.values() if c.id is not None}
            unknown = [e for e in contacts if e not in by_email]
            if unknown:
                raise ValueError(f"no contact {', '.join(map(repr, unknown))} in this run")
            chosen = [by_email[e] for e in contacts]
        fig = _figure(9.0, 1.4 + 0.35 * max(1, len(chosen)))
        ax = fig.add_subplot()
        for lane, cid in enumerate(chosen):
            minutes = sorted(minute_of[s] for kinds in marks[cid].values() for s in kinds)
            if minutes:
                ax.hlines(lane, _days(minutes[0]), _days(minutes[-1]), color="#cccccc",
                          linewidth=1, zorder=1)
        for name, marker, colour in _MARKS:
            xs: list[float] = []
            ys: list[int] = []
            for lane, cid in enumerate(chosen):
                for seq in marks[cid].get(name, []):
                    xs.append(_days(minute_of[seq]))
                    ys.append(lane)
            ax.scatter(xs, ys, marker=marker, color=colour, label=name, zorder=2, s=36)
        ax.set_yticks(range(len(chosen)),
                      [people[c].email if c in people else str(c) for c in chosen],
                      fontsize="small")
        ax.set_ylim(max(1, len(chosen)) - 0.5, -0.5)
        if not chosen:
            ax.text(0.5, 0.5, "no one was enrolled in this run", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlim(0, _days(data.minutes))
        ax.set_xlabel("simulated day since the start")
        fig.legend(loc="outside lower center", ncols=len(_MARKS), fontsize="small",
                   frameon=False)
        _title(ax, f"Swimlanes: {len(chosen)} contacts", data)
        return fig


def plot_attention(run: RunInput) -> Figure:
    """Needs attention's queue depth over simulated days (items), with the human's sessions
    shaded."""
    with opened(run) as data, _style():
        events = data.events()
        points = attention_levels(events, data)
        fig = _figure(9.0, 4.0)
        ax = fig.add_subplot()
        for i, (start, end) in enumerate(human_sessions(events, data)):
            ax.axvspan(_days(start), _days(end), color=_COLOURS["session"],
                       label="human's session" if i == 0 else None, zorder=0)
        xs = [_days(p.minute) for p in points] + [_days(data.minutes)]
        ys = [p.depth for p in points] + [points[-1].depth]
        ax.step(xs, ys, where="post", color=_COLOURS["queue"], label="items waiting",
                zorder=2)
        ax.set_xlim(0, _days(data.minutes))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("simulated day since the start")
        ax.set_ylabel("items in Needs attention")
        ax.legend(loc="upper right", fontsize="small")
        _title(ax, "Needs attention queue depth", data)
        return fig


def plot_approval_latency(run: RunInput, bins: int = 24) -> Figure:
    """How long drafts waited for the human's decision (hours), as a histogram with the
    median marked."""
    with opened(run) as data, _style():
        items = attention_frame(data)
        decided = items[(items["kind"] == "draft") & items["decision"].notna()]
        hours = [float(h) for h in decided["latency_hours"].dropna()]
        fig = _figure(8.0, 4.0)
        ax = fig.add_subplot()
        if hours:
            ax.hist(hours, bins=bins, color=_COLOURS["human"])
            median = sorted(hours)[len(hours) // 2] if len(hours) % 2 else \
                sum(sorted(hours)[len(hours) // 2 - 1:len(hours) // 2 + 1]) / 2
            ax.axvline(median, color="#000000", linestyle="--",
                       label=f"median {median:.1f} h")
            ax.legend(loc="upper right", fontsize="small")
        else:
            ax.text(0.5, 0.5, "no human decisions in this run", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlabel("hours from landing in Needs attention to the human's decision")
        ax.set_ylabel("drafts")
        _title(ax, f"Approval latency ({len(hours)} human decisions)", data)
        return fig


def plot_utilisation(run: RunInput) -> Figure:
    """Each teammate's utilisation: busy minutes over capacity x run minutes (percent)."""
    with opened(run) as data, _style():
        busy = busy_minutes(data.events())
        names = [t.name for t in data.world.teammates]
        shares = [100 * busy.get(t.name, 0) / (t.capacity * data.minutes)
                  if data.minutes else 0.0 for t in data.world.teammates]
        fig = _figure(7.0, 1.4 + 0.6 * max(1, len(names)))
        ax = fig.add_subplot()
        ax.barh(range(len(names)), shares, color=_COLOURS["drafted"])
        for y, share in enumerate(shares):
            ax.text(share, y, f" {share:.1f}%", va="center", fontsize="small")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, max([*shares, 1.0]) * 1.2)
        ax.set_xlabel("busy share of capacity over the run (%)")
        _title(ax, "Teammate utilisation", data)
        return fig


def plot_daily(run: RunInput) -> Figure:
    """Per simulated day: sends and replies (bars) and Needs attention at the day's end
    (line)."""
    with opened(run) as data, _style():
        series = timeseries(data, "day")
        fig = _figure(9.0, 4.0)
        ax = fig.add_subplot()
        days = list(series["period"])
        ax.bar([d - 0.2 for d in days], list(series["sends"]), width=0.4, label="sent",
               color=_COLOURS["sent"])
        ax.bar([d + 0.2 for d in days], list(series["replies"]), width=0.4, label="replies",
               color=_COLOURS["replied"])
        ax.plot(days, list(series["attention_open"]), color=_COLOURS["queue"], marker=".",
                label="in Needs attention at day's end")
        ax.set_xlabel("simulated day")
        ax.set_ylabel("messages / items")
        ax.legend(loc="upper right", fontsize="small")
        _title(ax, "Day by day", data)
        return fig


def plot_sweep(sweep: SweepInput | SweepData, metrics: Sequence[str] | None = None) -> Figure:
    """A forest plot: each variant's mean of each metric with its 95% interval (left), and
    each variant's difference from the baseline, paired on common seeds (dark) and unpaired
    (light), with their 95% intervals (right).

    Args:
        sweep: a sweep folder or result.
        metrics: the metrics to show (default: every metric the sweep summarised).

    Raises:
        ValueError: a metric the sweep did not summarise.
    """
    data = sweep if isinstance(sweep, SweepData) else load_sweep(sweep)
    summary, comparisons = data.summary, data.comparisons
    known = list(dict.fromkeys(summary["metric"]))
    chosen = list(metrics) if metrics is not None else known
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ValueError(f"no metric {', '.join(map(repr, unknown))} in this sweep; it has "
                         f"{', '.join(known)}")
    variants = list(data.variants)
    with _style():
        fig = _figure(9.0, 1.2 + (0.45 * len(variants) + 0.6) * max(1, len(chosen)))
        axes = fig.subplots(max(1, len(chosen)), 2, squeeze=False)
        for row, metric in enumerate(chosen):
            left, right = axes[row][0], axes[row][1]
            part = summary[summary["metric"] == metric]
            for y, variant in enumerate(variants):
                found = part[part["variant"] == variant]
                if found.empty:
                    continue
                r = found.iloc[0]
                left.errorbar([r["mean"]], [y], xerr=[[r["mean"] - r["low"]],
                                                      [r["high"] - r["mean"]]],
                              fmt="o", color=_COLOURS["sent"], capsize=3)
            left.set_yticks(range(len(variants)), variants, fontsize="small")
            left.set_ylim(len(variants) - 0.5, -0.5)
            left.set_xlabel(f"{metric} (mean, 95% interval)")
            diffs = comparisons[comparisons["metric"] == metric]
            others = variants[1:]
            for y, variant in enumerate(others):
                found = diffs[diffs["variant"] == variant]
                if found.empty:
                    continue
                c = found.iloc[0]
                for offset, kind, colour in ((-0.12, "paired", _COLOURS["sent"]),
                                             (0.12, "unpaired", "#9aa5b1")):
                    mean = c[f"{kind}_mean"]
                    right.errorbar([mean], [y + offset],
                                   xerr=[[mean - c[f"{kind}_low"]], [c[f"{kind}_high"] - mean]],
                                   fmt="o", color=colour, capsize=3,
                                   label=kind if row == 0 and y == 0 else None)
            right.axvline(0, color="#000000", linewidth=0.8)
            right.set_yticks(range(len(others)), [f"{v} minus {variants[0]}" for v in others],
                             fontsize="small")
            right.set_ylim(max(1, len(others)) - 0.5, -0.5)
            right.set_xlabel(f"difference in {metric}")
            if row == 0 and others:
                right.legend(loc="best", fontsize="small")
        title = "Sweep: variants and paired differences (95% intervals)"
        if data.scenario:
            title += f"\n{data.scenario}, {len(data.seeds)} seeds"
        fig.suptitle(title, x=0.02, ha="left", fontsize="medium")
        return fig
