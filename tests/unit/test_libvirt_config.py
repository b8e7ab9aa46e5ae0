"""[libvirt] in config.toml: typed and checked on load (host/config.py), defaults when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroxl.errors import ConfigError
from zeroxl.host.config import LibvirtSettings, load


def config(tmp_path: Path, text: str) -> LibvirtSettings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load(path).libvirt


def test_without_a_libvirt_table_the_defaults_apply_and_libvirt_is_not_configured(tmp_path: Path) -> None:
    settings = config(tmp_path, "[policy]\nmax_memory = 512\n")
    assert settings == LibvirtSettings()
    assert (settings.configured, settings.uri, settings.domain_type, settings.pool) == (
        False,
        "qemu:///system",
        None,
        None,
    )


def test_every_key_is_read(tmp_path: Path) -> None:
    settings = config(
        tmp_path, '[libvirt]\nuri = "xen:///system"\ndomain_type = "kvm"\npool = "vms"\nstop_timeout = 0\n'
    )
    assert settings == LibvirtSettings(True, "xen:///system", "kvm", "vms", 0.0)
    assert config(tmp_path, "[libvirt]\n").configured


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('uri = "qemu"', "is not a libvirt URI"),
        ('uri = "qemu:///system\\n"', "is not a libvirt URI"),
        ("uri = 1", "wrong type"),
        ('domain_type = "xen"', "domain_type must be one of kvm, qemu"),
        ('pool = "a/b"', "is not a pool name"),
        ('pool = ""', "is not a pool name"),
        ("stop_timeout = -1", "stop_timeout must be 0 or more"),
        ("stop_timeout = nan", "stop_timeout must be 0 or more"),
    ],
)
def test_bad_values_are_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, f"[libvirt]\n{text}\n")


def test_libvirt_volumes_are_looked_for_when_configured_or_when_0xl_made_some(tmp_path: Path) -> None:
    from zeroxl.app.context import Context
    from zeroxl.host.paths import Home

    home = Home(tmp_path / "home")
    home.root.mkdir()
    assert "libvirt" not in [p.kind for p in Context(home).disk_providers()]
    # A volume made with the default settings (no [libvirt] table) leaves its note: it is listed, and
    # `destroy --delete-disks` can delete it.
    (home.root / "libvirt" / "volumes" / "0xl").mkdir(parents=True)
    assert "libvirt" in [p.kind for p in Context(home).disk_providers()]
    (home.root / "libvirt" / "volumes" / "0xl").rmdir()
    (home.root / "libvirt" / "volumes").rmdir()
    (home.root / "config.toml").write_text("[libvirt]\n")
    assert "libvirt" in [p.kind for p in Context(home).disk_providers()]
