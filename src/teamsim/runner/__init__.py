"""Run scenarios and sweeps: the engine behind ``teamsim run``, ``test`` and ``sweep``.

:func:`run` runs one scenario with one seed and, given ``out``, leaves a *run directory*::

    events.jsonl   one event a line, canonical JSON (what the digest is computed from)
    metrics.json   every metric at the top level, plus ``expectations`` (one object per
                   expectation: metric, expected, actual, passed) and ``violations`` (broken
                   invariants, one line each); sorted keys, indent 2
    digest.txt     the SHA-256 of the events, hex, and a newline
    store.db       the run's SQLite store (absent when the run went to ``db=``)
    run.json       scenario name, source, seed, until_days, start/end (UTC), digest, teamsim
                   version and the database URL (password masked) when it was not store.db;
                   the model-backed teammates' models (secrets masked) and cassette mode
    cassette.json  the model replies of the run (and its ``compare:`` variants), when a
                   teammate is model-backed: replay them with ``--cassette``

The directory is written under a temporary sibling name and renamed into place at the end, so
invalid input or a crash leaves nothing half-written. An existing folder is replaced only if it
is provably an earlier run (its run.json validates, it holds only these files) and ``force``
is given, and only once the new one is complete (see :mod:`teamsim.runner._staging`). A run
whose expectations fail is still a completed run: it is written, and :attr:`RunResult.passed`
is false.

Given ``db``, :func:`run` records the run in that database beside the runs it holds already
(one transaction at the end, so a failed or killed run leaves nothing); :func:`runs` lists
them (one :class:`RunRecord` each), :func:`run_metrics` gives one's metrics, :func:`open_run`
reads one (an in-memory store holding its rows) and :func:`delete_run` deletes one.

:func:`sweep` runs every variant x seed on an executor (teamsim's process pool, Dask, Ray or
any :class:`concurrent.futures.Executor`), appends one CSV row per finished run (every metric,
the digest, the seed, the variant's settings, the scenario hash, the teamsim version, wall
time and peak memory: :class:`SweepRow`), keeps them when interrupted (``resume`` finishes the
sweep), then sorts them and summarises the per-variant means with 95% confidence intervals and,
for each variant against the first, the paired difference over common seeds (common random
numbers) beside the unpaired (Welch) one.
"""

from teamsim.model import public_home as _public_home
from teamsim.runner._backends import SWEEP_BACKENDS, RayExecutor, SweepBackend
from teamsim.runner._decisions import (
    JOURNAL_FORMAT,
    Decision,
    DecisionJournal,
    JournalHeader,
)
from teamsim.runner._folders import (
    RUN_FILES,
    RUN_FOLDER,
    RunInfo,
    RunModel,
    read_run_info,
)
from teamsim.runner._fromstore import (
    CONTACT_COLUMNS,
    export_scenario,
    read_contacts_csv,
    stored_scenario,
)
from teamsim.runner._models import ModelInput, check_models
from teamsim.runner._resume import Resumption, RunStopped, find_resumption
from teamsim.runner._rows import ROW_COLUMNS, SWEEP_FOLDER, SweepRow
from teamsim.runner._run import RunResult, ScenarioInput, default_out_dir, resume, run
from teamsim.runner._runs import delete_run, open_run, pick_run, run_metrics, runs
from teamsim.runner._stats import Comparison, Estimate, mean_interval, summarize, welch_interval
from teamsim.runner._sweep import (
    DEFAULT_SWEEP_METRICS,
    SweepInterrupted,
    SweepResult,
    check_variants,
    sweep,
)
from teamsim.runner._variants import MAX_SWEEP_RUNS, parse_seeds, parse_sets

# A run's checks are the scenario's; they are offered here too, beside the run they check.
from teamsim.scenario import (
    ExpectationResult,
    check_expectation_names,
    evaluate_expectations,
    with_values,
)
from teamsim.store import RunRecord, RunStatus

__all__ = [
    "CONTACT_COLUMNS",
    "DEFAULT_SWEEP_METRICS",
    "JOURNAL_FORMAT",
    "MAX_SWEEP_RUNS",
    "ROW_COLUMNS",
    "RUN_FILES",
    "RUN_FOLDER",
    "SWEEP_BACKENDS",
    "SWEEP_FOLDER",
    "Comparison",
    "Decision",
    "DecisionJournal",
    "Estimate",
    "ExpectationResult",
    "JournalHeader",
    "ModelInput",
    "RayExecutor",
    "Resumption",
    "RunInfo",
    "RunModel",
    "RunRecord",
    "RunResult",
    "RunStatus",
    "RunStopped",
    "ScenarioInput",
    "SweepBackend",
    "SweepInterrupted",
    "SweepResult",
    "SweepRow",
    "check_expectation_names",
    "check_models",
    "check_variants",
    "default_out_dir",
    "delete_run",
    "evaluate_expectations",
    "export_scenario",
    "find_resumption",
    "mean_interval",
    "open_run",
    "parse_seeds",
    "parse_sets",
    "pick_run",
    "read_contacts_csv",
    "read_run_info",
    "resume",
    "run",
    "run_metrics",
    "runs",
    "stored_scenario",
    "summarize",
    "sweep",
    "welch_interval",
    "with_values",
]

_public_home(__name__, globals())
