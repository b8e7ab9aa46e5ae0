"""The publisher's commands, `0xl feed …` and `0xl mirror`: parse, call `zeroxl.publish`, render.

`register` adds them to the main parser (`cli.parser`). As in cli.service_cmds, no logic beyond
arguments and output, and the core imported inside the command that needs it; errors go to `cli.main`,
which maps them to exit statuses.
"""

from __future__ import annotations

import argparse

from zeroxl.cli import argtypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from zeroxl.publish.implxml import NeedsSpec

SubParsers = argparse._SubParsersAction  # argparse's type for add_subparsers()


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    """Add `feed` (init, add, set-stability, sign, check) and `mirror` to the commands in SUB."""
    raw = argparse.RawDescriptionHelpFormatter
    feed = sub.add_parser(
        "feed", help="publish services: write, sign and check feeds", description=_FEED_HELP, formatter_class=raw
    )
    fsub = feed.add_subparsers(dest="feed_command", required=True, metavar="ACTION")

    p = fsub.add_parser("init", help="create a new, unsigned feed with no implementations")
    p.add_argument("feed", metavar="FEED.xml")
    p.add_argument("--uri", required=True, metavar="URL", help="the URL the feed will be served at")
    p.add_argument("--name", required=True, help="the service's name")
    p.add_argument("--summary", required=True, metavar="TEXT", help="what the service is, in a line")
    p.set_defaults(handler=cmd_feed_init)

    p = fsub.add_parser(
        "add",
        help="add an implementation: an archive, or a directory packed reproducibly beside the feed",
        description="Add one implementation (a version for one target) to FEED.xml, with its sha256new digest, "
        "its size and what the service needs from its host. The feed is unsigned afterwards.",
    )
    p.add_argument("feed", metavar="FEED.xml")
    p.add_argument(
        "--version",
        required=True,
        metavar="V",
        help="the one version this implementation is, e.g. 1.2 or 2.0-pre1 (0xl add --version is a range)",
    )
    p.add_argument(
        "--arch",
        required=True,
        metavar="OS-CPU",
        help="the target: Xen-x86_64, Virtio-x86_64, Linux-x86_64, *-* (0install's OS and CPU names, case-sensitive)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--archive", metavar="PATH", help="a tar or zip archive of the implementation")
    source.add_argument("--dir", metavar="DIR", help="pack DIR into a reproducible tar.gz beside the feed")
    p.add_argument("--href", metavar="URL", help="where the archive is served (default: beside the feed)")
    p.add_argument("--extract", metavar="DIR", help="take only this top-level directory of the archive")
    p.add_argument("--command", metavar="PATH", help="the file that runs: a unikernel's kernel image, a program")
    p.add_argument("--stability", default="testing", help="stable, testing (default), developer, buggy or insecure")
    p.add_argument("--released", metavar="YYYY-MM-DD", help="the release date (default: today, UTC)")
    p.add_argument("--digest", metavar="sha256new_…", help="refuse unless the contents have this digest")
    p.add_argument("--check", action="store_true", help="fetch the archive from --href: it must be this one")
    needs = p.add_argument_group("what the service needs (docs/feed-service-needs.md)")
    needs.add_argument(
        "--from-mirage",
        metavar="NAME.xl.in|manifest.json",
        help="read guest type, disks and networks from "
        "the template mirage configure -t xen writes (and NAME.xen as --command), or from the manifest.json "
        "mirage configure -t virtio writes (and the NAME.virtio beside it as --command)",
    )
    needs.add_argument("--memory", type=argtypes.count, metavar="MIB", help="recommended memory")
    needs.add_argument("--memory-min", type=argtypes.count, metavar="MIB", help="the least memory it runs with")
    needs.add_argument("--xen-type", choices=["pvh", "pv"], help="the Xen guest type (default pvh)")
    needs.add_argument("--ramdisk", metavar="PATH", help="a file in the archive: the kernel's initial ramdisk")
    needs.add_argument(
        "--block",
        action="append",
        default=[],
        metavar="NAME[@VDEV][=MIN-SIZE]",
        help="a block device, at the Xen disk VDEV (default: mirage's numbering, xvdb for the first)",
    )
    needs.add_argument("--network", action="append", default=[], metavar="NAME", help="a network interface")
    needs.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=PATTERN",
        help="a boot argument --NAME=VALUE and the regular expression its value must match",
    )
    needs.add_argument("--arg-required", action="append", default=[], metavar="NAME", help="an --arg must be given")
    needs.add_argument("--arg-default", action="append", default=[], metavar="NAME=VALUE", help="an --arg's default")
    p.set_defaults(handler=cmd_feed_add)

    p = fsub.add_parser("set-stability", help="mark a version stable, testing, buggy, insecure…")
    p.add_argument("feed", metavar="FEED.xml")
    p.add_argument("version", metavar="VERSION")
    p.add_argument("stability", metavar="STABILITY", help="stable, testing, developer, buggy or insecure")
    p.add_argument("--arch", metavar="OS-CPU", help="only the implementation for this target")
    p.set_defaults(handler=cmd_feed_set_stability)

    p = fsub.add_parser(
        "sign",
        help="sign with your primary key (GNUPGHOME) and write KEYID.gpg beside the feed",
        description="Sign FEED.xml in 0install's format with the primary key FPR from your GnuPG keyring "
        "(GNUPGHOME as you have it set, never 0xl's), replacing any signature it had, and write the public "
        "key beside it as KEYID.gpg, where hosts fetch it.",
    )
    p.add_argument("feed", metavar="FEED.xml")
    p.add_argument("--key", required=True, metavar="FPR", help="the fingerprint of your signing key")
    p.add_argument(
        "--expires",
        metavar="DURATION",
        help="make the signature expire after DURATION (e.g. 30d, 2w): hosts refuse the feed afterwards, so sign "
        "it again before then; a server cannot hold back newer versions longer (docs/publishing.md)",
    )
    p.set_defaults(handler=cmd_feed_sign)

    p = fsub.add_parser("check", help="check a feed as a host would: signature, XML, every archive")
    p.add_argument("feed", metavar="FEED.xml|URL")
    p.add_argument("--key", metavar="FPR", help="the key that must have signed it")
    p.add_argument(
        "--download",
        action="store_true",
        help="of a local FEED.xml: download the archives from their URLs (default: read them beside the feed)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_feed_check)

    p = sub.add_parser(
        "mirror",
        help="copy feeds, their keys and archives, verified, into a directory to serve to offline hosts",
        description=_MIRROR_HELP,
        formatter_class=raw,
    )
    p.add_argument("urls", nargs="+", metavar="FEED-URL")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--trust-key", metavar="FPR", help="trust this key (fingerprint) for the feeds' domain")
    p.set_defaults(handler=cmd_mirror)


_FEED_HELP = """Publish a service as a signed 0install feed, in three steps:
  0xl feed init web.xml --uri https://example.org/web.xml --name web --summary "…"
  0xl feed add web.xml --version 1.0 --arch Xen-x86_64 --dir dist --from-mirage web.xl.in --stability stable
  0xl feed sign web.xml --key FPR
then serve the directory. See docs/publishing.md."""

_MIRROR_HELP = """Copy each feed (verified: signature, trust, replay), the key beside it and every
implementation (size and digest checked) into DIR, laid out as DIR/HOST[:PORT]/PATH, which any static
HTTP server or the directory itself can serve. Hosts use it through [mirrors] in config.toml."""


# -- feed -------------------------------------------------------------------------------------------------


def cmd_feed_init(a: argparse.Namespace) -> int:
    from pathlib import Path

    from zeroxl.publish.edit import init_feed

    init_feed(Path(a.feed), uri=a.uri, name=a.name, summary=a.summary)
    print(f"created {a.feed}, to be served at {a.uri}")
    print(f"next: 0xl feed add {a.feed} --version V --arch OS-CPU --dir DIR --command PATH")
    return 0


def cmd_feed_add(a: argparse.Namespace) -> int:
    from pathlib import Path

    from zeroxl.publish.edit import add_implementation

    fetcher = None
    if a.check:
        from zeroxl.feeds.fetch import Fetcher

        fetcher = Fetcher()
    try:
        added = add_implementation(
            Path(a.feed),
            version=a.version,
            arch=a.arch,
            archive=Path(a.archive) if a.archive else None,
            directory=Path(a.dir) if a.dir else None,
            href=a.href,
            extract=a.extract,
            stability=a.stability,
            released=a.released,
            command=a.command,
            expected_digest=a.digest,
            needs=_needs(a),
            mirage_template=Path(a.from_mirage) if a.from_mirage else None,
            fetcher=fetcher,
            on_wait=_say_waiting(a.feed),
        )
    finally:
        if fetcher is not None:
            fetcher.close()
    impl = added.impl
    print(f"added {impl.version} ({impl.arch}, {impl.stability}) to {a.feed}: {impl.id}")
    made = f"packed from {a.dir}" if added.archive_created else "as given" if a.archive else "unchanged"
    print(f"  archive {added.archive} ({impl.archive.size} bytes, {made}), served at {impl.archive.href}")
    print(f"  runs {impl.command}" + _describe_needs(impl.needs))
    if impl.stability != "stable":
        # A first feed is testing by default: hosts on the stable channel (the default) would not take it.
        print(
            f"  {impl.version} is {impl.stability}: hosts on the stable channel will not pick it; "
            f"add it with --stability stable, or promote it with 0xl feed set-stability {a.feed} {impl.version} stable"
        )
    _sign_reminder(a.feed, added.was_signed)
    return 0


def cmd_feed_set_stability(a: argparse.Namespace) -> int:
    from pathlib import Path

    from zeroxl.publish.edit import set_stability

    was_signed, changes = set_stability(Path(a.feed), a.version, a.stability, arch=a.arch, on_wait=_say_waiting(a.feed))
    if not changes:
        print(f"{a.feed}: {a.version} is {a.stability} already")
        return 0
    for c in changes:
        print(f"{a.feed}: {c.version} ({c.arch}) {c.old} -> {c.new}")
    _sign_reminder(a.feed, was_signed)
    return 0


def cmd_feed_sign(a: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from zeroxl.cli import render
    from zeroxl.host.paths import Home
    from zeroxl.host.units import parse_duration
    from zeroxl.publish.edit import sign_feed

    expires_in = parse_duration(a.expires, what="--expires") if a.expires is not None else None
    signed = sign_feed(
        Path(a.feed),
        key=a.key,
        gnupghome=os.environ.get("GNUPGHOME"),
        host_keyring=Home.from_env().gnupg,
        on_wait=_say_waiting(a.feed),
        expires_in=expires_in,
    )
    from zeroxl.safetext import line

    who = f" ({line(signed.uids[0])})" if signed.uids else ""
    print(f"signed {a.feed} with {signed.fingerprint}{who}")
    if signed.expires is not None:
        expiry = render.when_utc(signed.expires)
        print(f"the signature expires {expiry}: hosts refuse the feed after that, so sign it again before then")
    print(f"the public key is in {signed.key_file}: publish it beside the feed, where hosts fetch it")
    return 0


def _say_waiting(feed: str) -> Callable[[], None]:
    """What a feed edit says when another 0xl command is editing the same file."""

    from zeroxl.cli.interact import info

    return lambda: info(f"waiting for another 0xl command that is editing {feed}")


def cmd_feed_check(a: argparse.Namespace) -> int:
    from zeroxl.cli import render
    from zeroxl.cli.context import context
    from zeroxl.publish.check import check_feed

    # A host's configured mirrors apply: `feed check URL` there checks what the host would get.
    # And its limits on signature dates: a host would refuse what they refuse.
    with context() as ctx:
        report = check_feed(a.feed, fetcher=ctx.fetcher, key=a.key, limits=ctx.config.signatures, download=a.download)
    if a.json:
        render.print_json(
            {
                "feed": report.location,
                "ok": not report.problems,
                "status": int(report.status),
                "findings": [f.to_json() for f in report.findings],
                "warnings": list(report.warnings),
            }
        )
        return int(report.status)
    from zeroxl.safetext import line

    # Findings quote the feed (its name, ids) and the key (its user id): one escaped line each.
    print(f"checking {line(report.location)}")
    rows = [("ok" if f.ok else "FAIL", line(f.subject), line(f.detail)) for f in report.findings]
    width = max(len(subject) for _, subject, _ in rows)
    for verdict, subject, detail in rows:
        print(f"{verdict:<4}  {subject:<{width}}  {detail}")
    problems = len(report.problems)
    print("all checks passed" if not problems else f"{problems} problem{'s' if problems != 1 else ''}")
    import sys

    for warning in report.warnings:  # a warning leaves the exit status as it is (docs/exit-status.md)
        sys.stderr.write(f"0xl: warning: {warning}\n")
    return int(report.status)


# -- mirror ------------------------------------------------------------------------------------------------


def cmd_mirror(a: argparse.Namespace) -> int:
    from pathlib import Path

    from zeroxl.cli.context import context
    from zeroxl.feeds.trust import normalise_fingerprint
    from zeroxl.publish.mirror import mirror_feed

    dest = Path(a.dir).absolute()
    fpr = normalise_fingerprint(a.trust_key) if a.trust_key else None
    origins: set[str] = set()
    with context() as ctx:
        for url in a.urls:
            done = mirror_feed(
                url, dest, loader=ctx.loader, fetcher=ctx.fetcher, trust_key=fpr, confirm=ctx.ui.confirm_key
            )
            versions = ", ".join(done.versions) or "none"
            print(
                f"mirrored {done.url}: versions {versions}; key {done.key_file.name}; {done.downloaded} bytes fetched"
            )
            for skipped in done.skipped:
                print(f"  not mirrored: {skipped}: 0xl cannot fetch or verify it")
            origins.update(done.origins)
    print("on each host, add to config.toml (with the directory as mounted there, or the URL it is served at):")
    print("  [mirrors]")
    for origin in sorted(origins):
        host_dir = origin.split("://", 1)[1].rpartition("@")[2]
        print(f'  "{origin}" = "{dest}/{host_dir}"')
    return 0


# -- helpers -----------------------------------------------------------------------------------------------


def _needs(a: argparse.Namespace) -> NeedsSpec:
    from zeroxl.errors import UsageError
    from zeroxl.publish.implxml import BootArgSpec, NeedsSpec

    blocks = []
    for spec in a.block:
        # NAME[@VDEV][=MIN-SIZE]: neither a block's name nor a Xen disk's holds '@' or '='.
        device, sep, size = spec.partition("=")
        name, at, vdev = device.partition("@")
        blocks.append((name, size if sep else None, vdev if at else None))
    declared = _pairs(a.arg, "--arg", "write NAME=PATTERN, e.g. --arg 'port=[0-9]{1,5}'")
    defaults = _pairs(a.arg_default, "--arg-default", "write NAME=VALUE")
    for name in [*a.arg_required, *defaults]:
        if name not in declared:
            raise UsageError(f"--arg-required/--arg-default {name}: declare it first with --arg {name}=PATTERN")
    args = tuple(
        BootArgSpec(name, pattern, name in a.arg_required, defaults.get(name)) for name, pattern in declared.items()
    )
    return NeedsSpec(a.memory_min, a.memory, a.xen_type, tuple(blocks), tuple(a.network), args, a.ramdisk)


def _pairs(specs: list[str], option: str, form: str) -> dict[str, str]:
    """NAME=VALUE options as a mapping; one without `=` is refused, saying FORM."""
    from zeroxl.errors import UsageError

    pairs: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            raise UsageError(f"{option} {spec!r}: {form}")
        pairs[name] = value
    return pairs


def _describe_needs(needs: NeedsSpec) -> str:
    parts = []
    if needs.xen_type:
        parts.append(needs.xen_type)
    if needs.memory is not None:
        parts.append(f"memory {needs.memory} MiB")
    if needs.memory_min is not None:
        parts.append(f"at least {needs.memory_min} MiB")
    parts.extend(
        f"disk {name}" + (f" at {vdev}" if vdev else "") + (f" >= {size}" if size else "")
        for name, size, vdev in needs.blocks
    )
    parts.extend(f"network {name}" for name in needs.networks)
    if needs.ramdisk:
        parts.append(f"ramdisk {needs.ramdisk}")
    # An argument is needed only when required: the others are what it takes, if given.
    args = [
        f"--{arg.name}"
        + (" (required)" if arg.required else f" (default {arg.default})" if arg.default is not None else " (optional)")
        for arg in needs.args
    ]
    return (f"; needs {', '.join(parts)}" if parts else "") + (f"; takes {', '.join(args)}" if args else "")


def _sign_reminder(feed: str, was_signed: bool) -> None:
    first = "the feed changed, so its signature was removed" if was_signed else f"{feed} is not signed yet"
    print(f"{first}: sign it with 0xl feed sign {feed} --key FPR")
