"""Incidents: grouping, escalation, acknowledgement, cooldown, caps, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest
from alerts_support import FakeClock, make_alert

from pipeline.alerts.incidents import IncidentBook


def book(tmp_path: Path, clock: FakeClock, **kw) -> IncidentBook:
    opts = {"window_s": 1800.0, "cooldown_s": 1800.0, "escalation_factor": 2.0, "max_per_subject": 100}
    opts.update(kw)
    return IncidentBook(tmp_path / "incidents.sqlite3", clock=clock, **opts)


def test_twenty_alerts_on_one_subject_make_one_delivered_incident(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    decisions = []
    for i in range(20):
        decisions.append(b.observe(make_alert(minute=i, observed=100 + i)))
        clock.advance(60)
    assert len({d.incident_id for d in decisions}) == 1
    assert [d.deliver for d in decisions] == [True] + [False] * 19
    assert decisions[0].reason == "new" and {d.reason for d in decisions[1:]} == {"duplicate"}
    (inc,) = b.list_incidents()
    assert inc.alert_count == 20 and inc.delivered_count == 1 and inc.peak_observed == 119


def test_other_kind_or_subject_is_another_incident(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    a = b.observe(make_alert(subject_id="nimbus"))
    other_subject = b.observe(make_alert(subject_id="skyway"))
    other_kind = b.observe(make_alert(kind="rising_voice", subject_id="nimbus"))
    assert a.deliver and other_subject.deliver and other_kind.deliver
    assert len({a.incident_id, other_subject.incident_id, other_kind.incident_id}) == 3


def test_escalation_by_severity_and_by_observed_factor(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    first = b.observe(make_alert(minute=0, severity="warning", observed=100))
    assert b.observe(make_alert(minute=1, severity="warning", observed=190)).deliver is False  # < 2x
    sev = b.observe(make_alert(minute=2, severity="critical", observed=150))
    assert sev.deliver and sev.reason == "escalation" and sev.incident_id == first.incident_id
    assert not b.observe(make_alert(minute=3, severity="critical", observed=200)).deliver  # < 2x 150
    grow = b.observe(make_alert(minute=4, severity="critical", observed=300))  # 2x the last delivered
    assert grow.deliver and grow.reason == "escalation"
    assert not b.observe(make_alert(minute=5, severity="warning", observed=310)).deliver  # severity down


def test_ack_suppresses_until_worsening(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    first = b.observe(make_alert(minute=0, severity="warning", observed=100))
    assert b.acknowledge(first.incident_id, by="dana")
    assert b.get(first.incident_id).status == "acked"
    assert b.get(first.incident_id).acked_by == "dana"
    quiet = b.observe(make_alert(minute=1, severity="warning", observed=150))
    assert not quiet.deliver and quiet.reason == "acknowledged"
    assert not b.observe(make_alert(minute=2, severity="warning", observed=199)).deliver
    worse = b.observe(make_alert(minute=3, severity="warning", observed=200))  # 2 x observed at ack
    assert worse.deliver and worse.reason == "escalation"
    assert b.get(first.incident_id).status == "open"  # re-alerted: no longer acknowledged


def test_ack_then_severity_increase_realerts(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    first = b.observe(make_alert(minute=0, severity="info", observed=100))
    b.acknowledge(first.incident_id, by="dana")
    assert b.observe(make_alert(minute=1, severity="warning", observed=100)).deliver
    assert not b.acknowledge("inc_does_not_exist", by="dana")


def test_cooldown_then_new_incident(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    first = b.observe(make_alert(minute=0))
    clock.advance(2400)  # quiet longer than the window: incident closed
    assert b.get(first.incident_id).status == "closed"
    again = b.observe(make_alert(minute=40))  # within the cooldown: same incident, not re-alerted
    assert not again.deliver and again.reason == "cooldown" and again.incident_id == first.incident_id
    clock.advance(3601 + 1800)  # past window + cooldown after the last alert
    fresh = b.observe(make_alert(minute=200))
    assert fresh.deliver and fresh.new_incident and fresh.incident_id != first.incident_id


def test_per_subject_frequency_cap(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock, max_per_subject=2, cap_window_s=1200)
    kinds = ["negative_spike", "voice_negative", "rising_voice"]
    d = [b.observe(make_alert(kind=k, minute=i)) for i, k in enumerate(kinds)]
    assert [x.deliver for x in d] == [True, True, False] and d[2].reason == "rate_limited"
    # a severity increase is never capped
    assert b.observe(make_alert(kind="negative_spike", minute=9, severity="critical")).deliver
    clock.advance(1300)  # cap window over, incident window (1800 s) not
    later = b.observe(make_alert(kind="rising_voice", minute=30))  # the capped incident, now delivered
    assert later.deliver and later.incident_id == d[2].incident_id


def test_replayed_alert_id_is_not_redelivered(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    alert = make_alert(minute=0)
    assert b.observe(alert).deliver
    clock.advance(7 * 86400)  # even long after the incident closed
    replay = b.observe(alert)
    assert not replay.deliver and replay.reason == "replay"


def test_state_survives_restart(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    first = b.observe(make_alert(minute=0))
    b.acknowledge(first.incident_id, by="dana")
    b.close()
    b2 = book(tmp_path, clock)
    d = b2.observe(make_alert(minute=1, observed=130))
    assert not d.deliver and d.reason == "acknowledged" and d.incident_id == first.incident_id


def test_invalid_factor_rejected(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        book(tmp_path, clock, escalation_factor=1.0)


def test_prune_forgets_old_incidents(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    b.observe(make_alert(minute=0))
    clock.advance(31 * 86400)
    assert b.prune(retention_s=30 * 86400) == 1 and b.list_incidents() == []


def test_same_detection_reevaluated_worse_is_not_a_replay(tmp_path: Path, clock: FakeClock) -> None:
    b = book(tmp_path, clock)
    assert b.observe(make_alert(minute=0, severity="warning", observed=100)).deliver
    # the detector re-runs the same window (same alert id) as it fills up
    assert b.observe(make_alert(minute=0, severity="warning", observed=100)).reason == "replay"
    grown = b.observe(make_alert(minute=0, severity="warning", observed=150))
    assert not grown.deliver and grown.reason == "duplicate"  # < 2x: grouped, not a replay
    worse = b.observe(make_alert(minute=0, severity="critical", observed=160))
    assert worse.deliver and worse.reason == "escalation"
    assert b.observe(make_alert(minute=0, severity="critical", observed=160)).reason == "replay"


def test_alerts_days_apart_in_event_time_are_separate_incidents(tmp_path: Path, clock: FakeClock) -> None:
    """A backfill computes alerts seconds apart; their event times decide the grouping."""
    b = book(tmp_path, clock)
    monday = b.observe(make_alert(minute=0))
    thursday = b.observe(make_alert(minute=3 * 24 * 60))  # no wall-clock time has passed
    assert monday.deliver and thursday.deliver and thursday.new_incident
    assert monday.incident_id != thursday.incident_id
    late_monday = b.observe(make_alert(minute=20))  # an earlier event time, judged after Thursday
    assert late_monday.incident_id == monday.incident_id and not late_monday.deliver


def test_replay_at_any_speed_groups_as_live(tmp_path: Path, clock: FakeClock) -> None:
    minutes = [0, 5, 10, 50, 55, 200]  # a burst, a second one within the cooldown, a new incident
    outcomes = []
    for run, tick in (("live", 60.0), ("replay", 0.0)):
        b = book(tmp_path / run, clock)
        got = []
        for m in minutes:
            d = b.observe(make_alert(minute=m))
            got.append((d.deliver, d.reason, d.new_incident))
            clock.advance(tick)
        outcomes.append(got)
        b.close()
    assert outcomes[0] == outcomes[1]
    assert [o[1] for o in outcomes[0]] == ["new", "duplicate", "duplicate", "cooldown", "duplicate", "new"]
