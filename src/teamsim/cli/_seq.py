"""The ``teamsim seq`` commands: build and run sequences as CRM > Sequences does (new, add,
move, activate, enroll...), on a workspace's database (``--db``).

The workspace (SQLAlchemy) is opened inside the commands (:func:`teamsim.cli._common.workspace`),
so ``teamsim --help`` does not pay for it; nothing here loads the simulator.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from teamsim.cli._app import Typer
from teamsim.cli._common import do, fail, out
from teamsim.cli._text import plain
from teamsim.model import ValidationError

# The domain model (pydantic) is imported where a command uses it, not here: `teamsim --help`
# then starts without pydantic (about 100 ms of CPU).
if TYPE_CHECKING:
    from teamsim.model import BranchStep, MessageStep, Sequence, WaitStep
    from teamsim.workspace import Workspace

__all__ = ["register", "render_sequence", "render_table", "seq_app"]


seq_app = Typer(
    help="Build and run sequences (CRM > Sequences): new, add, move, activate, enroll...",
    no_args_is_help=True,
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="TEAMSIM_DATABASE_URL",
        help="Database: a SQLite file path or any SQLAlchemy URL "
        "(postgresql+psycopg://user@host/db).",
        show_default=True,
    ),
]
SeqArg = Annotated[str, typer.Argument(help="Sequence name or id.", show_default=False)]
StepArg = Annotated[str, typer.Argument(help="Step id (s1, s2...; `seq show` lists them).")]


def register(app: typer.Typer) -> None:
    """Add the ``seq`` group to ``app``."""
    app.add_typer(seq_app, name="seq")


# ---------------------------------------------------------------------------------------------
# rendering


_KIND_MARK = {"message": "✉", "wait": "⏱", "branch": "⑂"}


def _details(step: MessageStep | WaitStep | BranchStep) -> str:
    from teamsim.model import EngagementCondition, MessageStep, WaitStep  # start-up

    if isinstance(step, MessageStep):
        return step.channel + (f" · {step.brief}" if step.brief else "")
    if isinstance(step, WaitStep):
        return f"wait {step.minutes / 1440:g} days" if not step.hours else (
            f"wait {step.days:g} days {step.hours:g} hours"
        )
    cond = step.condition
    if isinstance(cond, EngagementCondition):
        within = f" within {cond.within_days:g} days" if cond.within_days is not None else ""
        return f"if {cond.event.replace('_', ' ')} {cond.step_id}{within}"
    value = "" if cond.op == "exists" else f" {cond.value!r}"
    return f"if {cond.field} {cond.op}{value}"


def _step_rows(
    steps: list[Any], prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, str, str, str]]:
    from teamsim.model import BranchStep  # start-up

    for index, step in enumerate(steps, start=1):
        number = f"{prefix}{index}"
        indent = "  " * depth
        yield number, step.id, f"{indent}{_KIND_MARK[step.kind]} {step.label}", _details(step)
        if isinstance(step, BranchStep):
            for arm, label in (("then_steps", "then"), ("else_steps", "else")):
                yield "", "", f"{indent}  {label}:", ""
                yield from _step_rows(getattr(step, arm), f"{number}.{label[0]}", depth + 2)


def render_sequence(seq: Sequence, version: int | None = None) -> None:
    """Print a sequence's steps top to bottom, as the right-hand pane of the screen shows them."""
    shown = version if version is not None else seq.version
    out.print(plain(seq.name, style="bold"),
              plain(f" ({seq.status.value}, version {shown}, id {seq.id})"))
    if seq.description:
        out.print(plain(seq.description))
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("id")
    table.add_column("step")
    table.add_column("details")
    for row in _step_rows(seq.steps):
        table.add_row(*(plain(cell) for cell in row))
    if not seq.steps:
        out.print("(no steps yet: add one with `teamsim seq add`)", markup=False)
    else:
        out.print(table)


def render_table(columns: tuple[str, ...], rows: list[tuple[object, ...]],
                 right: frozenset[str] = frozenset()) -> None:
    """Print a table whose cells are plain text (any of them may be a user's name or label)."""
    table = Table(show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*(plain(cell) for cell in row))
    out.print(table)


# ---------------------------------------------------------------------------------------------
# seq commands


@seq_app.command("new")
def seq_new(
    name: Annotated[str, typer.Argument(help="A clear name, like 'Welcome new leads'.")],
    description: Annotated[str, typer.Option(help="A short description.")] = "",
    db: DbOption = "teamsim.db",
) -> None:
    """Create a draft sequence with the example steps: say hello, wait 3 days, follow up."""
    seq = do(db, lambda ws: ws.new_sequence(name, description))
    out.print(f"created sequence {seq.name!r} (id {seq.id}, draft)", markup=False)
    render_sequence(seq)


@seq_app.command("export")
def seq_export(sequence: SeqArg, db: DbOption = "teamsim.db") -> None:
    """Print the sequence as a scenario file (its enrolled people as contacts, defaults for
    the rest, comments saying what to fill in): `teamsim seq export NAME > scenario.yaml`."""
    # Printed as it is, not through Rich: the YAML must reach the file byte for byte.
    import sys

    text = do(db, lambda ws: ws.export(sequence))
    sys.stdout.write(text)


@seq_app.command("list")
def seq_list(db: DbOption = "teamsim.db") -> None:
    """List every sequence with its status and how many steps it has."""
    seqs = do(db, lambda ws: ws.sequences())
    if not seqs:
        out.print("no sequences yet: create one with `teamsim seq new NAME`", markup=False)
        return
    render_table(("id", "name", "status", "steps", "version"),
                 [(seq.id, seq.name, seq.status.value, sum(1 for _ in seq.iter_steps()),
                   seq.version) for seq in seqs],
                 right=frozenset({"id", "steps", "version"}))


@seq_app.command("show")
def seq_show(
    sequence: SeqArg,
    version: Annotated[
        int | None, typer.Option(help="Show this saved version instead of the current one.")
    ] = None,
    db: DbOption = "teamsim.db",
) -> None:
    """Show a sequence's steps top to bottom."""

    def read(ws: Workspace) -> Sequence:
        if version is None:
            return ws.sequence(sequence)
        for saved in ws.versions(sequence):
            if saved.version == version:
                return saved.sequence
        raise ValidationError(
            f"sequence {sequence!r} has no version {version}; `teamsim seq versions "
            f"{shlex.quote(sequence)}` lists them"
        )

    render_sequence(do(db, read), version)


@seq_app.command("add")
def seq_add(
    sequence: SeqArg,
    kind: Annotated[
        Literal["email", "message", "wait", "branch"],
        typer.Argument(help="email, message (on --channel), wait or branch."),
    ],
    label: Annotated[str, typer.Option(help="What the step is for.")] = "",
    channel: Annotated[str, typer.Option(help="Channel of a message step.")] = "email",
    brief: Annotated[str, typer.Option(help="What a message step should say.")] = "",
    days: Annotated[float, typer.Option(help="Length of a wait step in days.")] = 0,
    hours: Annotated[float, typer.Option(help="Extra hours of a wait step.")] = 0,
    position: Annotated[
        int | None, typer.Option(min=1, help="1-based position to insert at (default: the end).")
    ] = None,
    parent: Annotated[
        str | None, typer.Option(help="Add inside this branch step instead of at the top level.")
    ] = None,
    arm: Annotated[
        Literal["then", "else"], typer.Option(help="Which arm of --parent to add to.")
    ] = "then",
    if_field: Annotated[
        str | None,
        typer.Option("--if-field", help="Branch on a contact field (company, attributes.x...)."),
    ] = None,
    op: Annotated[
        str, typer.Option(help="Comparison for --if-field: equals, not_equals, in, contains, "
                          "exists, gt, lt.")
    ] = "equals",
    value: Annotated[str | None, typer.Option(help="Value compared with --if-field.")] = None,
    if_engaged: Annotated[
        str | None,
        typer.Option("--if-engaged", help="Branch on engagement with this earlier message step."),
    ] = None,
    event: Annotated[
        str, typer.Option(help="Engagement tested: opened, clicked or not_opened.")
    ] = "opened",
    within_days: Annotated[
        float | None, typer.Option(help="Engagement window in days (needed for not_opened).")
    ] = None,
    db: DbOption = "teamsim.db",
) -> None:
    """Add an email, message, wait or branch step (Add email / Add wait / Add branch)."""
    where: dict[str, Any] = {"parent": parent, "arm": arm}
    if position is not None:
        where["position"] = position - 1

    if kind == "wait":
        _check_wait_options(days, hours)

    def add(ws: Workspace) -> MessageStep | WaitStep | BranchStep:
        if kind in {"email", "message"}:
            return ws.add_message(sequence, "email" if kind == "email" else channel, label,
                                  brief=brief, **where)
        if kind == "wait":
            return ws.add_wait(sequence, days, hours, label, **where)
        return ws.add_branch(sequence, _condition(if_field, op, value, if_engaged, event,
                                                  within_days), label or "Branch", **where)

    step = do(db, add)
    out.print(f"added {step.kind} step {step.id} ({step.label})", markup=False)


def _check_wait_options(days: float | None, hours: float | None) -> None:
    """Refuse ``--days``/``--hours`` the domain model refuses, naming the option, before the
    database is opened."""
    import pydantic  # start-up

    from teamsim.model import WaitStep, format_errors

    try:
        WaitStep(id="s1", days=days or 0, hours=hours or 0)
    except pydantic.ValidationError as exc:
        raise fail("\n".join(f"--{line}" for line in format_errors(exc).splitlines())) from None


def _condition(
    if_field: str | None, op: str, value: str | None, if_engaged: str | None, event: str,
    within_days: float | None,
) -> dict[str, Any]:
    if (if_field is None) == (if_engaged is None):
        raise ValidationError(
            "a branch needs exactly one condition: --if-field FIELD [--op OP --value V] or "
            "--if-engaged STEP_ID [--event opened|clicked|not_opened --within-days N]"
        )
    if if_field is not None:
        parsed: Any = value.split(",") if op == "in" and value is not None else value
        return {"kind": "attribute", "field": if_field, "op": op, "value": parsed}
    return {"kind": "engagement", "step_id": if_engaged, "event": event,
            "within_days": within_days}


@seq_app.command("move")
def seq_move(
    sequence: SeqArg,
    step: StepArg,
    up: Annotated[bool, typer.Option("--up", help="Move one place up.")] = False,
    down: Annotated[bool, typer.Option("--down", help="Move one place down.")] = False,
    to: Annotated[int | None, typer.Option(min=1, help="Move to this 1-based position.")] = None,
    db: DbOption = "teamsim.db",
) -> None:
    """Reorder a step: --up, --down or --to N (step ids never change)."""
    if sum((up, down, to is not None)) != 1:
        raise fail("say where to move the step: exactly one of --up, --down or --to N")

    def move(ws: Workspace) -> None:
        if up:
            ws.move_up(sequence, step)
        elif down:
            ws.move_down(sequence, step)
        elif to is not None:
            ws.move_step(sequence, step, to - 1)

    do(db, move)
    out.print(f"moved step {step}", markup=False)


@seq_app.command("remove")
def seq_remove(sequence: SeqArg, step: StepArg, db: DbOption = "teamsim.db") -> None:
    """Remove a step (a branch goes with everything in its arms)."""
    do(db, lambda ws: ws.remove_step(sequence, step))
    out.print(f"removed step {step}", markup=False)


@seq_app.command("label")
def seq_label(
    sequence: SeqArg,
    step: StepArg,
    label: Annotated[str, typer.Argument(help="The new label.")],
    db: DbOption = "teamsim.db",
) -> None:
    """Label a step so you remember what it is for."""
    do(db, lambda ws: ws.label_step(sequence, step, label))
    out.print(f"labelled step {step} {label!r}", markup=False)


@seq_app.command("set")
def seq_set(
    sequence: SeqArg,
    step: StepArg,
    channel: Annotated[str | None, typer.Option(help="Channel of a message step.")] = None,
    days: Annotated[float | None, typer.Option(help="Days of a wait step.")] = None,
    hours: Annotated[float | None, typer.Option(help="Extra hours of a wait step.")] = None,
    brief: Annotated[str | None, typer.Option(help="Brief of a message step.")] = None,
    db: DbOption = "teamsim.db",
) -> None:
    """Set a step's channel, wait time or brief; all changes are saved as one version."""
    if channel is None and days is None and hours is None and brief is None:
        raise fail("nothing to set: give --channel, --days/--hours or --brief")
    _check_wait_options(days, hours)

    from teamsim.model import WaitStep  # start-up

    def change(seq: Sequence) -> None:
        if channel is not None:
            seq.set_channel(step, channel)
        if brief is not None:
            seq.set_brief(step, brief)
        if days is not None or hours is not None:
            current = seq.step(step)
            old_days = current.days if isinstance(current, WaitStep) else 0.0
            old_hours = current.hours if isinstance(current, WaitStep) else 0.0
            seq.set_wait(step, old_days if days is None else days,
                         old_hours if hours is None else hours)

    do(db, lambda ws: ws.apply(sequence, change))
    out.print(f"updated step {step}", markup=False)


@seq_app.command("activate")
def seq_activate(sequence: SeqArg, db: DbOption = "teamsim.db") -> None:
    """Activate a sequence so it runs (it needs at least one message step)."""
    seq = do(db, lambda ws: ws.activate(sequence))
    out.print(f"sequence {seq.name!r} is active", markup=False)


@seq_app.command("pause")
def seq_pause(sequence: SeqArg, db: DbOption = "teamsim.db") -> None:
    """Pause an active sequence: nothing of it drafts or sends until you activate it again."""
    seq = do(db, lambda ws: ws.pause(sequence))
    out.print(f"sequence {seq.name!r} is paused", markup=False)


@seq_app.command("enroll")
def seq_enroll(
    sequence: SeqArg,
    email: Annotated[
        str, typer.Option(help="The contact's email (an existing contact is reused).")
    ],
    name: Annotated[
        str | None, typer.Option(help="The contact's name (for a new contact).")
    ] = None,
    company: Annotated[str, typer.Option(help="The contact's company.")] = "",
    timezone: Annotated[str, typer.Option(help="The contact's IANA time zone.")] = "UTC",
    attr: Annotated[
        list[str] | None, typer.Option(help="A free attribute as key=value; repeatable.")
    ] = None,
    db: DbOption = "teamsim.db",
) -> None:
    """Put a contact onto a sequence."""
    attributes: dict[str, str | int | float | bool] = {}
    for item in attr or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise fail(f"--attr {item!r}: write it as key=value")
        attributes[key] = val
    import pydantic  # start-up

    from teamsim.model import Contact, format_errors

    try:
        contact = Contact(name=name or email.split("@")[0], email=email, company=company,
                          timezone=timezone, attributes=attributes)
    except pydantic.ValidationError as exc:
        raise fail(format_errors(exc, "contact")) from None
    enrollment = do(db, lambda ws: ws.enroll(sequence, contact))
    out.print(f"enrolled {contact.email} (enrollment {enrollment.id}, starts at step "
              f"{enrollment.current_step_id})", markup=False)


EmailArg = Annotated[str, typer.Argument(help="The enrolled contact's email.")]


@seq_app.command("people")
def seq_people(sequence: SeqArg, db: DbOption = "teamsim.db") -> None:
    """List the people enrolled in a sequence: status and the step they are at."""
    enrolled = do(db, lambda ws: ws.enrollments(sequence))
    if not enrolled:
        out.print("nobody is enrolled yet: add someone with `teamsim seq enroll SEQUENCE "
                  "--email EMAIL`", markup=False)
        return
    render_table(("enrollment", "email", "name", "status", "step"),
                 [(enrollment.id, contact.email, contact.name, enrollment.status.value,
                   enrollment.current_step_id or "-") for enrollment, contact in enrolled],
                 right=frozenset({"enrollment"}))


@seq_app.command("resume")
def seq_resume(sequence: SeqArg, email: EmailArg, db: DbOption = "teamsim.db") -> None:
    """Resume a paused enrollment (after a reply): the person goes on from their step."""
    enrollment = do(db, lambda ws: ws.resume(sequence, email))
    out.print(f"resumed {email} (enrollment {enrollment.id}, at step "
              f"{enrollment.current_step_id})", markup=False)


@seq_app.command("end")
def seq_end(sequence: SeqArg, email: EmailArg, db: DbOption = "teamsim.db") -> None:
    """End an active or paused enrollment: the person gets nothing more from the sequence."""
    enrollment = do(db, lambda ws: ws.end(sequence, email))
    out.print(f"ended {email} (enrollment {enrollment.id})", markup=False)


@seq_app.command("unenroll")
def seq_unenroll(sequence: SeqArg, email: EmailArg, db: DbOption = "teamsim.db") -> None:
    """Take a person off a sequence before anything has happened to them (else use `end`)."""
    enrollment = do(db, lambda ws: ws.unenroll(sequence, email))
    out.print(f"unenrolled {email} (enrollment {enrollment.id} removed)", markup=False)


@seq_app.command("versions")
def seq_versions(sequence: SeqArg, db: DbOption = "teamsim.db") -> None:
    """List the saved versions of a sequence; `seq show --version N` shows one."""
    versions = do(db, lambda ws: ws.versions(sequence))
    render_table(("version", "saved at (UTC)", "status", "steps"),
                 [(saved.version, saved.saved_at.strftime("%Y-%m-%d %H:%M:%S"),
                   saved.sequence.status.value, sum(1 for _ in saved.sequence.iter_steps()))
                  for saved in versions])

