"""Each plot is a figure with a title, labelled axes and data; saved figures are the same
bytes for the same run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from teamsim.notebook import (
    figure_svg,
    load_run,
    plot_approval_latency,
    plot_attention,
    plot_daily,
    plot_funnel,
    plot_sweep,
    plot_swimlanes,
    plot_utilisation,
    save_figure,
)
from teamsim.runner import RunResult, SweepResult

RUN_PLOTS: list[Callable[..., Figure]] = [plot_funnel, plot_swimlanes, plot_attention,
                                          plot_approval_latency, plot_utilisation, plot_daily]


def _has_data(fig: Figure) -> bool:
    return any(ax.lines or ax.patches or ax.collections for ax in fig.axes)


@pytest.mark.parametrize("plot", RUN_PLOTS, ids=lambda f: f.__name__)
def test_each_run_plot_is_a_labelled_figure_with_data(
        plot: Callable[..., Figure], welcome: RunResult) -> None:
    fig = plot(welcome)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert welcome.world.name in ax.get_title(loc="left")
    assert ax.get_xlabel()
    assert _has_data(fig)


def test_the_swimlanes_show_the_chosen_contacts(welcome: RunResult) -> None:
    fig = plot_swimlanes(welcome, contacts=["lead-1@leads.example.com",
                                            "lead-2@leads.example.com"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["lead-1@leads.example.com", "lead-2@leads.example.com"]
    with pytest.raises(ValueError, match=r"no contact 'nobody@x\.org'"):
        plot_swimlanes(welcome, contacts=["nobody@x.org"])


def test_the_latency_plot_counts_every_human_decision(welcome: RunResult) -> None:
    fig = plot_approval_latency(welcome)
    decided = welcome.metrics["approvals_human"] + welcome.metrics["rejections"]
    assert f"({decided} human decisions)" in fig.axes[0].get_title(loc="left")
    assert sum(p.get_height() for p in fig.axes[0].patches) == decided


def test_the_sweep_forest_plot_shows_each_metric_and_difference(
        paired_sweep: SweepResult) -> None:
    fig = plot_sweep(paired_sweep, metrics=["sent", "human_minutes"])
    assert len(fig.axes) == 4
    assert fig.axes[0].get_xlabel() == "sent (mean, 95% interval)"
    assert fig.axes[1].get_xlabel() == "difference in sent"
    assert _has_data(fig)
    with pytest.raises(ValueError, match="no metric 'nope' in this sweep"):
        plot_sweep(paired_sweep, metrics=["nope"])


@pytest.mark.parametrize("plot", RUN_PLOTS, ids=lambda f: f.__name__)
def test_figures_are_the_same_bytes_for_the_same_run(
        plot: Callable[..., Figure], welcome: RunResult) -> None:
    assert welcome.out_dir is not None
    first = figure_svg(plot(welcome))
    with load_run(welcome.out_dir) as folder:
        again = figure_svg(plot(folder))
    assert first == again
    assert "<dc:date>" not in first


def test_saved_png_and_svg_are_reproducible(welcome: RunResult, tmp_path: Path) -> None:
    a = save_figure(plot_funnel(welcome), tmp_path / "a.png")
    b = save_figure(plot_funnel(welcome), tmp_path / "b.png")
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a.read_bytes() == b.read_bytes()
    svg = save_figure(plot_funnel(welcome), tmp_path / "a.svg")
    assert svg.read_text().startswith("<?xml")
    with pytest.raises(ValueError, match=r"save a figure as \.svg or \.png"):
        save_figure(plot_funnel(welcome), tmp_path / "a.gif")


def test_a_run_with_no_one_enrolled_still_plots(tmp_path: Path) -> None:
    import teamsim

    from .conftest import ROOT

    result = teamsim.run(ROOT / "scenarios" / "troubleshoot-no-one-enrolled.yaml")
    try:
        for plot in RUN_PLOTS:
            assert isinstance(plot(result), Figure)
        lane = plot_swimlanes(result)
        assert "no one was enrolled" in lane.axes[0].texts[0].get_text()
    finally:
        result.close()
