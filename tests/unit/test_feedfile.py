"""Editing a feed file: byte for byte where nothing changes, read back as a host reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroxl.errors import UsageError
from zeroxl.feeds.model import Stability
from zeroxl.feeds.parse import parse_feed
from zeroxl.host.needs import BlockDevice, BootArg, ServiceNeeds
from zeroxl.publish.feedfile import FeedFile, editing
from zeroxl.publish.implxml import ArchiveSpec, BootArgSpec, ImplSpec, NeedsSpec, implementation_xml, new_feed

DIGEST = "A" * 52
OTHER = "B" * 52

# Written by hand, as publishers do: a processing instruction, comments, single quotes, a group,
# tabs, character references. None of it may change when 0xl edits the file.
HAND_WRITTEN = b"""<?xml version='1.0' encoding='utf-8'?>
<?xml-stylesheet type='text/xsl' href='interface.xsl'?>
<!-- maintained by hand -->
<interface xmlns='http://zero-install.sourceforge.net/2004/injector/interface' uri='https://example.org/mail.xml'>
\t<name>mail</name>
\t<summary>mail &amp; more &#x263A;</summary>
\t<group arch='Xen-x86_64' stability='testing'>
\t\t<command name='run' path='mail.xen'/>
\t\t<implementation id='sha256new_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' version='1.0' released='2026-01-01'>
\t\t\t<manifest-digest sha256new='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'/>
\t\t\t<archive href='https://example.org/mail-1.0.tar.gz' size='10'/>
\t\t</implementation>
\t</group>
</interface>
"""


def spec(version: str = "2.0", digest: str = OTHER, needs: NeedsSpec | None = None) -> ImplSpec:
    return ImplSpec(
        digest=digest,
        version=version,
        arch="Xen-x86_64",
        released="2026-11-27",
        stability="testing",
        archive=ArchiveSpec("https://example.org/mail-2.0.tar.gz", 1234),
        command="mail.xen",
        needs=needs or NeedsSpec(),
    )


def test_a_new_feed_is_laid_out_as_0installs_tools_lay_it_out(tmp_path: Path) -> None:
    text = new_feed(uri="https://example.org/web.xml", name="web", summary="a <tiny> web & server")
    assert text == (
        b'<?xml version="1.0" ?>\n'
        b'<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface" '
        b'uri="https://example.org/web.xml">\n'
        b"  <name>web</name>\n"
        b"  <summary>a &lt;tiny&gt; web &amp; server</summary>\n"
        b"</interface>\n"
    )
    feed = parse_feed(text, url="https://example.org/web.xml")
    assert (feed.name, feed.summary, feed.implementations) == ("web", "a <tiny> web & server", ())


def test_adding_an_implementation_changes_nothing_else_in_a_hand_written_feed(tmp_path: Path) -> None:
    path = tmp_path / "mail.xml"
    ff = FeedFile.from_bytes(path, HAND_WRITTEN)

    text = ff.with_child(implementation_xml(spec(), ff.indent))

    end = HAND_WRITTEN.index(b"</interface>")
    assert text.startswith(HAND_WRITTEN[:end]) and text.endswith(HAND_WRITTEN[end:])
    added = text[end : len(text) - len(HAND_WRITTEN) + end]
    assert added.startswith(b"\t<implementation id=") and added.endswith(b"\t</implementation>\n")
    feed = ff.save(text)
    assert path.read_bytes() == text
    assert [(str(i.version), str(i.arch), i.commands["run"].path) for i in feed.implementations] == [
        ("1.0", "Xen-x86_64", "mail.xen"),
        ("2.0", "Xen-x86_64", "mail.xen"),
    ]


def test_stability_is_set_on_the_implementation_not_its_group(tmp_path: Path) -> None:
    ff = FeedFile.from_bytes(tmp_path / "mail.xml", HAND_WRITTEN)
    [site] = ff.impls
    assert site.effective["stability"] == "testing" and "stability" not in site.attrs

    text = ff.with_attribute(ff.text, site, "stability", "stable")

    assert text == HAND_WRITTEN.replace(b"released='2026-01-01'>", b"released='2026-01-01' stability=\"stable\">")
    again = FeedFile.from_bytes(tmp_path / "mail.xml", text)
    assert again.impls[0].effective["stability"] == "stable"
    assert again.feed.implementations[0].stability is Stability.STABLE
    # An attribute already on the element is replaced where it stands.
    text = again.with_attribute(again.text, again.impls[0], "stability", "buggy")
    assert text == HAND_WRITTEN.replace(b"released='2026-01-01'>", b"released='2026-01-01' stability=\"buggy\">")


def test_a_signed_feed_is_edited_without_its_signature_block(tmp_path: Path) -> None:
    signed = HAND_WRITTEN + b"<!-- Base64 Signature\nAAAA\n-->\n"
    ff = FeedFile.from_bytes(tmp_path / "mail.xml", signed)
    assert ff.signed and ff.text == HAND_WRITTEN


def test_needs_written_are_read_back_exactly(tmp_path: Path) -> None:
    needs = NeedsSpec(
        memory_min=64,
        memory=256,
        xen_type="pvh",
        blocks=(("storage", "64M", "xvdd"), ("logs", None, None)),
        networks=("0", "admin"),
        args=(
            BootArgSpec("ipv4", r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}", required=True),
            BootArgSpec("hostname", "[a-z][a-z0-9-]{0,62}", default="mail"),
        ),
    )
    ff = FeedFile.from_bytes(tmp_path / "mail.xml", HAND_WRITTEN)
    feed = ff.save(ff.with_child(implementation_xml(spec(needs=needs), ff.indent)))
    assert feed.implementations[1].needs == ServiceNeeds(
        memory_min=64,
        memory=256,
        blocks=(BlockDevice("storage", 64 << 20, "xvdd"), BlockDevice("logs", 1 << 20)),
        networks=("0", "admin"),
        args=(
            BootArg("ipv4", r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}", required=True),
            BootArg("hostname", "[a-z][a-z0-9-]{0,62}", default="mail"),
        ),
        xen_type="pvh",
    )


@pytest.mark.parametrize(
    ("needs", "message"),
    [
        (NeedsSpec(memory_min=256, memory=64), "below memory-min"),
        (NeedsSpec(blocks=(("Disk.img", None, None),)), "short lower-case identifier"),
        # What `0xl feed add --block my-data` would write: a disk name no host accepts.
        (NeedsSpec(blocks=(("my-data", None, None),)), "cannot name a disk"),
        (NeedsSpec(blocks=(("a", None, "xvdb"), ("b", None, "xvdb"))), "blocks a and b are both at xvdb"),
        (NeedsSpec(blocks=(("a", None, "sda"),)), "vdev='sda' is not a Xen disk name"),
        (NeedsSpec(networks=("1",)), "the network '1' is declared at position 0"),
        (NeedsSpec(args=(BootArgSpec("port", "[0-9"),)), "invalid pattern"),
        (NeedsSpec(args=(BootArgSpec("port", "[0-9]+", default="http"),)), "does not match its own pattern"),
        (NeedsSpec(networks=("a", "a")), "declared twice"),
    ],
)
def test_needs_a_host_would_refuse_are_refused_before_writing(tmp_path: Path, needs: NeedsSpec, message: str) -> None:
    path = tmp_path / "mail.xml"
    path.write_bytes(HAND_WRITTEN)
    with editing(path) as ff, pytest.raises(UsageError, match=message):
        ff.save(ff.with_child(implementation_xml(spec(needs=needs), ff.indent)))
    assert path.read_bytes() == HAND_WRITTEN


def test_values_with_line_breaks_are_refused_rather_than_mangled() -> None:
    with pytest.raises(UsageError, match="line breaks"):
        implementation_xml(spec(version="1.0\n2.0"))


def test_a_feed_in_another_encoding_is_refused(tmp_path: Path) -> None:
    data = HAND_WRITTEN.replace(b"encoding='utf-8'", b"encoding='iso-8859-1'")
    with pytest.raises(UsageError, match="UTF-8 feeds only"):
        FeedFile.from_bytes(tmp_path / "mail.xml", data)


def test_the_root_end_tag_on_a_line_with_other_content(tmp_path: Path) -> None:
    data = new_feed(uri="https://example.org/w.xml", name="w", summary="s").replace(
        b"</summary>\n</interface>", b"</summary></interface>"
    )
    ff = FeedFile.from_bytes(tmp_path / "w.xml", data)
    text = ff.with_child(implementation_xml(spec(), ff.indent))
    assert b"</summary>\n  <implementation " in text and text.endswith(b"</implementation>\n</interface>\n")
    assert len(ff.save(text).implementations) == 1


def test_text_inside_another_attribute_is_not_taken_for_the_attribute(tmp_path: Path) -> None:
    tricky = HAND_WRITTEN.replace(b"released='2026-01-01'>", b"""released='2026-01-01' license=' stability="x"'>""")
    ff = FeedFile.from_bytes(tmp_path / "mail.xml", tricky)
    text = ff.with_attribute(ff.text, ff.impls[0], "stability", "stable")
    assert text == tricky.replace(b"""stability="x"'>""", b"""stability="x"' stability="stable">""")
