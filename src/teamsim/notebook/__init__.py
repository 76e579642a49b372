"""teamsim.notebook: a run or a sweep as pandas DataFrames, matplotlib plots and an HTML page.

Needs the ``notebook`` extra (``pip install 'teamsim[notebook]'``: pandas and matplotlib);
without it, importing this package raises :class:`MissingExtraError`, which says so.

Every function takes a run as a :class:`~teamsim.runner.RunResult` (what :func:`teamsim.run`
returns), a run folder's path (what ``teamsim run`` wrote), or a :class:`RunData` opened
once with :func:`load_run`; a sweep as a :class:`~teamsim.runner.SweepResult` or a sweep
folder's path.

- frames: :func:`events_frame`, :func:`messages_frame`, :func:`attention_frame`,
  :func:`funnel_frame`, :func:`metrics_frame`, :func:`expectations_frame`; the time series
  :func:`timeseries` (per simulated day or hour); for sweeps :func:`sweep_frame` (one row per
  variant and seed), :func:`sweep_summary_frame` and :func:`sweep_comparisons_frame`;
- plots (each returns a ``Figure``): :func:`plot_funnel`, :func:`plot_swimlanes`,
  :func:`plot_attention`, :func:`plot_approval_latency`, :func:`plot_utilisation`,
  :func:`plot_daily`, :func:`plot_sweep`; :func:`save_figure` and :func:`figure_svg` save
  them reproducibly (the same bytes for the same run);
- the report: :func:`report_html`, :func:`sweep_report_html`, :func:`write_report` (what
  ``teamsim report`` writes).
"""

from teamsim.notebook._deps import EXTRA_HINT, MissingExtraError, require_extra

require_extra()

from teamsim.model import public_home as _public_home  # noqa: E402
from teamsim.notebook._frames import (  # noqa: E402
    attention_frame,
    events_frame,
    expectations_frame,
    funnel_frame,
    messages_frame,
    metrics_frame,
)
from teamsim.notebook._html import (  # noqa: E402
    RUN_SECTIONS,
    SWEEP_SECTIONS,
    report_html,
    sweep_report_html,
    write_report,
)
from teamsim.notebook._plots import (  # noqa: E402
    figure_svg,
    plot_approval_latency,
    plot_attention,
    plot_daily,
    plot_funnel,
    plot_sweep,
    plot_swimlanes,
    plot_utilisation,
    save_figure,
)
from teamsim.notebook._series import Frequency, timeseries  # noqa: E402
from teamsim.notebook._source import Expectation, RunData, RunInput, load_run  # noqa: E402
from teamsim.notebook._sweeps import (  # noqa: E402
    SweepData,
    SweepInput,
    load_sweep,
    sweep_comparisons_frame,
    sweep_frame,
    sweep_summary_frame,
)

__all__ = [
    "EXTRA_HINT",
    "RUN_SECTIONS",
    "SWEEP_SECTIONS",
    "Expectation",
    "Frequency",
    "MissingExtraError",
    "RunData",
    "RunInput",
    "SweepData",
    "SweepInput",
    "attention_frame",
    "events_frame",
    "expectations_frame",
    "figure_svg",
    "funnel_frame",
    "load_run",
    "load_sweep",
    "messages_frame",
    "metrics_frame",
    "plot_approval_latency",
    "plot_attention",
    "plot_daily",
    "plot_funnel",
    "plot_sweep",
    "plot_swimlanes",
    "plot_utilisation",
    "report_html",
    "save_figure",
    "sweep_comparisons_frame",
    "sweep_frame",
    "sweep_report_html",
    "sweep_summary_frame",
    "timeseries",
    "write_report",
]

_public_home(__name__, globals())
