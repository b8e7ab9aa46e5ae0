"""The publisher's use cases on a feed file: init, add an implementation, set a stability, sign.

Each one reads the feed, refuses before writing anything if a value is wrong, and writes the result
only after it has been read back as a host reads feeds (`feedfile.FeedFile.save`). `add` packs or reads
the archive and takes its digest from the tree a host would unpack; `sign` checks the signature it made
with a keyring that holds nothing but the public key it publishes, as a new host would.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from zeroxl.errors import ConflictError, NotFoundError, UsageError, VerificationError, ZeroxlError
from zeroxl.feeds import manifest
from zeroxl.feeds.extract import archive_type, path_within, type_from_url
from zeroxl.feeds.model import Arch, Stability
from zeroxl.feeds.signature import append_signature
from zeroxl.feeds.trust import domain_of, normalise_fingerprint
from zeroxl.feeds.versions import Version
from zeroxl.host.devices import block_vdevs, virtio_limits
from zeroxl.publish import implxml, pack
from zeroxl.publish.feedfile import FeedFile, ImplSite, check, editing, write
from zeroxl.publish.implxml import ArchiveSpec, ImplSpec, NeedsSpec
from zeroxl.publish.mirage import read_template
from zeroxl.publish.solo5 import is_manifest, read_manifest

if TYPE_CHECKING:
    from zeroxl.feeds.fetch import Fetcher

# What a publisher may say about an implementation; "packaged" and "preferred" are a user's words.
PUBLISHED_STABILITIES = ("stable", "testing", "developer", "buggy", "insecure")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# -- init ---------------------------------------------------------------------------------------------


def init_feed(path: Path, *, uri: str, name: str, summary: str) -> bytes:
    """Write a new feed with no implementations at PATH, to be served at URI."""
    _check_url(uri, "--uri")
    if not uri.rsplit("/", 1)[-1]:
        raise UsageError(f"--uri {uri}: it must name the feed file, e.g. {uri}{path.name}")
    if not name.strip() or not summary.strip():
        raise UsageError("--name and --summary must not be empty")
    if path.exists() or path.is_symlink():
        raise ConflictError(f"{path} exists already", hint="edit it with 0xl feed add, or choose another file")
    text = implxml.new_feed(uri=uri, name=name, summary=summary)
    check(path, text)
    write(path, text)
    return text


# -- add ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    impl: ImplSpec
    archive: Path
    archive_created: bool  # packed now by --dir (False: given, or an identical one was there)
    was_signed: bool


def add_implementation(
    path: Path,
    *,
    version: str,
    arch: str,
    archive: Path | None = None,
    directory: Path | None = None,
    href: str | None = None,
    extract: str | None = None,
    stability: str = "testing",
    released: str | None = None,
    command: str | None = None,
    expected_digest: str | None = None,
    needs: NeedsSpec | None = None,
    mirage_template: Path | None = None,
    fetcher: Fetcher | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Added:
    """Add one implementation of VERSION for ARCH to the feed at PATH.

    The implementation is ARCHIVE (a local tar or zip, served at HREF), or DIRECTORY packed into a
    reproducible tar.gz beside the feed. With EXPECTED_DIGEST the contents must have that digest; with
    FETCHER the archive is fetched from HREF and must be the same bytes as the local one.
    The feed stays locked from its reading to its writing; ON_WAIT is called if another edit holds it.
    """
    version = _version(version)
    arch = _arch(arch)
    stability = _stability(stability)
    released = _released(released)
    if archive is not None and directory is not None:
        raise UsageError("give either --archive PATH or --dir DIR, not both")
    if directory is not None and extract is not None:
        raise UsageError("--extract applies to --archive only: --dir packs the directory's contents at the top")
    needs = needs or NeedsSpec()
    default_command = None
    if mirage_template is not None and is_manifest(mirage_template):
        manifest = read_manifest(
            mirage_template, kernel_dirs=(directory,) if directory else ()
        )  # mirage configure -t virtio (hvt, spt): Solo5's manifest
        needs = _merge_mirage(needs, needs.xen_type, needs.memory, manifest.blocks, manifest.networks)
        default_command = manifest.kernel
    elif mirage_template is not None:
        mirage = read_template(mirage_template)
        needs = _merge_mirage(needs, mirage.xen_type, mirage.memory, mirage.blocks, mirage.networks)
        default_command = f"{mirage.name}.xen"
    needs = _with_vdevs(needs)
    if Arch.parse(arch).os == "Virtio":
        problem = virtio_limits(len(needs.blocks), len(needs.networks))
        if problem is not None:
            raise UsageError(
                f"--arch {arch}: {problem}", hint="build it for hvt or xen (mirage configure -t xen), or declare fewer"
            )
    release = _Release(version, arch, released, stability, needs)

    with editing(path, on_wait=on_wait) as feed:
        _refuse_duplicate_version(feed, version, arch)
        if directory is not None:
            source, created = _pack_beside(feed, directory, version, arch)
        elif archive is not None:
            source, created = archive, False
        else:
            raise UsageError("give either --archive PATH or --dir DIR")
        try:
            spec = _new_impl(
                feed,
                source,
                release,
                href=href,
                extract=extract,
                expected_digest=expected_digest,
                command=command or None,
                default_command=default_command,
                fetcher=fetcher,
            )
            feed.save(feed.with_child(implxml.implementation_xml(spec, feed.indent)))
        except BaseException:
            if created:
                source.unlink(missing_ok=True)
            raise
    return Added(spec, source, created, feed.signed)


@dataclass(frozen=True)
class _Release:
    """What the publisher says about the implementation, as opposed to what its archive says."""

    version: str
    arch: str
    released: str
    stability: str
    needs: NeedsSpec


def _new_impl(
    feed: FeedFile,
    archive: Path,
    release: _Release,
    *,
    href: str | None,
    extract: str | None,
    expected_digest: str | None,
    command: str | None,
    default_command: str | None,
    fetcher: Fetcher | None,
) -> ImplSpec:
    digest, archive_spec, command = _describe(
        feed,
        archive,
        href=href,
        extract=extract,
        expected_digest=expected_digest,
        command=command,
        default_command=default_command,
        ramdisk=release.needs.ramdisk,
    )
    r = release
    spec = ImplSpec(digest, r.version, r.arch, r.released, r.stability, archive_spec, command, r.needs)
    if any(site.attrs.get("id") == spec.id for site in feed.impls):
        raise ConflictError(
            f"{feed.path} already has an implementation with these contents ({spec.id})",
            hint="an implementation's id is its digest: the same files cannot be two versions",
        )
    if fetcher is not None:
        _check_served(archive, spec.archive, fetcher)
    return spec


def archive_name(feed_path: Path, version: str, arch: str) -> str:
    """The name `--dir` gives its archive: FEED-VERSION[-ARCH].tar.gz, `*` in the arch read as `any`."""
    stem = feed_path.name.removesuffix(".xml")
    tail = "" if arch == "*-*" else "-" + arch.replace("*", "any")
    return f"{stem}-{version}{tail}.tar.gz"


def _pack_beside(feed: FeedFile, directory: Path, version: str, arch: str) -> tuple[Path, bool]:
    """Pack DIRECTORY beside the feed; returns the archive and whether it is new. An identical archive
    left there by an earlier run is reused; a different one is never overwritten."""
    out = feed.path.parent / archive_name(feed.path, version, arch)
    fresh = out.with_name(f".{out.name}.new")
    try:
        pack.pack_dir(directory, fresh, mtime=pack.default_mtime())
        if not out.exists():
            fresh.replace(out)
            return out, True
        if out.read_bytes() != fresh.read_bytes():
            raise ConflictError(
                f"{out} exists already, with other contents",
                hint="remove it if it is left from an earlier attempt, or publish another version",
            )
        return out, False
    finally:
        fresh.unlink(missing_ok=True)


def _describe(
    feed: FeedFile,
    archive: Path,
    *,
    href: str | None,
    extract: str | None,
    expected_digest: str | None,
    command: str | None,
    default_command: str | None,
    ramdisk: str | None = None,
) -> tuple[str, ArchiveSpec, str]:
    """What ARCHIVE holds: its digest, how the feed refers to it, and the path of its run command."""
    with pack.unpacked(archive, extract=extract) as tree:
        digest = manifest.digest(tree)
        if command is None and default_command is not None and _is_file(tree, default_command):
            command = default_command
        if command is None:
            raise UsageError(
                "give --command PATH: the file in the archive that runs (a unikernel's kernel image)",
                hint=f"the archive holds: {_top_names(tree)}",
            )
        if not _is_file(tree, command):
            raise UsageError(f"--command {command}: no such file in the archive", hint=f"it holds: {_top_names(tree)}")
        if ramdisk is not None and not _is_file(tree, ramdisk):
            raise UsageError(f"--ramdisk {ramdisk}: no such file in the archive", hint=f"it holds: {_top_names(tree)}")
    if expected_digest is not None:
        wanted = expected_digest.removeprefix(manifest.PREFIX)
        if wanted != digest:
            raise VerificationError(
                f"the contents of {archive.name} have the digest {manifest.PREFIX}{digest}, "
                f"not {manifest.PREFIX}{wanted}",
                hint="the archive is not the build you meant, or --extract names another directory",
            )
    href = href if href is not None else _default_href(feed, archive)
    _check_url(href, "--href")
    local_type = archive_type(archive.name, None)
    try:
        needs_type = type_from_url(href) != local_type
    except ZeroxlError:
        needs_type = True
    spec = ArchiveSpec(href, archive.stat().st_size, extract, local_type if needs_type else None)
    return digest, spec, command


def _default_href(feed: FeedFile, archive: Path) -> str:
    if archive.resolve().parent != feed.path.resolve().parent:
        raise UsageError(
            f"give --href URL: where {archive.name} will be served",
            hint="without --href, the archive must be in the feed's directory and is served beside the feed",
        )
    return feed.uri.rsplit("/", 1)[0] + "/" + archive.name


def _check_served(archive: Path, spec: ArchiveSpec, fetcher: Fetcher) -> None:
    """The archive at its href must be the local one, byte for byte."""
    with archive.open("rb") as f:
        local = hashlib.file_digest(f, "sha256").hexdigest()
    with tempfile.TemporaryFile() as out:
        try:
            fetcher.download(spec.href, out, size=spec.size, what="archive")
        except VerificationError as e:
            raise VerificationError(
                f"the archive at {spec.href} is not {archive.name}: {e.message}",
                hint="upload the new archive first",
            ) from None
        out.seek(0)
        served = hashlib.file_digest(out, "sha256").hexdigest()
    if served != local:
        raise VerificationError(f"the archive at {spec.href} is not {archive.name}: its bytes differ")


def _merge_mirage(
    needs: NeedsSpec,
    xen_type: str | None,
    memory: int | None,
    blocks: tuple[tuple[str, str], ...],
    networks: tuple[str, ...],
) -> NeedsSpec:
    """The template's needs with the command line's on top: explicit values win, sizes are added.

    BLOCKS are the template's (name, vdev): each keeps the disk the template puts it at unless the command
    line names another; blocks only the command line declares come after them.
    """
    given = {name: (size, vdev) for name, size, vdev in needs.blocks}
    merged_blocks: list[tuple[str, str | None, str | None]] = []
    for name, template_vdev in blocks:
        size, vdev = given.pop(name, (None, None))
        merged_blocks.append((name, size, vdev or template_vdev))
    merged_blocks.extend((name, size, vdev) for name, (size, vdev) in given.items())
    merged_networks = networks + tuple(n for n in needs.networks if n not in networks)
    return replace(
        needs,
        xen_type=needs.xen_type or xen_type,
        memory=needs.memory if needs.memory is not None else memory,
        blocks=tuple(merged_blocks),
        networks=merged_networks,
    )


def _with_vdevs(needs: NeedsSpec) -> NeedsSpec:
    """NEEDS with every block at a Xen disk: as given, else by mirage's rule (the one a host would apply to a
    feed without them), so that the feed says where each block is. Two blocks at one disk are refused."""
    try:
        vdevs = block_vdevs([(name, vdev) for name, _, vdev in needs.blocks])
    except ValueError as e:
        raise UsageError(f"--block: {e}", hint="give each block its own disk: --block NAME@xvdX") from None
    return replace(needs, blocks=tuple((n, size, v) for (n, size, _), v in zip(needs.blocks, vdevs, strict=True)))


def _refuse_duplicate_version(feed: FeedFile, version: str, arch: str) -> None:
    wanted = (Version.parse(version), Arch.parse(arch))
    for site in feed.impls:
        try:
            have = (Version.parse(site.effective.get("version", "")), Arch.parse(site.effective.get("arch")))
        except ValueError:
            continue
        if have == wanted:
            raise ConflictError(
                f"{feed.path} already has version {version} for {arch}",
                hint="publish a new version number; mark a bad one with 0xl feed set-stability … buggy",
            )


# -- set-stability ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StabilityChange:
    version: str
    arch: str
    old: str
    new: str


def set_stability(
    path: Path,
    version: str,
    stability: str,
    *,
    arch: str | None = None,
    on_wait: Callable[[], None] | None = None,
) -> tuple[bool, list[StabilityChange]]:
    """Set the stability of every implementation of VERSION (for ARCH only, if given).

    Returns whether the file was signed before, and what changed. The attribute is set on the
    implementation element itself, so that siblings sharing a `<group>` keep theirs.
    """
    wanted = Version.parse(_version(version))
    stability = _stability(stability)
    only = Arch.parse(_arch(arch)) if arch is not None else None
    with editing(path, on_wait=on_wait) as feed:
        sites = [s for s in feed.impls if _matches(s, wanted, only)]
        if not sites:
            listed = sorted({s.effective.get("version", "?") for s in feed.impls}) or ["none"]
            raise NotFoundError(
                f"{path} has no version {version}" + (f" for {arch}" if arch else ""),
                hint=f"its versions: {', '.join(listed)}",
            )
        text = feed.text
        changes = []
        for site in sorted(sites, key=lambda s: s.start, reverse=True):  # later edits do not move earlier tags
            old = site.effective.get("stability", "testing")
            if old == stability:
                continue
            text = feed.with_attribute(text, site, "stability", stability)
            changes.append(
                StabilityChange(site.effective.get("version", ""), site.effective.get("arch", "*-*"), old, stability)
            )
        if changes:
            feed.save(text)
    return feed.signed, list(reversed(changes))


def _matches(site: ImplSite, version: Version, arch: Arch | None) -> bool:
    try:
        if Version.parse(site.effective.get("version", "")) != version:
            return False
        return arch is None or Arch.parse(site.effective.get("arch")) == arch
    except ValueError:
        return False


# -- sign -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    fingerprint: str
    uids: tuple[str, ...]
    key_file: Path
    timestamp: int
    expires: int | None = None


def sign_feed(
    path: Path,
    *,
    key: str,
    gnupghome: str | None,
    host_keyring: Path | None,
    on_wait: Callable[[], None] | None = None,
    expires_in: int | None = None,
) -> Signed:
    """Sign the feed at PATH with the primary key KEY from the publisher's keyring GNUPGHOME; write
    `<KEYID>.gpg` beside it. A signature block already there is replaced. With EXPIRES_IN (seconds),
    the signature expires then: hosts refuse the feed afterwards, so that a server cannot keep serving
    it once the publisher has moved on (a freeze attack); the publisher signs again before then."""
    # gpg's code here: `feed init`, `add` and `set-stability` load this module and sign nothing.
    from zeroxl.feeds.gpg import Gpg
    from zeroxl.feeds.verify import verify_feed
    from zeroxl.publish.signing import PublisherGpg

    fingerprint = normalise_fingerprint(key)
    gpg = PublisherGpg(gnupghome=gnupghome, forbidden=host_keyring)
    info = gpg.secret_key(fingerprint)
    with editing(path, on_wait=on_wait) as feed:
        text = feed.text if feed.text.endswith(b"\n") else feed.text + b"\n"
        signed = append_signature(text, gpg.detach_sign(text, fingerprint, expires_in=expires_in))
        armored = gpg.export(fingerprint)
        with tempfile.TemporaryDirectory(prefix="0xl-check-") as tmp:
            # As a new host: a keyring with nothing but the key file that goes beside the feed.
            sig = verify_feed(signed, feed_url=feed.uri, gpg=Gpg(Path(tmp) / "gnupg"), fetch_key=lambda _url: armored)
        if sig.fingerprint != fingerprint:
            raise VerificationError(f"the new signature is by {sig.fingerprint}, not by {fingerprint}")
        if expires_in is not None and sig.expires is None:
            raise VerificationError("gpg made a signature that does not expire, though --expires asked it to")
        key_file = path.parent / f"{fingerprint[-16:]}.gpg"
        with contextlib.suppress(FileNotFoundError):
            if key_file.read_bytes() == armored:
                armored = b""
        if armored:
            write(key_file, armored)
        write(path, signed, mode=path.stat().st_mode & 0o777)
    return Signed(fingerprint, info.uids, key_file, sig.timestamp, sig.expires)


# -- values -----------------------------------------------------------------------------------------------


def _check_url(url: str, what: str) -> None:
    try:
        domain_of(url)
    except ZeroxlError:
        raise UsageError(f"{what} {url!r}: expected an http:// or https:// URL with a path") from None
    if any(ord(c) <= 0x20 for c in url) or "#" in url:
        raise UsageError(f"{what} {url!r}: a URL must not contain spaces, control characters or '#'")


def _version(text: str) -> str:
    try:
        Version.parse(text)
    except ValueError as e:
        raise UsageError(
            f"--version {text!r}: {e}", hint="0install versions look like 1.2, 1.2-pre3, 2.0-post1"
        ) from None
    return text


# The OS and CPU names 0install knows (its arch.ml), and the unikernel targets hosts run (a MirageOS build
# for Xen, or for a virtio VM under libvirt). An arch with another name is one no host ever selects.
OS_NAMES = ("Linux", "FreeBSD", "SunOS", "Darwin", "MacOSX", "Windows", "Cygwin", "POSIX", "Xen", "Virtio")
CPU_NAMES = ("i386", "i486", "i586", "i686", "x86_64", "ppc", "ppc64", "armv6l", "armv7l", "aarch64", "src")


def _known(kind: str, name: str | None, known: tuple[str, ...], text: str) -> None:
    if name is None or name in known:
        return
    import difflib

    folded = {k.lower(): k for k in known}
    close = folded.get(name.lower()) or next(iter(difflib.get_close_matches(name, known, n=1)), None)
    raise UsageError(
        f"--arch {text}: {name!r} is not {'an' if kind == 'OS' else 'a'} {kind} a host can match "
        "(names are case-sensitive)",
        hint=(f"did you mean {close}? " if close else "") + f"{kind}s: {', '.join(known)}, or *",
    )


def _arch(text: str) -> str:
    try:
        arch = Arch.parse(text)
    except ValueError as e:
        raise UsageError(f"--arch: {e}", hint="e.g. Xen-x86_64 for a unikernel, Linux-x86_64, or *-* for any") from None
    _known("OS", arch.os, OS_NAMES, text)
    _known("CPU", arch.cpu, CPU_NAMES, text)
    if arch.os == "Xen" and arch.cpu is None:
        raise UsageError(f"--arch {text}: a Xen image is built for one CPU", hint="e.g. --arch Xen-x86_64")
    return text


def _stability(text: str) -> str:
    if text not in PUBLISHED_STABILITIES:
        raise UsageError(f"stability {text!r} is not one of {', '.join(PUBLISHED_STABILITIES)}")
    Stability.parse(text)
    return text


def _released(text: str | None) -> str:
    if text is None:
        return datetime.datetime.now(datetime.UTC).date().isoformat()
    try:
        valid = bool(_DATE.fullmatch(text)) and bool(datetime.date.fromisoformat(text))
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(f"--released {text!r}: expected a date as YYYY-MM-DD")
    return text


def _is_file(tree: Path, rel: str) -> bool:
    try:
        path = path_within(tree, rel)
    except ZeroxlError:
        return False
    return path.is_file()


def _top_names(tree: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in tree.iterdir())
    return ", ".join(names[:12]) + (", …" if len(names) > 12 else "") if names else "nothing"
