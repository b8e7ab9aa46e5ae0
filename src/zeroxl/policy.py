"""What a VM may have on this host: memory and bridges, decided from the service record, what its feed
declares and the host's policy (`[policy]` in config.toml). Pure functions: no IO.

Checked when a service is added (before anything is fetched or created) and again when it starts, since
the policy may have changed in between. A request over a limit is a PolicyError (exit status 9); a
request that contradicts what the feed declares is a UsageError (2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zeroxl.config import Policy
from zeroxl.errors import PolicyError, UsageError
from zeroxl.feeds.model import ServiceNeeds
from zeroxl.state.service import Service

# What `mirage configure -t xen` writes when the unikernel says nothing, and what a VM gets when neither
# the operator (--memory) nor the feed (memory, memory-min) says more.
DEFAULT_MEMORY = 256

# Linux interface names: at most 15 characters; this subset is also safe in every VM config format.
_BRIDGE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")

RESTART_POLICIES = ("on-failure", "no")
DEFAULT_RESTART = "on-failure"


def check_restart(policy: str) -> str:
    if policy not in RESTART_POLICIES:
        raise UsageError(f"invalid --restart {policy!r}", hint=f"choose one of: {', '.join(RESTART_POLICIES)}")
    return policy


def check_bridge_name(name: str) -> str:
    if not _BRIDGE.fullmatch(name):
        raise UsageError(
            f"invalid --net {name!r}: not a bridge name",
            hint="a bridge is named by 1-15 letters, digits, '_', '.' and '-', e.g. xenbr0",
        )
    return name


def vm_memory(svc: Service) -> int:
    """MiB the service's VM gets: --memory, else the feed's recommendation, else a default (not below the minimum)."""
    needs = svc.current.needs if svc.current else ServiceNeeds()
    if svc.memory is not None:
        return svc.memory
    if needs.memory is not None:
        return needs.memory
    return max(needs.memory_min or 0, DEFAULT_MEMORY)


def check_memory(svc: Service, policy: Policy, others: Iterable[Service]) -> int:
    """The service's memory, refused when below what the feed needs or over the host's limits.

    OTHERS are the host's other VM services: the total limit counts what they are configured with,
    whether they run or not, so that starting every service at once fits too.
    """
    needs = svc.current.needs if svc.current else ServiceNeeds()
    memory = vm_memory(svc)
    if needs.memory_min is not None and memory < needs.memory_min:
        raise UsageError(
            f"{svc.name}: {memory} MiB of memory is below the {needs.memory_min} MiB the service needs",
            hint=f"give --memory {needs.memory_min} or more",
        )
    if policy.max_memory is not None and memory > policy.max_memory:
        raise PolicyError(
            f"{svc.name}: {memory} MiB of memory is over the host's limit of {policy.max_memory} MiB per service",
            hint="give a smaller --memory, or raise [policy] max_memory in config.toml",
        )
    if policy.max_total_memory is not None:
        taken = sum(vm_memory(o) for o in others if o.name != svc.name)
        if taken + memory > policy.max_total_memory:
            raise PolicyError(
                f"{svc.name}: {memory} MiB of memory would bring the host's services to {taken + memory} MiB, "
                f"over its limit of {policy.max_total_memory} MiB in total ({taken} MiB are taken)",
                hint="give a smaller --memory, destroy a service, or raise [policy] max_total_memory",
            )
    return memory


def plan_bridges(requested: Iterable[str], needs: ServiceNeeds, policy: Policy) -> tuple[str, ...]:
    """The bridge of each network the feed declares, in order: the --net values, then the host's default.

    The default bridge is the first in `[policy] bridges`; without that list every network needs a --net.
    """
    given = [check_bridge_name(b) for b in requested]
    if len(given) > len(needs.networks):
        declared = ", ".join(needs.networks) or "none"
        raise UsageError(
            f"{len(given)} --net given, but the service declares {len(needs.networks)} network(s) ({declared})"
        )
    bridges = list(given)
    for network in needs.networks[len(given) :]:
        if not policy.bridges:
            raise UsageError(
                f"the service needs a bridge for its network {network!r}",
                hint="add --net BRIDGE (one per network, in order), or list the host's bridges in "
                "[policy] bridges: the first is the default",
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
                hint="choose another --net, or add it to [policy] bridges in config.toml",
            )
    if len(bridges) != len(needs.networks):
        raise UsageError(
            f"the service declares {len(needs.networks)} network(s) ({', '.join(needs.networks) or 'none'}) "
            f"but has {len(bridges)} bridge(s) ({', '.join(bridges) or 'none'})",
        )
