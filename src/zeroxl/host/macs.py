"""The MAC address of each network of a VM: given by the operator (`0xl add --mac NET=MAC`) or derived.

A vif without a MAC gets a new random one at every `xl create`, so 0xl chooses one per network when a
service is added and records it (`Service.macs`). A derived MAC is HMAC-SHA256 of the service's name and
the network's index, keyed with the host's random value (zeroxl.state.hostid): the same on this host at
every start, after an update and after a destroy and an add of the same name, and a different one on
another host, so that two dom0s on one LAN that each run a `dns` give them different MACs. It takes 46
random bits: locally administered (the bit xl-network-configuration(5) recommends setting for made-up
MACs) and unicast. Pure functions: the caller reads the host's value and the other services.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence

from zeroxl.errors import MAC, ConflictError, Setting, SettingError
from zeroxl.host.devices import network_devid

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
MAC_FORM = "six pairs of hexadecimal digits separated by ':', e.g. 02:00:5e:10:00:01"


def derived(host_id: bytes, service: str, index: int) -> str:
    """The MAC of SERVICE's network INDEX on the host whose value is HOST_ID."""
    digest = hmac.new(host_id, f"0xl-vif\0{service}\0{index}".encode(), hashlib.sha256).digest()
    first = (digest[0] & 0b11111100) | 0b00000010  # unicast (bit 0 clear), locally administered (bit 1 set)
    return ":".join(f"{b:02x}" for b in (first, *digest[1:6]))


def legacy(service: str, index: int) -> str:
    """The MAC 0xl derived before MACs were recorded (from the name alone): records of that time keep it."""
    digest = hashlib.sha256(f"0xl-vif\0{service}\0{index}".encode()).digest()
    return "00:16:3e" + "".join(f":{b:02x}" for b in digest[:3])


def check_mac(text: str, net: str | None = None) -> str:
    """TEXT, given for the network NET, as a MAC a vif can have, in lower case: six hexadecimal pairs,
    unicast, not all zero."""
    what: list[str | Setting] = [MAC, f" {net}" if net is not None else ""]
    multicast = "a multicast address (the lowest bit of its first byte is set)"
    mac = text.lower()
    if not _MAC.fullmatch(mac):
        raise SettingError([*what, f": {text!r} is not a MAC address"], hint=f"write {MAC_FORM}")
    if int(mac[:2], 16) & 1:
        raise SettingError(
            [*what, f": {text} is {multicast}, which no vif can have"],
            hint="use a unicast address: its first byte even, e.g. 02:…",
        )
    if mac == "00:00:00:00:00:00":
        raise SettingError([*what, f": {text} is the all-zero address, which no vif can have"])
    return mac


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """`--mac NET=MAC` options as {NET: MAC}, each MAC checked for form; NET is checked by `assign`."""
    given: dict[str, str] = {}
    for pair in pairs:
        net, sep, mac = pair.partition("=")
        if not sep or not net:
            raise SettingError(
                ["invalid ", MAC, f" {pair!r}"], hint="write NET=MAC, NET a network's name or index, e.g. 0=02:…"
            )
        if net in given:
            raise SettingError([MAC, f" {net} is given twice"])
        given[net] = check_mac(mac, net)
    return given


def assign(given: dict[str, str], networks: Sequence[str]) -> dict[int, str]:
    """GIVEN (`--mac NET=MAC`) as {index: MAC} for the declared NETWORKS.

    NET is a network's name or its index from 0 (its vif's device id). The two never disagree: a network
    named by a number is declared at that index (zeroxl.host.devices.check_network_positions).
    """
    declared = ", ".join(f"{n} ({i})" if n != str(i) else n for i, n in enumerate(networks)) or "none"
    out: dict[int, str] = {}
    for net, mac in given.items():
        index = networks.index(net) if net in networks else network_devid(net)
        if index is None or index >= len(networks):
            raise SettingError(
                [MAC, f" {net}: the service declares no such network (it declares: {declared})"],
                hint="name a network by its name or its index, from 0",
            )
        if index in out:
            raise SettingError([MAC, f" is given twice for the network {networks[index]}"])
        out[index] = mac
    if len(set(out.values())) != len(out):
        raise SettingError(["two ", MAC, " options give the same MAC: each network's vif needs its own"])
    return out


def plan(service: str, count: int, given: dict[int, str], host_id: bytes) -> tuple[str, ...]:
    """The MAC of each of COUNT networks: the one GIVEN for it, else derived for this host."""
    return tuple(given.get(i) or derived(host_id, service, i) for i in range(count))


def check_unique(
    service: str, macs: Iterable[str], others: Mapping[str, Sequence[str]], *, given: Iterable[str] = ()
) -> None:
    """Refuse MACs that are another service's on this host (ConflictError, exit status 7).

    OTHERS are the MACs of the host's other services, by name; GIVEN are the ones the operator chose, for
    the hint.
    """
    mine = list(macs)
    if len(set(mine)) != len(mine):
        raise ConflictError(f"{service} would have the same MAC on two of its networks", hint=["give each its ", MAC])
    chosen = set(given)
    for other, their_macs in others.items():
        if other == service:
            continue
        clash = set(mine) & set(their_macs)
        if clash:
            mac = min(clash)
            raise ConflictError(
                f"the MAC {mac} of {service} is the one of the service {other}",
                hint=["choose another ", MAC]
                if mac in chosen
                else ["give a ", MAC, " for that network, or another name"],
            )
