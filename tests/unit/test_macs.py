"""MACs of VM networks: derived per host, given by the operator, checked for form and collisions; and the
host's random value they are derived from, made once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.words import refused, said
from zeroxl.errors import ConflictError, StateError, UsageError
from zeroxl.host import macs
from zeroxl.state.hostid import host_id

HOST_A = bytes(range(32))
HOST_B = bytes(range(1, 33))


def openssl_hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 as OpenSSL computes it (`openssl mac`, OpenSSL 3): code apart from Python's hmac,
    which 0xl uses. (openssl comes with ca-certificates, which 0install-core depends on.)"""
    argv = ["openssl", "mac", "-digest", "SHA256", "-macopt", f"hexkey:{key.hex()}", "HMAC"]
    out = subprocess.run(argv, input=data, capture_output=True, check=True, timeout=30).stdout
    return bytes.fromhex(out.decode().strip())


def documented(host: bytes, service: str, index: int) -> str:
    """The formula docs/xen.md gives, computed apart from 0xl's code (HMAC by OpenSSL): the first 6 bytes
    of HMAC-SHA256(host id, "0xl-vif" NUL NAME NUL INDEX), the first byte's two low bits set to 1 0."""
    d = openssl_hmac_sha256(host, b"0xl-vif\x00" + service.encode() + b"\x00" + str(index).encode())
    return ":".join(f"{b:02x}" for b in [(d[0] | 0x02) & 0xFE, *d[1:6]])


def test_a_derived_mac_is_the_documented_formula() -> None:
    for host, name, index in [(HOST_A, "mail", 0), (HOST_A, "mail", 1), (HOST_B, "dns", 0), (b"\xff" * 32, "x", 7)]:
        assert macs.derived(host, name, index) == documented(host, name, index)
    # OpenSSL agrees with RFC 4231's test case 2 (key "Jefe"), so the oracle is HMAC-SHA256 itself.
    rfc4231 = openssl_hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert rfc4231.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_derived_macs_are_unicast_locally_administered_and_differ_between_hosts() -> None:
    seen = set()
    for name in ("dns", "mail", "web", "a" * 31):
        for index in range(4):
            mac = macs.derived(HOST_A, name, index)
            first = int(mac[:2], 16)
            assert first & 1 == 0 and first & 2 == 2, mac
            assert macs.derived(HOST_A, name, index) == mac  # stable
            seen.add(mac)
    assert len(seen) == 16
    assert macs.derived(HOST_A, "dns", 0) != macs.derived(HOST_B, "dns", 0)


def sha256sum(data: bytes) -> bytes:
    """SHA-256 by coreutils' sha256sum: code apart from Python's hashlib, which 0xl uses."""
    out = subprocess.run(["sha256sum"], input=data, capture_output=True, check=True, timeout=30).stdout
    return bytes.fromhex(out.split()[0].decode())


def test_the_mac_of_records_made_before_is_the_one_0xl_gave_them() -> None:
    # The oracle: `0xl config mail` in the Xen lab printed mac=00:16:3e:1a:3f:c8 before MACs were recorded
    # (docs/xen.md of that time), from the service's name alone: 00:16:3e + sha256("0xl-vif\0mail\00")[:3],
    # which sha256sum computes too.
    assert macs.legacy("mail", 0) == "00:16:3e:1a:3f:c8"
    assert sha256sum(b"0xl-vif\x00mail\x000")[:3].hex() == "1a3fc8"
    assert macs.legacy("web", 1) == "00:16:3e:" + ":".join(f"{b:02x}" for b in sha256sum(b"0xl-vif\x00web\x001")[:3])


@pytest.mark.parametrize("mac", ["02:00:5e:10:00:01", "00:16:3E:AB:cd:01", "fe:ff:ff:ff:ff:fe"])
def test_a_unicast_mac_is_taken_in_lower_case(mac: str) -> None:
    assert macs.check_mac(mac) == mac.lower()


@pytest.mark.parametrize(
    ("mac", "message"),
    [
        ("01:00:5e:00:00:01", "multicast"),
        ("ff:ff:ff:ff:ff:ff", "multicast"),
        ("00:00:00:00:00:00", "all-zero"),
        ("02:00:5e:10:00", "not a MAC address"),
        ("02-00-5e-10-00-01", "not a MAC address"),
        ("02:00:5e:10:00:01,script=/x", "not a MAC address"),
        ("02:00:5e:10:00:0g", "not a MAC address"),
        ("", "not a MAC address"),
    ],
)
def test_a_mac_no_vif_can_have_is_refused(mac: str, message: str) -> None:
    with refused(UsageError, message):
        macs.check_mac(mac)


def test_mac_options_name_a_network_by_its_name_or_its_index() -> None:
    given = macs.parse_options(["service=02:00:00:00:00:01", "0=02:00:00:00:00:02"])
    assert macs.assign(given, ("0", "service")) == {1: "02:00:00:00:00:01", 0: "02:00:00:00:00:02"}
    assert macs.assign({"1": "02:00:00:00:00:03"}, ("admin", "service")) == {1: "02:00:00:00:00:03"}


@pytest.mark.parametrize(
    ("options", "networks", "message"),
    [
        (["0"], ("0",), "invalid --mac '0'"),
        (["=02:00:00:00:00:01"], ("0",), "invalid --mac"),
        (["0=01:00:00:00:00:01"], ("0",), "--mac 0: 01:00:00:00:00:01 is a multicast address"),
        (["0=02:00:00:00:00:01", "0=02:00:00:00:00:02"], ("0",), "--mac 0 is given twice"),
        (["admin=02:00:00:00:00:01"], ("0", "service"), r"no such network \(it declares: 0, service \(1\)\)"),
        (["2=02:00:00:00:00:01"], ("0", "1"), "no such network"),
        (["0=02:00:00:00:00:01"], (), r"no such network \(it declares: none\)"),
        (["service=02:00:00:00:00:01", "1=02:00:00:00:00:02"], ("0", "service"), "given twice for the network service"),
        (["0=02:00:00:00:00:01", "1=02:00:00:00:00:01"], ("0", "1"), "the same MAC"),
    ],
)
def test_wrong_mac_options_are_refused(options: list[str], networks: tuple[str, ...], message: str) -> None:
    with refused(UsageError, message):
        macs.assign(macs.parse_options(options), networks)


def test_the_plan_takes_the_given_macs_and_derives_the_others() -> None:
    planned = macs.plan("mail", 3, {1: "00:16:3e:00:00:01"}, HOST_A)
    assert planned == (documented(HOST_A, "mail", 0), "00:16:3e:00:00:01", documented(HOST_A, "mail", 2))


def test_a_mac_of_another_service_on_the_host_is_refused() -> None:
    others = {"web": ["02:00:00:00:00:01"], "mail": ["02:00:00:00:00:02"]}  # mail: itself
    macs.check_unique("mail", ["02:00:00:00:00:02"], others)
    with pytest.raises(ConflictError, match="the MAC 02:00:00:00:00:01 of mail is the one of the service web") as e:
        macs.check_unique("mail", ["02:00:00:00:00:01"], others, given=["02:00:00:00:00:01"])
    assert said(e.value)[1] == "choose another --mac"
    with pytest.raises(ConflictError, match="same MAC on two of its networks"):
        macs.check_unique("mail", ["02:00:00:00:00:03", "02:00:00:00:00:03"], {})


# -- the host's value --------------------------------------------------------------------------------------


def test_the_host_value_is_made_once_and_then_read(tmp_path: Path) -> None:
    path = tmp_path / "home" / "host-id"
    first = host_id(path)
    assert len(first) == 32
    assert path.read_text() == first.hex() + "\n"
    assert host_id(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["host-id"]  # no temporary file left


def test_two_homes_have_two_values(tmp_path: Path) -> None:
    assert host_id(tmp_path / "a" / "host-id") != host_id(tmp_path / "b" / "host-id")


RACE = """
import sys, time
from pathlib import Path
from zeroxl.state.hostid import host_id
start = float(sys.argv[2])
while time.time() < start:
    pass
print(host_id(Path(sys.argv[1])).hex())
"""


def test_commands_that_make_it_at_once_all_get_the_same_value(tmp_path: Path) -> None:
    # Real processes released at the same instant: a plain write-and-rename would let each one keep its own.
    for attempt in range(3):
        path = tmp_path / str(attempt) / "host-id"
        path.parent.mkdir()
        import time

        start = str(time.time() + 0.7)
        procs = [
            subprocess.Popen([sys.executable, "-c", RACE, str(path), start], stdout=subprocess.PIPE, text=True)
            for _ in range(6)
        ]
        values = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert values == {path.read_text().strip()}, values
        assert sorted(os.listdir(path.parent)) == ["host-id"]


@pytest.mark.parametrize("content", [b"", b"abc\n", b"g" * 64 + b"\n", b"a" * 64, b"A" * 64 + b"\n"])
def test_a_damaged_host_value_is_refused_not_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "host-id"
    path.write_bytes(content)
    with pytest.raises(StateError, match="is damaged"):
        host_id(path)
    assert path.read_bytes() == content
