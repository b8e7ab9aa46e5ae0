"""Selection: target, channel, version range, newest first, and why nothing fits."""

from __future__ import annotations

import pytest

from zeroxl.errors import SelectionError
from zeroxl.feeds.model import Arch, Archive, Feed, Implementation, Stability
from zeroxl.feeds.selection import Channel, Requirements, Target, candidates, select
from zeroxl.feeds.versions import Version, VersionRange

LINUX = Target.parse("Linux-x86_64")
XEN = Target.parse("Xen-x86_64")


def impl(
    version: str, arch: str | None = None, stability: Stability = Stability.STABLE, digest: bool = True
) -> Implementation:
    return Implementation(
        id=f"id-{version}-{arch}",
        version=Version.parse(version),
        arch=Arch.parse(arch),
        stability=stability,
        digests={"sha256new": "X" + version} if digest else {"sha1new": "abc"},
        retrievals=(Archive("http://x/a.tgz", 1),),
        commands={},
    )


def feed(*impls: Implementation) -> Feed:
    return Feed(url="http://example.org/f.xml", name="f", summary="", implementations=impls)


def test_newest_version_for_the_target_wins() -> None:
    f = feed(impl("1.0", "Linux-x86_64"), impl("2.0", "Linux-x86_64"), impl("3.0", "Xen-x86_64"))
    assert str(select(f, Requirements(LINUX)).version) == "2.0"
    assert str(select(f, Requirements(XEN)).version) == "3.0"


def test_vm_target_needs_an_explicit_arch() -> None:
    # 0install would match an arch-less or POSIX implementation with --os=Xen; a program is not a kernel.
    f = feed(impl("1.0", None), impl("2.0", "POSIX-*"), impl("3.0", "*-x86_64"))
    with pytest.raises(SelectionError, match="no implementation"):
        select(f, Requirements(XEN))
    assert str(select(f, Requirements(LINUX)).version) == "3.0"


def test_stable_channel_ignores_testing_and_testing_takes_both() -> None:
    f = feed(impl("1.0"), impl("2.0", stability=Stability.TESTING), impl("3.0", stability=Stability.BUGGY))
    assert str(select(f, Requirements(LINUX, Channel.STABLE)).version) == "1.0"
    assert str(select(f, Requirements(LINUX, Channel.TESTING)).version) == "2.0"


def test_version_range_limits_the_choice() -> None:
    f = feed(impl("1.0"), impl("2.0"), impl("2.5"), impl("3.0"))
    assert str(select(f, Requirements(LINUX, versions=VersionRange.parse("2.0..!3"))).version) == "2.5"


def test_other_cpu_and_missing_sha256new_are_skipped() -> None:
    f = feed(impl("1.0", "Linux-aarch64"), impl("2.0", "Linux-x86_64", digest=False), impl("0.9", "Linux-i686"))
    assert [str(i.version) for i in candidates(f, Requirements(LINUX))] == ["0.9"]


def test_no_fit_explains_each_implementation() -> None:
    f = feed(impl("1.0", "Xen-x86_64"), impl("2.0", stability=Stability.TESTING))
    with pytest.raises(SelectionError) as e:
        select(f, Requirements(LINUX, versions=VersionRange.parse("5..")))
    text = e.value.message
    assert "built for Xen-x86_64" in text
    assert "not in version range 5.." in text or "testing, not on the stable channel" in text


def test_empty_feed_says_so() -> None:
    with pytest.raises(SelectionError, match="lists no implementations"):
        select(feed(), Requirements(LINUX))


def _hint(f: Feed, req: Requirements) -> str | None:
    with pytest.raises(SelectionError) as e:
        select(f, req)
    return e.value.hint


def test_the_hint_suggests_only_what_was_not_given_and_would_fit() -> None:
    testing = feed(impl("1.0", "Linux-x86_64", Stability.TESTING))
    assert _hint(testing, Requirements(LINUX)) == "try --channel testing"
    # Given already: "try --channel testing" when it was is what the hint used to say.
    buggy = feed(impl("1.0", "Linux-x86_64", Stability.BUGGY))
    assert "--channel testing" not in (_hint(buggy, Requirements(LINUX, Channel.TESTING)) or "")
    ranged = feed(impl("1.0", "Linux-x86_64"))
    assert _hint(ranged, Requirements(LINUX, versions=VersionRange.parse("2.0.."))) == "try another --version range"


def test_a_xen_only_feed_on_a_linux_host_is_told_the_backend_that_runs_it() -> None:
    hint = _hint(feed(impl("1.0", "Xen-x86_64")), Requirements(LINUX))
    assert hint == "try --backend xen (the feed has builds for Xen)"
    hint = _hint(feed(impl("1.0", "Linux-x86_64")), Requirements(XEN))
    assert hint == "try --backend unix (the feed has builds for Linux)"
    hint = _hint(feed(impl("1.0", "FreeBSD-x86_64")), Requirements(XEN))
    assert hint == "try a host that runs FreeBSD: the feed has no build for Xen-x86_64"
