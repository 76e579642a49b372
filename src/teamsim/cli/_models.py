"""The model options of ``teamsim run``, ``test``, ``sweep`` (and ``validate``), and the usage
table a run with model-backed teammates prints.

``--model TEAMMATE=SPEC`` (repeatable) backs a teammate with a chat model for this run;
``--allow-imports`` lets a scenario file's own ``model:`` factories be imported (they run
code); ``--cassette``, ``--cassette-mode`` and ``--max-concurrency`` override the scenario's
``llm:`` block. The runner is imported inside the functions (start-up, see
:mod:`teamsim.cli._common`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from teamsim.cli._common import fail
from teamsim.cli._text import plain
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from rich.console import Console

    from teamsim.llm import ModelSpec

__all__ = [
    "AllowImportsOption",
    "CassetteModeOption",
    "CassetteOption",
    "MaxConcurrencyOption",
    "ModelOption",
    "ModelOptions",
    "print_usage",
]

ModelOption = Annotated[list[str] | None, typer.Option(
    "--model", help="TEAMMATE=SPEC: back a teammate with a chat model for this run; SPEC is "
    "package.module:factory or entry:NAME, then ,key=value arguments (YAML scalars). "
    "Repeatable.", metavar="TEAMMATE=SPEC", show_default=False)]
AllowImportsOption = Annotated[bool, typer.Option(
    "--allow-imports", help="Import the model factories the scenario file names (this runs "
    "their code); refused without it, except in replay mode.")]
CassetteOption = Annotated[Path | None, typer.Option(
    "--cassette", help="Recorded model replies (JSON): read, and written back in record or "
    "auto mode (default: the scenario's llm.cassette).", show_default=False)]
CassetteModeOption = Annotated[str | None, typer.Option(
    "--cassette-mode", help="record (call the models, record the replies), replay (recorded "
    "replies only, nothing imported) or auto (default: the scenario's llm.mode).",
    metavar="record|replay|auto", show_default=False)]
MaxConcurrencyOption = Annotated[int | None, typer.Option(
    "--max-concurrency", help="Model calls made at once for work due at the same simulated "
    "time, 1 to 256 (default: the scenario's llm.max_concurrency, 8).", show_default=False)]

MAX_CONCURRENCY = 256
_MODES = ("record", "replay", "auto")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelOptions:
    """The model options of one command, checked: keyword arguments of ``runner.run``."""

    models: dict[str, ModelSpec]
    allow_imports: bool
    cassette: Path | None
    cassette_mode: str | None
    max_concurrency: int | None

    @classmethod
    def parse(
        cls, model: list[str] | None, allow_imports: bool, cassette: Path | None,
        cassette_mode: str | None, max_concurrency: int | None,
    ) -> ModelOptions:
        """Check the options; a bad value is one ``error:`` line and exit 2."""
        from teamsim.llm import parse_model_option  # pydantic models of the specs: start-up

        models: dict[str, ModelSpec] = {}
        for text in model or []:
            try:
                name, spec = parse_model_option(text)
            except TeamsimError as exc:
                raise fail(str(exc)) from None
            if name in models:
                raise fail(f"--model {name}: given twice; give one model per teammate")
            models[name] = spec
        if cassette_mode is not None and cassette_mode not in _MODES:
            raise fail(f"--cassette-mode: {cassette_mode[:40]!r} is not a mode; use record, "
                       "replay or auto")
        if max_concurrency is not None and not 1 <= max_concurrency <= MAX_CONCURRENCY:
            raise fail(f"--max-concurrency: {max_concurrency} is out of range; give 1 to "
                       f"{MAX_CONCURRENCY} model calls at once")
        return cls(models=models, allow_imports=allow_imports, cassette=cassette,
                   cassette_mode=cassette_mode, max_concurrency=max_concurrency)

    def run_arguments(self) -> dict[str, Any]:
        """The options as keyword arguments of ``runner.run`` and ``runner.sweep``."""
        return {"models": dict(self.models), "allow_imports": self.allow_imports,
                "cassette": self.cassette, "cassette_mode": self.cassette_mode,
                "max_concurrency": self.max_concurrency}


_USAGE_COLUMNS = ("teammate", "calls", "replayed", "tokens in", "tokens out",
                  "replayed tokens", "failed", "cost")


def print_usage(out: Console, metrics: dict[str, Any]) -> None:
    """The model use per teammate (calls, cache hits, tokens, cost), when a model was used."""
    from rich import box
    from rich.table import Table

    usage: dict[str, dict[str, Any]] = metrics.get("model_usage") or {}
    if not usage:
        return
    table = Table(title="Model use per teammate (calls and tokens: live; replayed: from the "
                        "cassette)",
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in _USAGE_COLUMNS:
        table.add_column(column, justify="left" if column == "teammate" else "right")
    for name, u in usage.items():
        table.add_row(plain(name), str(u["model_calls"]), str(u["cache_hits"]),
                      f"{u['tokens_in']:,}", f"{u['tokens_out']:,}",
                      f"{u['replayed_tokens_in'] + u['replayed_tokens_out']:,}",
                      str(u["failures"]), f"${u['cost']:.4f}")
    table.add_row("total", str(metrics["model_calls"]), str(metrics["cache_hits"]),
                  f"{metrics['tokens_in']:,}", f"{metrics['tokens_out']:,}",
                  f"{metrics['replayed_tokens']:,}",
                  str(sum(u["failures"] for u in usage.values())), f"${metrics['cost']:.4f}")
    out.print(table)
