"""A Xen domain's network bytes, from its backend interfaces in dom0's /sys/class/net (backends.usage).

The nested Xen lab reads the real counters of a guest after a ping (tests/labs/xen/test_xen_backend.py);
here a directory laid out as sysfs lays it out checks which interfaces count and which way round.
"""

from __future__ import annotations

from pathlib import Path

from zeroxl.backends.usage import vif_bytes


def interface(net: Path, name: str, rx: int, tx: int) -> None:
    stats = net / name / "statistics"
    stats.mkdir(parents=True)
    (stats / "rx_bytes").write_text(f"{rx}\n")
    (stats / "tx_bytes").write_text(f"{tx}\n")


def test_the_domains_vifs_are_added_up_from_the_guests_side(tmp_path: Path) -> None:
    interface(tmp_path, "vif7.0", rx=100, tx=1000)  # dom0 received 100 bytes from the guest: it sent them
    interface(tmp_path, "vif7.1", rx=5, tx=50)
    interface(tmp_path, "vif7.0-emu", rx=9999, tx=9999)  # an HVM guest's emulated twin: not a PV network
    interface(tmp_path, "vif71.0", rx=7777, tx=7777)  # domain 71, not 7
    interface(tmp_path, "eth0", rx=1, tx=1)
    assert vif_bytes(7, str(tmp_path)) == {"net_rx_bytes": 1050, "net_tx_bytes": 105}


def test_a_domain_without_networks_has_no_figure(tmp_path: Path) -> None:
    interface(tmp_path, "vif8.0", rx=1, tx=1)
    assert vif_bytes(7, str(tmp_path)) is None
    assert vif_bytes(7, str(tmp_path / "missing")) is None
