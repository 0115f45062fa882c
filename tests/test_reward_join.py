"""The reward join: every event learned exactly once, with the right reward, whatever arrives."""

import pytest
from conftest import numbered

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True


def decide(client, title="t01", **extra):
    r = client.post("/api/v1/select-artwork", json={"user_id": "u1", "title_id": title, **extra})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["decisions"][0]["event_id"]


def post(client, event_id, kind, **body):
    return client.post(f"/api/v1/events/{event_id}/{kind}", json=body or None)


def queue(service):
    return numbered(service.store).query("SELECT q.seq, q.event_id, i.reward, i.final_reason FROM learn_queue q"
                               " JOIN impressions i USING (event_id) ORDER BY q.seq")


def test_click_makes_reward_final_and_is_learned_once(client, service, learner):
    ev = decide(client)
    r = post(client, ev, "click")
    assert r.status_code == 200
    assert r.get_json() == {"event_id": ev, "kind": "click", "effect": "rewarded", "final": True, "reward": 1.0}
    assert queue(service) == [{"seq": 1, "event_id": ev, "reward": 1.0, "final_reason": "outcome"}]
    assert learner.run_once() == 1 and service.model.version == 1
    assert learner.run_once() == 0 and service.model.version == 1


def test_duplicate_clicks_change_nothing(client, service, learner):
    ev = decide(client)
    post(client, ev, "click")
    learner.run_once()
    for _ in range(3):
        r = post(client, ev, "click")
        assert r.status_code == 200 and r.get_json()["effect"] == "duplicate"
    assert len(queue(service)) == 1
    assert learner.run_once() == 0 and service.model.version == 1
    assert service.store.scalar("SELECT count(*) FROM outcomes WHERE event_id = ?", (ev,)) == 4


def test_unknown_event_is_refused_and_nothing_is_written(client, service):
    r = post(client, "f" * 32, "click")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_event"
    assert service.store.scalar("SELECT count(*) FROM outcomes") == 0


def test_no_click_gets_the_default_reward_when_the_window_closes(client, service, learner, clock):
    ev = decide(client)
    clock.advance(29)
    learner.run_once()
    assert queue(service) == []
    clock.advance(1)
    assert learner.run_once() == 1
    assert queue(service) == [{"seq": 1, "event_id": ev, "reward": 0.0, "final_reason": "window"}]


def test_late_click_is_recorded_but_not_learned(client, service, learner, clock):
    ev = decide(client)
    clock.advance(31)
    learner.run_once()
    r = post(client, ev, "click")
    assert r.get_json() == {"event_id": ev, "kind": "click", "effect": "late", "final": True, "reward": 0.0}
    assert learner.run_once() == 0 and service.model.version == 1
    assert [q["reward"] for q in queue(service)] == [0.0]


def test_late_click_before_the_sweeper_ran_is_still_late(client, service, clock):
    ev = decide(client)
    clock.advance(60)  # the learner has not closed the window yet
    r = post(client, ev, "click")
    assert r.get_json()["effect"] == "late" and r.get_json()["reward"] == 0.0
    assert queue(service) == [{"seq": 1, "event_id": ev, "reward": 0.0, "final_reason": "window"}]


def test_deferred_events_are_learned_only_when_activated(client, service, learner, clock):
    kept = decide(client, "t01", defer_activation=True)
    dropped = decide(client, "t02", defer_activation=True)
    assert post(client, dropped, "click").get_json()["effect"] == "held"
    clock.advance(3600)
    learner.run_once()
    assert queue(service) == []  # neither was activated: nothing learned
    r = post(client, kept, "activate")
    assert r.get_json()["effect"] == "activated" and r.get_json()["final"] is False
    assert post(client, kept, "activate").get_json()["effect"] == "duplicate"
    assert post(client, kept, "click").get_json()["effect"] == "rewarded"
    learner.run_once()
    assert queue(service) == [{"seq": 1, "event_id": kept, "reward": 1.0, "final_reason": "outcome"}]
    assert service.store.scalar("SELECT state FROM impressions WHERE event_id = ?", (dropped,)) == "awaiting_activation"


def test_click_held_before_activation_counts_at_activation(client, service):
    ev = decide(client, defer_activation=True)
    post(client, ev, "click")
    r = post(client, ev, "activate")
    assert r.get_json()["final"] is True and r.get_json()["reward"] == 1.0


def test_activated_event_without_click_gets_default_after_its_window(client, service, learner, clock):
    ev = decide(client, defer_activation=True)
    clock.advance(1000)
    post(client, ev, "activate")  # the window starts at activation, not at the decision
    clock.advance(10)
    learner.run_once()
    assert queue(service) == []
    clock.advance(25)
    learner.run_once()
    assert queue(service) == [{"seq": 1, "event_id": ev, "reward": 0.0, "final_reason": "window"}]


def test_activate_on_a_normal_event_is_a_conflict(client):
    ev = decide(client)
    r = post(client, ev, "activate")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_deferred"


def test_quality_play_reward(make_app):
    app = make_app(REWARD="quality_play", QUALITY_PLAY_SECONDS=600)
    client, service = app.test_client(), app.extensions["artwork"]
    ev = decide(client)
    assert post(client, ev, "click").get_json()["effect"] == "recorded"
    assert post(client, ev, "play", seconds=120).get_json()["effect"] == "recorded"
    r = post(client, ev, "play", seconds=900).get_json()
    assert (r["effect"], r["reward"]) == ("rewarded", 1.0)
    assert post(client, ev, "play", seconds=900).get_json()["effect"] == "duplicate"
    assert len(queue(service)) == 1


def test_under_click_reward_a_play_counts_as_engagement(client, service):
    ev = decide(client)
    assert post(client, ev, "play", seconds=5).get_json()["effect"] == "rewarded"


@pytest.mark.parametrize("body,message", [
    ({"seconds": -1}, "at least 0"),
    ({"seconds": "long"}, "finite number"),
    ({"seconds": True}, "finite number"),
    ({"seconds": 10, "extra": 1}, "unknown field"),
])
def test_bad_play_bodies(client, service, body, message):
    ev = decide(client)
    r = post(client, ev, "play", **body)
    assert r.status_code == 400 and message in r.get_json()["error"]["message"]
    assert service.store.scalar("SELECT count(*) FROM outcomes") == 0


def test_many_events_each_learned_exactly_once_in_order(client, service, learner, clock):
    events = [decide(client, f"t{n:02d}") for n in range(1, 21)]
    for ev in events[::2]:
        post(client, ev, "click")
        post(client, ev, "click")
    learner.run_once()
    clock.advance(31)
    for ev in events:
        post(client, ev, "click")  # all late or duplicate now
    learner.run_once()
    rows = queue(service)
    assert sorted(r["event_id"] for r in rows) == sorted(events)
    assert [r["seq"] for r in rows] == list(range(1, 21))
    assert sum(r["reward"] for r in rows) == 10
    assert service.model.version == 20


def test_dismiss_closes_the_window_now_with_the_default_reward(client, service, learner):
    ev = decide(client)
    r = post(client, ev, "dismiss").get_json()
    assert (r["effect"], r["final"], r["reward"]) == ("dismissed", True, 0.0)
    assert queue(service) == [{"seq": 1, "event_id": ev, "reward": 0.0, "final_reason": "window"}]
    assert learner.run_once() == 1
    assert post(client, ev, "click").get_json()["effect"] == "late"
    assert post(client, ev, "dismiss").get_json()["effect"] == "late"
    assert learner.run_once() == 0 and len(queue(service)) == 1


def test_dismiss_after_a_click_changes_nothing(client, service):
    ev = decide(client)
    post(client, ev, "click")
    assert post(client, ev, "dismiss").get_json()["effect"] == "duplicate"
    assert queue(service)[0]["reward"] == 1.0


def test_dismiss_held_before_activation_closes_it_at_activation(client, service):
    ev = decide(client, defer_activation=True)
    assert post(client, ev, "dismiss").get_json()["effect"] == "held"
    r = post(client, ev, "activate").get_json()
    assert (r["final"], r["reward"]) == (True, 0.0)


def test_closing_windows_in_batches_queues_each_event_once_in_deadline_order(client, service, learner, clock):
    early = [decide(client, title) for title in ("t01", "t02", "t03", "t04", "t05", "t06", "t07")]
    clicked = early[3]
    assert post(client, clicked, "click").get_json()["effect"] == "rewarded"
    clock.advance(10)
    late = [decide(client, title) for title in ("t08", "t09")]
    clock.advance(25)  # the early windows closed (30 s), the late ones not yet
    assert learner.close_windows(batch=2) == 6  # three full batches and an empty one
    rows = queue(service)
    # Same deadline (the fake clock stood still): event id breaks the tie, as in one transaction.
    assert [r["event_id"] for r in rows] == [clicked] + sorted(e for e in early if e != clicked)
    assert [r["seq"] for r in rows] == list(range(1, 8))
    assert {(r["reward"], r["final_reason"]) for r in rows[1:]} == {(0.0, "window")}
    pending = service.store.query("SELECT event_id FROM impressions WHERE state = 'pending' ORDER BY created_ts")
    assert [r["event_id"] for r in pending] == late
    assert learner.close_windows(batch=2) == 0
    clock.advance(10)
    assert learner.run_once() == 9 and service.model.version == 9


def test_event_ids_carry_the_decision_time_so_later_ones_sort_after(client, service, clock):
    """Ids are the decision time in milliseconds (12 hex digits) and 128 random bits: the log's
    index on them grows at its end instead of on a random page of an index as large as the log."""
    first = decide(client)
    assert len(first) == 44 and first[:12] == f"{int(clock() * 1000):012x}"
    clock.advance(0.001)
    page = client.post("/api/v1/select-artwork", json={"user_id": "u1", "title_ids": ["t01", "t02", "t03"]})
    ids = [d["event_id"] for d in page.get_json()["decisions"]]
    assert {i[:12] for i in ids} == {f"{int(clock() * 1000):012x}"} and len(set(ids)) == 3
    assert all(first < i for i in ids)
    clock.advance(3600)
    assert max(ids) < decide(client)
    assert len({i[12:] for i in ids + [first]}) == 4  # the random part differs


def test_an_event_logged_with_an_old_32_digit_id_still_takes_outcomes(client, service, learner):
    """Decisions logged before ids carried their time have 32 random hex digits alone; their
    outcomes and their read-out are accepted as before."""
    new = decide(client)
    old = new[12:]
    with service.store.write() as conn:
        conn.execute("UPDATE impressions SET event_id = ? WHERE event_id = ?", (old, new))
    assert client.get(f"/api/v1/events/{old}").status_code == 200
    r = post(client, old, "click")
    assert r.status_code == 200 and r.get_json()["effect"] == "rewarded"
    assert queue(service) == [{"seq": 1, "event_id": old, "reward": 1.0, "final_reason": "outcome"}]
    assert learner.run_once() == 1
    for bad in (old[:31], old + "0", new + "0", "0" * 40, old.upper()):
        assert post(client, bad, "click").status_code == 404


def test_a_decision_makes_the_person_known_whether_or_not_the_history_was_read(client, service):
    """The users row is written with a person's first decision; the history query tells a known
    person apart, and a request that brings its own affinity (no history read) still writes it."""
    for body in ({"user_id": "fresh", "title_id": "t01"}, {"user_id": "fresh", "title_id": "t02"},
                 {"user_id": "own", "title_id": "t01", "context": {"genre_affinity": {"drama": 1.0}}}):
        assert client.post("/api/v1/select-artwork", json=body).status_code == 200
    rows = service.store.query("SELECT id, count(*) AS n FROM users WHERE id IN ('fresh', 'own')"
                               " GROUP BY id ORDER BY id")
    assert rows == [{"id": "fresh", "n": 1}, {"id": "own", "n": 1}]
