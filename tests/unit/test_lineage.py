"""What a history says: the versions that ran, the one before, the ones rolled back from, what to keep."""

from __future__ import annotations

from zeroxl.state import lineage
from zeroxl.state.history import Entry
from zeroxl.state.selected import Selected
from zeroxl.state.service import Service
from zeroxl.state.transition import SWAP, Transition


def sel(version: str) -> Selected:
    return Selected(f"id{version}", version, f"sha256new_{version.replace('.', '')}", "*-*", "stable", "bin/web")


def e(action: str, frm: str | None, to: str, outcome: str = "ok") -> Entry:
    return Entry(time=0.0, action=action, to=sel(to), from_=sel(frm) if frm else None, outcome=outcome)


STORY = [
    e("add", None, "1.0"),
    e("update", "1.0", "2.0"),
    e("update", "2.0", "3.0", "failed"),
    e("auto-rollback", "3.0", "2.0"),
]


def test_ran_lists_what_ran_in_order_without_failed_versions_or_repeats() -> None:
    assert [s.version for s in lineage.ran(STORY)] == ["1.0", "2.0"]


def test_previous_skips_a_version_that_failed_its_health_check() -> None:
    prev = lineage.previous(STORY, sel("2.0"))
    assert prev is not None and prev.version == "1.0"
    assert lineage.previous(STORY[:1], sel("1.0")) is None


def test_rollback_toggles_between_the_last_two_versions() -> None:
    story = [*STORY, e("rollback", "2.0", "1.0")]
    prev = lineage.previous(story, sel("1.0"))
    assert prev is not None and prev.version == "2.0"


def test_named_finds_the_most_recent_run_of_a_version() -> None:
    found = lineage.named(STORY, "1.0")
    assert found is not None and found.digest == sel("1.0").digest
    assert lineage.named(STORY, "3.0") is None  # it never ran successfully
    assert lineage.named(STORY, "9.9") is None


def test_versions_rolled_back_from_are_remembered_until_they_run_again() -> None:
    assert set(lineage.rolled_back_from(STORY)) == {sel("3.0").digest}
    by_hand = [*STORY, e("rollback", "2.0", "1.0")]
    assert set(lineage.rolled_back_from(by_hand)) == {sel("3.0").digest, sel("2.0").digest}
    again = [*by_hand, e("rollback", "1.0", "2.0")]
    assert set(lineage.rolled_back_from(again)) == {sel("3.0").digest, sel("1.0").digest}


def test_interrupted_or_failed_rollbacks_do_not_count_against_a_version() -> None:
    story = [*STORY, e("rollback", "2.0", "1.0", "interrupted")]
    assert set(lineage.rolled_back_from(story)) == {sel("3.0").digest}


def test_kept_holds_the_current_version_the_last_ones_and_a_change_under_way() -> None:
    story = [e("add", None, "1.0"), e("update", "1.0", "2.0"), e("update", "2.0", "3.0"), e("update", "3.0", "4.0")]
    svc = Service(name="web", feed="f", backend="unix", target="Linux-x86_64", current=sel("4.0"))
    assert lineage.kept(svc, story, 2) == {sel("4.0").digest, sel("3.0").digest}
    assert lineage.kept(svc, story, 1) == {sel("4.0").digest}
    t = Transition("update", SWAP, sel("4.0"), sel("5.0"), 0.0, {"pid": 1})
    changing = Service(name="web", feed="f", backend="unix", target="Linux-x86_64", current=sel("4.0"), transition=t)
    assert lineage.kept(changing, story, 1) == {sel("4.0").digest, sel("5.0").digest}
