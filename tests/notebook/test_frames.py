"""The DataFrames of a run agree with its store, its events and its metrics."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC

import pandas as pd
import pytest

from teamsim.model import EventKind
from teamsim.notebook import (
    attention_frame,
    events_frame,
    expectations_frame,
    funnel_frame,
    load_run,
    messages_frame,
    metrics_frame,
    timeseries,
)
from teamsim.runner import RunResult


def test_events_frame_has_one_typed_row_per_event(welcome: RunResult) -> None:
    frame = events_frame(welcome)
    events = list(welcome.events)
    assert len(frame) == len(events)
    assert list(frame.columns[:6]) == ["seq", "at", "minute", "day", "type", "sequence"]
    assert frame["seq"].dtype == "int64"
    assert str(frame["at"].dt.tz) == welcome.world.timezone
    for column in ("sequence_id", "enrollment_id", "contact_id", "task_id", "message_id"):
        assert frame[column].dtype == "Int64", column
    assert frame["flagged"].dtype == "boolean"
    assert frame["channel"].dtype == "string"
    assert (frame["type"] == "message.sent").sum() == welcome.metrics["sent"]
    assert list(frame["seq"]) == [e.seq for e in events]  # canonical order: time, then seq
    # the times are the store's, shown in the scenario's zone
    with welcome.store.unit_of_work() as uow:
        stored = sorted(e.at for e in uow.events.iter())
    assert [t.to_pydatetime().astimezone(UTC) for t in frame["at"]] == stored
    assert (frame["minute"] // 1440 == frame["day"]).all()


def test_events_frame_flattens_payload_fields(welcome: RunResult) -> None:
    frame = events_frame(welcome)
    sent = frame[frame["type"] == "message.sent"]
    first = next(e for e in welcome.events if e.type == EventKind.MESSAGE_SENT)
    row = sent.iloc[0]
    assert row["message_id"] == first.payload["message_id"]
    assert row["teammate"] == first.payload["teammate"]
    ended = frame[frame["type"] == "run.ended"].iloc[0]
    busy = next(e for e in welcome.events if e.type == EventKind.RUN_ENDED).payload
    for name, minutes in busy["teammate_busy_minutes"].items():
        assert ended[f"teammate_busy_minutes.{name}"] == minutes


def test_sent_messages_match_metrics_and_their_events(welcome: RunResult) -> None:
    messages = messages_frame(welcome)
    sent = messages[messages["status"] == "sent"]
    assert len(sent) == welcome.metrics["sent"]
    assert messages["opened_at"].notna().sum() == welcome.metrics["opened"]
    assert messages["replied_at"].notna().sum() == welcome.metrics["replies"]
    events = {e.payload["message_id"]: e.at for e in welcome.events
              if e.type == EventKind.MESSAGE_SENT}
    for row in sent.itertuples():
        assert row.sent_at.to_pydatetime().astimezone(UTC) == events[row.message_id]
        assert row.queued_at <= row.sent_at
    assert set(messages["approval"]) <= {"human", "human edited", "rule"}
    assert messages["edited"].sum() == (messages["approval"] == "human edited").sum()
    assert messages["message_id"].dtype == "Int64"
    assert str(messages["sent_at"].dt.tz) == welcome.world.timezone
    with welcome.store.unit_of_work() as uow:
        stored = {m.id: m for m in uow.messages.list()}
        contacts = {c.id: c for c in uow.contacts.list()}
    for row in messages.itertuples():
        assert row.body == stored[row.message_id].body
        assert row.contact == contacts[row.contact_id].email
    assert set(sent["step"].dropna()) <= {"Say hello", "Follow up", "Last friendly nudge"}


def test_attention_frame_holds_every_item_with_its_latency(welcome: RunResult) -> None:
    items = attention_frame(welcome)
    with welcome.store.unit_of_work() as uow:
        stored = uow.attention.list(None)
    assert list(items["item_id"]) == [i.id for i in stored]
    assert (items["status"] == "open").sum() == welcome.metrics["attention_open_at_end"]
    decided = items[(items["kind"] == "draft") & items["decision"].notna()]
    assert len(decided) == welcome.metrics["approvals_human"] + welcome.metrics["rejections"]
    median = float(decided["latency_hours"].median())
    assert math.isclose(median, welcome.metrics["approval_latency_hours_p50"], abs_tol=1e-4)
    opened = items[items["status"] == "open"]
    assert opened["latency_hours"].isna().all()


def test_funnel_and_metrics_frames_agree_with_the_metrics(welcome: RunResult) -> None:
    funnel = funnel_frame(welcome)
    assert list(funnel["step_id"]) == ["s1", "s3", "s5"]
    assert funnel["sent"].sum() == welcome.metrics["sent"]
    assert funnel["replied"].dtype == "int64"
    metrics = metrics_frame(welcome).set_index("metric")["value"]
    assert metrics["sent"] == welcome.metrics["sent"]
    assert metrics["reply_rate"] == welcome.metrics["reply_rate"]
    assert metrics_frame(welcome)["description"].str.len().gt(0).all()
    expectations = expectations_frame(welcome)
    assert len(expectations) == len(welcome.expectations)
    assert expectations["passed"].dtype == "bool"


def test_a_run_folder_gives_the_same_frames_as_the_result(welcome: RunResult) -> None:
    assert welcome.out_dir is not None
    with load_run(welcome.out_dir) as folder:
        assert folder.timezone == welcome.world.timezone
        pd.testing.assert_frame_equal(events_frame(folder), events_frame(welcome))
        pd.testing.assert_frame_equal(messages_frame(folder), messages_frame(welcome))
        pd.testing.assert_frame_equal(funnel_frame(folder), funnel_frame(welcome))
        pd.testing.assert_frame_equal(timeseries(folder), timeseries(welcome))
    # a path works as well, opened and closed by the call
    pd.testing.assert_frame_equal(attention_frame(welcome.out_dir), attention_frame(welcome))


def test_the_daily_series_adds_up_to_the_metrics(welcome: RunResult) -> None:
    daily = timeseries(welcome)
    assert list(daily["period"]) == [0, 1, 2, 3, 4]
    assert daily["sends"].sum() == welcome.metrics["sent"]
    assert daily["replies"].sum() == welcome.metrics["replies"]
    assert daily["human_approvals"].sum() == welcome.metrics["approvals_human"]
    assert daily["human_minutes"].sum() == pytest.approx(welcome.metrics["human_minutes"])
    assert daily["attention_peak"].max() == welcome.metrics["attention_peak"]
    assert daily["attention_open"].iloc[-1] == welcome.metrics["attention_open_at_end"]
    last = daily.iloc[-1]
    assert last["active"] + last["paused"] + last["ended"] == welcome.metrics["enrolled"]
    assert str(daily["start"].dt.tz) == welcome.world.timezone
    assert (daily["start"].diff().dropna() == pd.Timedelta(days=1)).all()


def test_the_hourly_series_has_the_same_totals(welcome: RunResult) -> None:
    hourly = timeseries(welcome, "hour")
    assert len(hourly) == 5 * 24
    assert hourly["sends"].sum() == welcome.metrics["sent"]
    assert hourly["attention_peak"].max() == welcome.metrics["attention_peak"]
    with pytest.raises(ValueError, match="freq must be 'day' or 'hour'"):
        timeseries(welcome, "week")  # type: ignore[arg-type]


def test_a_folder_that_is_not_a_run_is_one_clear_error(tmp_path) -> None:
    from teamsim.model import TeamsimError

    with pytest.raises(TeamsimError, match="not a teamsim run directory"):
        load_run(tmp_path)
    with pytest.raises(TeamsimError, match="no such run directory"):
        events_frame(tmp_path / "missing")


def test_without_the_extra_the_import_names_it() -> None:
    code = ("import sys\nsys.modules['pandas'] = None\n"
            "try:\n    import teamsim.notebook\n"
            "except ImportError as exc:\n    print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == (
        "MissingExtraError DataFrames, plots and reports need pandas, which is not "
        "installed: pip install 'teamsim[notebook]'")
