"""`0xl trust add/list/remove`: the trust database, edited under its lock."""

from __future__ import annotations

from zeroxl.errors import NotFoundError
from zeroxl.feeds.trust import TrustDB, check_domain, normalise_fingerprint
from zeroxl.paths import Home
from zeroxl.state.lock import locked


def trust_add(fingerprint: str, domain: str, home: Home | None = None) -> tuple[str, str]:
    home = home or Home.from_env()
    fpr = normalise_fingerprint(fingerprint)
    check_domain(domain)
    with locked(home.locks / "trust.lock", what="the trust database", wait=30):
        db = TrustDB.load(home.trustdb)
        db.add(fpr, domain)
        db.save(home.trustdb)
    return fpr, domain


def trust_list(home: Home | None = None) -> list[tuple[str, list[str]]]:
    home = home or Home.from_env()
    return [(fpr, list(domains)) for fpr, domains in TrustDB.load(home.trustdb).entries()]


def trust_remove(fingerprint: str, domain: str | None, home: Home | None = None) -> str:
    home = home or Home.from_env()
    fpr = normalise_fingerprint(fingerprint)
    if domain is not None:
        check_domain(domain)
    with locked(home.locks / "trust.lock", what="the trust database", wait=30):
        db = TrustDB.load(home.trustdb)
        if not db.remove(fpr, domain):
            where = f" for {domain}" if domain else ""
            raise NotFoundError(f"key {fpr} is not trusted{where}", hint="see 0xl trust list")
        db.save(home.trustdb)
    return fpr
