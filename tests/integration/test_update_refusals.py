"""An update refused before the swap — the new version cannot run as the service is configured — leaves
the service as it was and the store as it was, and exits with the documented status."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.feeds import FeedSite, Impl
from tests.support.updating import FAST, add_running, history, publish, record, serves
from zeroxl.app.context import Context
from zeroxl.app.fits import check_fits
from zeroxl.errors import ExitStatus, SelectionError
from zeroxl.host.needs import ServiceNeeds
from zeroxl.host.paths import Home
from zeroxl.state.selected import Selected
from zeroxl.state.service import Service

NEEDS_A_DISK = '<s:needs xmlns:s="urn:x-0xl:service:1"><s:block name="data" min-size="1M"/></s:needs>'


def _store(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "store").iterdir())


@pytest.mark.parametrize(
    ("new", "status"),
    [
        (Impl("2.0", command="bin/nosuch"), ExitStatus.BACKEND),  # the program is missing (exit-status.md)
        (Impl("2.0", needs_xml=NEEDS_A_DISK), ExitStatus.UNSATISFIABLE),  # does not fit the service (updates.md)
    ],
    ids=["missing-program", "needs-a-disk"],
)
def test_refused_update_leaves_no_download_in_the_store(
    site: FeedSite, zx, zhome: Path, new: Impl, status: int
) -> None:
    port = add_running(zx, site, "web", [Impl("1.0")])
    publish(site, "web", [Impl("1.0"), new])
    store_before = _store(zhome)

    r = zx("update", "web", *FAST)
    assert r.rc == status, r
    assert _store(zhome) == store_before
    assert record(zhome, "web")["current"]["version"] == "1.0"
    # What the channel offers is information about the feed, noted even when this service cannot take it.
    assert record(zhome, "web")["latest"]["version"] == "2.0"
    assert history(zx, "web") == [("add", None, "1.0", "ok")]
    assert serves(port, "1.0")


def test_new_vm_version_with_more_networks_than_bridges_does_not_fit(zhome: Path) -> None:
    zhome.mkdir(parents=True)
    (zhome / "config.toml").write_text('[policy]\nbridges = ["xenbr0"]\n')
    impl_dir = zhome / "impl"
    impl_dir.mkdir()
    (impl_dir / "k.xen").write_bytes(b"\x7fELF not really a kernel\n")

    def version(v: str, networks: tuple[str, ...]) -> Selected:
        needs = ServiceNeeds(networks=networks)
        return Selected(v, v, f"sha256new_{v}", "Xen-x86_64", "stable", "k.xen", needs=needs)

    svc = Service(
        name="mail",
        feed="http://127.0.0.1/mail.xml",
        backend="xen",
        target="Xen-x86_64",
        networks=("xenbr0",),
        current=version("1.0", ("service",)),
    )
    with pytest.raises(SelectionError, match="version 2.0 does not fit") as e:
        check_fits(Context(Home(zhome)), svc, version("2.0", ("service", "admin")), impl_dir)
    assert e.value.exit_status == ExitStatus.UNSATISFIABLE
