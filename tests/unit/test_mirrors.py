"""Mirror locations: config checks, URL mapping, and the layout `0xl mirror` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroxl.errors import ConfigError, DownloadError, VerificationError
from zeroxl.feeds.mirrors import mirrored
from zeroxl.host.config import check_mirrors
from zeroxl.publish.mirror import mirror_path, origin_of

MIRRORS = check_mirrors(
    {
        "https://example.org/": "http://mirror.lan/example.org/",
        "https://example.org/feeds/": "/srv/mirror/example-feeds/",
        "http://dl.example.net:8080/": "file:///srv/mirror/dl.example.net:8080/",
    }
)


def test_longest_origin_prefix_wins() -> None:
    assert mirrored("https://example.org/feeds/web.xml", MIRRORS) == "/srv/mirror/example-feeds/web.xml"
    assert mirrored("https://example.org/web.xml", MIRRORS) == "http://mirror.lan/example.org/web.xml"


def test_unmirrored_urls_are_left_alone() -> None:
    assert mirrored("https://example.org.evil.net/web.xml", MIRRORS) is None
    assert mirrored("http://example.org/web.xml", MIRRORS) is None  # another scheme, another origin


def test_an_http_mirror_gets_the_path_as_written_a_directory_gets_it_decoded() -> None:
    assert mirrored("https://example.org/a%20b.tar.gz", MIRRORS) == "http://mirror.lan/example.org/a%20b.tar.gz"
    assert mirrored("https://example.org/feeds/a%20b.tar.gz", MIRRORS) == "/srv/mirror/example-feeds/a b.tar.gz"
    assert mirrored("http://dl.example.net:8080/x.zip", MIRRORS) == "/srv/mirror/dl.example.net:8080/x.zip"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/feeds/../../../etc/passwd",
        "https://example.org/feeds/%2e%2e/%2E%2E/etc/passwd",
        "https://example.org/feeds/x.tar.gz?version=2",
        "https://example.org/feeds//etc/passwd",
    ],
)
def test_paths_that_could_leave_a_mirror_directory_are_refused(url: str) -> None:
    with pytest.raises(DownloadError):
        mirrored(url, MIRRORS)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"https://example.org": "/srv/m/"}, "must end with '/'"),
        ({"ftp://example.org/": "/srv/m/"}, "http\\(s\\) URL prefix"),
        ({"https://example.org/": "srv/m/"}, "absolute directory"),
        ({"https://example.org/": "/srv/m"}, "must end with '/'"),
        ({"https://example.org/": "http:///m/"}, "has no host"),
    ],
)
def test_bad_mirror_settings_are_refused_naming_the_origin(table: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_mirrors(table)


def test_mirror_layout_is_host_and_path() -> None:
    root = Path("/srv/mirror")
    assert mirror_path(root, "http://127.0.0.1:8000/feeds/web.xml") == root / "127.0.0.1:8000/feeds/web.xml"
    assert mirror_path(root, "https://u@example.org/a%20b.tar.gz") == root / "example.org/a b.tar.gz"
    assert origin_of("http://127.0.0.1:8000/feeds/web.xml") == "http://127.0.0.1:8000/"
    for bad in ("https://example.org/", "https://example.org/a/../b", "https://example.org/x?y", "ftp://e.org/x"):
        with pytest.raises(VerificationError):
            mirror_path(root, bad)
    # What `0xl mirror` writes is where a host configured with the printed [mirrors] line reads.
    url = "http://127.0.0.1:8000/feeds/a%20b.tar.gz"
    location = check_mirrors({origin_of(url): f"{root}/127.0.0.1:8000/"})
    assert mirrored(url, location) == str(mirror_path(root, url))


def test_config_toml_mirrors_are_checked_when_the_config_is_loaded(tmp_path: Path) -> None:
    from zeroxl.host.config import load

    path = tmp_path / "config.toml"
    path.write_text('[mirrors]\n"https://example.org/" = "/srv/mirror/example.org/"\n')
    assert load(path).mirrors == {"https://example.org/": "/srv/mirror/example.org/"}
    path.write_text('[mirrors]\n"https://example.org" = "/srv/mirror/example.org/"\n')
    with pytest.raises(ConfigError, match=r"\[mirrors\] 'https://example.org': the origin must end with '/'"):
        load(path)
