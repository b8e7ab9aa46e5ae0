"""What a VM may have on this host: memory and bridges, decided from what the operator asked for, what the
service's feed declares (host.needs) and the host's policy (`[policy]` in config.toml). Pure functions of
values: no IO, and no service record (the callers read those).

Checked when a service is added (before anything is fetched or created) and again when it starts, since
the policy may have changed in between. A request over a limit is a PolicyError (exit status 9); a
request that contradicts what the feed declares is a SettingError (2, or 8 when a new version does not
fit the service: app.fits).
"""

from __future__ import annotations

from collections.abc import Iterable

from zeroxl.errors import MEMORY, NET, RESTART, PolicyError, SettingError
from zeroxl.host.config import Policy
from zeroxl.host.names import BRIDGE_NAME
from zeroxl.host.needs import ServiceNeeds

# What `mirage configure -t xen` writes when the unikernel says nothing, and what a VM gets when neither
# the operator (--memory) nor the feed (memory, memory-min) says more.
DEFAULT_MEMORY = 256

# docs/restart.md: `always` restarts whatever the exit, `on-failure` not after a clean exit or one meaning
# "bad arguments", `never` not at all.
RESTART_POLICIES = ("always", "on-failure", "never")
DEFAULT_RESTART = "on-failure"


def check_restart(policy: str) -> str:
    """POLICY, one of RESTART_POLICIES ("no", its name before `always` came, is `never`)."""
    if policy == "no":
        return "never"
    if policy not in RESTART_POLICIES:
        raise SettingError(["invalid ", RESTART, f" {policy!r}"], hint=f"choose one of: {', '.join(RESTART_POLICIES)}")
    return policy


MAX_START_ORDER = 999


def check_start_order(order: int) -> int:
    """A place in `0xl boot`'s order: 0 (first) to MAX_START_ORDER."""
    if not 0 <= order <= MAX_START_ORDER:
        raise SettingError(
            f"invalid start order {order}", hint=f"choose a number from 0 (started first) to {MAX_START_ORDER}"
        )
    return order


# `--net network:NAME`: a libvirt network instead of a bridge (the libvirt backend; xl has no such thing).
LIBVIRT_NETWORK = "network:"


def check_bridge_name(name: str) -> str:
    """NAME if it is a bridge, or `network:` and a libvirt network named as a bridge may be; else SettingError."""
    if not BRIDGE_NAME.fits(name.removeprefix(LIBVIRT_NETWORK)):
        raise SettingError(
            ["invalid ", NET, f" {name!r}: not a bridge name"],
            hint=f"a bridge is named by {BRIDGE_NAME.text}, e.g. xenbr0 (or network:NAME for a libvirt network)",
        )
    return name


def vm_memory(memory: int | None, needs: ServiceNeeds) -> int:
    """MiB a VM gets: MEMORY (--memory), else the feed's recommendation, else a default (not below the minimum)."""
    if memory is not None:
        return memory
    if needs.memory is not None:
        return needs.memory
    return max(needs.memory_min or 0, DEFAULT_MEMORY)


def check_memory(name: str, requested: int | None, needs: ServiceNeeds, policy: Policy, others: Iterable[int]) -> int:
    """The memory of NAME's VM (REQUESTED, or what NEEDS says), refused when below what the feed needs or over
    the host's limits.

    OTHERS is the memory of each of the host's other VM services (vm_memory): the total limit counts what
    they are configured with, whether they run or not, so that starting every service at once fits too.
    """
    memory = vm_memory(requested, needs)
    if needs.memory_min is not None and memory < needs.memory_min:
        raise SettingError(
            f"{name}: {memory} MiB of memory is below the {needs.memory_min} MiB the service needs",
            hint=["give ", MEMORY, f" {needs.memory_min} or more"],
        )
    if policy.max_memory is not None and memory > policy.max_memory:
        raise PolicyError(
            f"{name}: {memory} MiB of memory is over the host's limit of {policy.max_memory} MiB per service",
            hint=["give a smaller ", MEMORY, ", or raise [policy] max_memory in config.toml"],
        )
    if policy.max_total_memory is not None:
        taken = sum(others)
        if taken + memory > policy.max_total_memory:
            raise PolicyError(
                f"{name}: {memory} MiB of memory would bring the host's services to {taken + memory} MiB, "
                f"over its limit of {policy.max_total_memory} MiB in total ({taken} MiB are taken)",
                hint=["give a smaller ", MEMORY, ", destroy a service, or raise [policy] max_total_memory"],
            )
    return memory


def plan_bridges(requested: Iterable[str], needs: ServiceNeeds, policy: Policy) -> tuple[str, ...]:
    """The bridge of each network the feed declares, in order: the --net values, then the host's default.

    The default bridge is the first in `[policy] bridges`; without that list every network needs a --net.
    """
    given = [check_bridge_name(b) for b in requested]
    if len(given) > len(needs.networks):
        declared = ", ".join(needs.networks) or "none"
        raise SettingError(
            [f"{len(given)} ", NET, f" given, but the service declares {len(needs.networks)} network(s) ({declared})"]
        )
    bridges = list(given)
    for network in needs.networks[len(given) :]:
        if not policy.bridges:
            raise SettingError(
                f"the service needs a bridge for its network {network!r}",
                hint=[
                    "add ",
                    NET,
                    " BRIDGE (one per network, in order), or list the host's bridges in [policy] bridges: the first "
                    "is the default",
                ],
            )
        bridges.append(policy.bridges[0])
    check_bridges(tuple(bridges), needs, policy)
    return tuple(bridges)


def check_bridges(bridges: tuple[str, ...], needs: ServiceNeeds, policy: Policy) -> None:
    """Every bridge allowed by the host's policy, and exactly one per network the feed declares."""
    for bridge in bridges:
        check_bridge_name(bridge)
        if policy.bridges is not None and bridge not in policy.bridges:
            raise PolicyError(
                f"bridge {bridge} is not one the host allows services to use ({', '.join(policy.bridges) or 'none'})",
                hint=["choose another ", NET, ", or add it to [policy] bridges in config.toml"],
            )
    if len(bridges) != len(needs.networks):
        raise SettingError(
            f"the service declares {len(needs.networks)} network(s) ({', '.join(needs.networks) or 'none'}) "
            f"but has {len(bridges)} bridge(s) ({', '.join(bridges) or 'none'})",
        )
