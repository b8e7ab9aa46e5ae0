"""Feed XML to the typed model: inheritance, refusals, and the service-needs namespace."""

from __future__ import annotations

import pytest

from zeroxl.feeds.model import Archive, FileSource, Recipe, Stability
from zeroxl.feeds.parse import FeedFormatError, parse_feed

URL = "http://example.org/web.xml"
HEAD = (
    f'<?xml version="1.0"?>\n<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface" uri="{URL}"'
)
NEEDS = 'xmlns:s="urn:x-0xl:service:1"'
A, B = "A" * 52, "B" * 52


def feed(body: str, extra: str = "") -> bytes:
    return f"{HEAD} {extra}><name>web</name><summary>a web server</summary>{body}</interface>".encode()


def test_groups_pass_attributes_and_commands_down() -> None:
    f = parse_feed(
        feed(
            f"""<group arch="Linux-x86_64" stability="stable" license="MIT">
                 <command name="run" path="bin/web"><arg>--quiet</arg></command>
                 <group version="1.0">
                   <implementation id="sha256new_{A}" released="2026-01-01">
                     <manifest-digest sha256new="{A}"/><archive href="http://x/a.tgz" size="10" extract="web-1.0"/>
                   </implementation>
                 </group>
                 <implementation id="b" version="2.0" stability="testing" main="bin/other">
                   <manifest-digest sha256new="{B}"/><file href="http://x/b" size="3" dest="bin/other" executable="true"/>
                 </implementation>
               </group>"""
        ),
        url=URL,
    )
    a, b = f.implementations
    assert (str(a.version), str(a.arch), a.stability, a.license) == ("1.0", "Linux-x86_64", Stability.STABLE, "MIT")
    assert a.commands["run"].path == "bin/web" and a.commands["run"].args == ("--quiet",)
    assert a.retrievals == (Archive("http://x/a.tgz", 10, extract="web-1.0"),)
    assert a.store_name == f"sha256new_{A}"
    assert b.stability is Stability.TESTING
    assert b.commands["run"].path == "bin/web"  # an inherited <command> wins over the deprecated main=
    assert b.retrievals == (FileSource("http://x/b", 3, "bin/other", executable=True),)


def test_recipe_steps_are_read_and_unknown_steps_make_it_unusable() -> None:
    f = parse_feed(
        feed(
            f"""<implementation id="a" version="1"><manifest-digest sha256new="{A}"/>
                 <recipe><archive href="http://x/a.tgz" size="5"/><rename source="a" dest="b"/><remove path="c"/></recipe>
                 <recipe><archive href="http://x/a.tgz" size="5"/><copy-from id="x"/></recipe>
               </implementation>"""
        ),
        url=URL,
    )
    (recipe,) = f.implementations[0].retrievals
    assert isinstance(recipe, Recipe) and len(recipe.steps) == 3


def test_url_mismatch_is_refused() -> None:
    with pytest.raises(FeedFormatError, match="URL mismatch"):
        parse_feed(feed(""), url="http://evil.example/web.xml")


def test_remote_feed_without_uri_is_refused_as_0install_refuses_it() -> None:
    xml = feed("").replace(f' uri="{URL}"'.encode(), b"")
    with pytest.raises(FeedFormatError, match="URL mismatch.*no uri attribute"):
        parse_feed(xml, url=URL)


def test_local_feed_may_have_no_uri() -> None:
    xml = feed("").replace(f' uri="{URL}"'.encode(), b"")
    assert parse_feed(xml, url="/srv/feeds/web.xml", check_uri=False).url == "/srv/feeds/web.xml"


@pytest.mark.parametrize("href", ["/etc/passwd", "file:///dev/stdin", "web-1.0.tar.gz", "ftp://example.org/a.tgz"])
@pytest.mark.parametrize("element", ["archive", "file", "recipe"])
def test_remote_feed_naming_a_download_that_is_not_http_is_refused(href: str, element: str) -> None:
    source = {
        "archive": f'<archive href="{href}" size="5"/>',
        "file": f'<file href="{href}" size="5" dest="bin/web"/>',
        "recipe": f'<recipe><archive href="http://x/a.tgz" size="5"/><file href="{href}" size="5" dest="b"/></recipe>',
    }[element]
    xml = feed(f'<implementation id="a" version="1"><manifest-digest sha256new="{A}"/>{source}</implementation>')
    with pytest.raises(FeedFormatError, match="may only name http"):
        parse_feed(xml, url=URL)
    # The same feed kept in a local file is the operator's own: it may name local archives.
    (impl,) = parse_feed(xml, url="/srv/feeds/web.xml", check_uri=False).implementations
    assert impl.retrievals


def test_entity_bomb_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>\n'
        b'<interface xmlns="http://zero-install.sourceforge.net/2004/injector/interface"><name>&lol3;</name></interface>'
    )
    with pytest.raises(FeedFormatError, match="DTD or entities"):
        parse_feed(bomb, url=URL)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<not-a-feed/>", "not well-formed|not a 0install feed"),
        (f"{HEAD}><summary>s</summary></interface>", "no <name>"),
        (f'{HEAD}><name>n</name><implementation version="1"/></interface>', "has no id"),
        (f'{HEAD}><name>n</name><implementation id="a"/></interface>', "no version"),
        (f'{HEAD}><name>n</name><implementation id="a" version="x"/></interface>', "invalid version"),
        (f'{HEAD}><name>n</name><implementation id="a" version="1" arch="Linux"/></interface>', "invalid arch"),
        (f'{HEAD}><name>n</name><implementation id="a" version="1" stability="great"/></interface>', "stability"),
        (
            f'{HEAD}><name>n</name><implementation id="a" version="1"><archive href="h" size="-1"/></implementation></interface>',
            "not a whole number",
        ),
    ],
)
def test_malformed_feeds_are_refused_with_a_reason(xml: str, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        parse_feed(xml.encode(), url=URL)


def needs(inner: str, attrs: str = "") -> bytes:
    return feed(
        f'<implementation id="a" version="1" arch="Xen-x86_64"><manifest-digest sha256new="{A}"/>'
        f"<s:needs {attrs}>{inner}</s:needs></implementation>",
        NEEDS,
    )


def test_service_needs_are_typed() -> None:
    f = parse_feed(
        needs(
            '<s:block name="storage" min-size="64M"/><s:network name="service"/>'
            '<s:arg name="ipv4" pattern="[0-9./]+" required="true"/><s:arg name="mode" pattern="a|b" default="a"/>',
            'memory-min="32" memory="128" xen-type="pv" ramdisk="boot/initrd.img"',
        ),
        url=URL,
    )
    n = f.implementations[0].needs
    assert (n.memory_min, n.memory, n.xen_type, n.ramdisk) == (32, 128, "pv", "boot/initrd.img")
    assert [(b.name, b.min_size, b.vdev) for b in n.blocks] == [("storage", 64 << 20, None)]
    assert n.block_vdevs() == {"storage": "xvdb"}  # mirage's numbering: the first block at xvdb
    assert n.networks == ("service",)
    assert n.arg("ipv4") is not None and n.arg("ipv4").required  # type: ignore[union-attr]
    assert n.arg("mode").default == "a"  # type: ignore[union-attr]


def test_blocks_are_at_the_disk_they_declare_or_numbered_from_xvdb_in_order() -> None:
    # mirage numbers blocks from 1 (0 is kept for a boot disk): the nth declared is xvd + the nth letter after a.
    inner = '<s:block name="a"/><s:block name="b" vdev="xvdz"/><s:block name="c"/><s:block name="boot" vdev="xvda"/>'
    n = parse_feed(needs(inner), url=URL).implementations[0].needs
    assert n.block_vdevs() == {"a": "xvdb", "b": "xvdz", "c": "xvdd", "boot": "xvda"}


def test_networks_as_mirage_names_them() -> None:
    inner = '<s:network name="0"/><s:network name="1"/><s:network name="service"/><s:network name="3"/>'
    assert parse_feed(needs(inner), url=URL).implementations[0].needs.networks == ("0", "1", "service", "3")


@pytest.mark.parametrize(
    ("inner", "attrs", "message"),
    [
        ("", 'memory="0"', "memory"),
        ("", 'memory="lots"', "memory"),
        ("", 'memory-min="64" memory="32"', "below memory-min"),
        ("", 'xen-type="hvm"', "xen-type"),
        ('<s:block name="../etc" />', "", "not a short lower-case identifier"),
        ('<s:block name="a" min-size="1Q"/>', "", "min-size"),
        # Names 0xl's disk commands refuse: such a disk could be created but never deleted.
        ('<s:block name="my-data"/>', "", "<block> name 'my-data' cannot name a disk"),
        ('<s:block name="a23456789012345678"/>', "", "cannot name a disk"),
        ('<s:network name="A B"/>', "", "<network> name 'A B' is not 1-32 lower-case letters"),
        ('<s:network name="-0"/>', "", "<network> name '-0' is not"),
        # A network named by a number is the vif with that device id: xl numbers vifs by position.
        ('<s:network name="1"/>', "", "the network '1' is declared at position 0"),
        ('<s:network name="service"/><s:network name="0"/>', "", "the network '0' is declared at position 1"),
        ('<s:network name="00"/>', "", "the network '00' is declared at position 0"),
        # Two blocks at one Xen disk would be one disk to the guest (exit status 4, as every feed refusal).
        ('<s:block name="a" vdev="xvdc"/><s:block name="b" vdev="xvdc"/>', "", "blocks a and b are both at xvdc"),
        ('<s:block name="a"/><s:block name="b" vdev="xvdb"/>', "", r"blocks a and b are both at xvdb \(b declared\)"),
        ('<s:block name="a" vdev="xvdc"/><s:block name="b"/>', "", r"both at xvdc \(b by its position"),
        ('<s:block name="a" vdev="xvd"/>', "", "vdev='xvd' is not a Xen disk name"),
        ('<s:block name="a" vdev="xvdaa"/>', "", "vdev='xvdaa' is not a Xen disk name"),
        ('<s:block name="a" vdev="XVDB"/>', "", "vdev='XVDB'"),
        ('<s:block name="a" vdev="hda"/>', "", "vdev='hda'"),
        ('<s:block name="a" vdev="xvdb,script=/x"/>', "", "vdev='xvdb,script=/x'"),
        ("".join(f'<s:block name="b{i}"/>' for i in range(26)), "", "more than 25 block devices"),
        ('<s:arg name="ip"/>', "", "no pattern"),
        ('<s:arg name="ip" pattern="(["/>', "", "invalid pattern"),
        ('<s:arg name="ip" pattern="[0-9]+" default="x"/>', "", "does not match its own pattern"),
        ('<s:arg name="ip" pattern="x"/><s:arg name="ip" pattern="y"/>', "", "declared twice"),
        ("<s:kernel-cmdline>evil</s:kernel-cmdline>", "", "unknown element"),
        ("", 'ramdisk="../initrd.img"', "ramdisk .* is not a plain relative path"),
        ("", 'ramdisk="/boot/initrd.img"', "not a plain relative path"),
        ("", 'ramdisk="boot/../../x"', "not a plain relative path"),
        ("", 'ramdisk="boot//initrd"', "not a plain relative path"),
        ("", 'ramdisk=""', "not a plain relative path"),
        ("", 'ramdisk="initrd img"', "not a plain relative path"),
        ("", 'ramdisk="init&quot;rd"', "not a plain relative path"),
        ("", 'ramdisk="./initrd"', "not a plain relative path"),
    ],
)
def test_nonsense_needs_are_refused(inner: str, attrs: str, message: str) -> None:
    with pytest.raises(FeedFormatError, match=message):
        parse_feed(needs(inner, attrs), url=URL)


@pytest.mark.parametrize("digest", ["../../etc", "abc", "A" * 51, "a" * 52, "A" * 51 + "1"])
def test_malformed_sha256new_digest_is_refused(digest: str) -> None:
    xml = feed(f'<implementation id="x" version="1"><manifest-digest sha256new="{digest}"/></implementation>')
    with pytest.raises(FeedFormatError, match="is not a sha256new digest"):
        parse_feed(xml, url=URL)
