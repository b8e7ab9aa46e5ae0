"""What a service needs from its host: memory, block devices, networks, boot arguments with the patterns
their values must match, the Xen guest type. A feed declares them in 0xl's namespace (docs/feed-service-
needs.md; feeds.parse reads and checks them), the service's record keeps those of the version it runs
(state), and the host's policy and the backends decide against them. Typed values only.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroxl.host.devices import block_vdevs


@dataclass(frozen=True)
class BlockDevice:
    name: str
    min_size: int  # bytes
    vdev: str | None = None  # the Xen disk it must appear at (xvdb, …); None: mirage's rule by position


@dataclass(frozen=True)
class BootArg:
    """An argument the service accepts (`--NAME=VALUE`), and the pattern its value must match."""

    name: str
    pattern: str
    required: bool = False
    default: str | None = None


@dataclass(frozen=True)
class ServiceNeeds:
    memory_min: int | None = None  # MiB
    memory: int | None = None  # MiB, recommended
    blocks: tuple[BlockDevice, ...] = ()
    networks: tuple[str, ...] = ()
    args: tuple[BootArg, ...] = ()
    xen_type: str = "pvh"
    ramdisk: str | None = None  # a relative path inside the implementation (an initrd for the kernel)

    def arg(self, name: str) -> BootArg | None:
        return next((a for a in self.args if a.name == name), None)

    def block_vdevs(self) -> dict[str, str]:
        """Each block's Xen disk: as declared, else by mirage's rule (host.devices.block_vdevs)."""
        names = [b.name for b in self.blocks]
        return dict(zip(names, block_vdevs([(b.name, b.vdev) for b in self.blocks]), strict=True))
