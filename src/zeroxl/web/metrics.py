"""/metrics: the services in Prometheus's text format (version 0.0.4, which every Prometheus reads), named
as Prometheus names things (`zeroxl_`, base units in the name, `_total` on counters). docs/web.md lists
every metric.

Made from Source.overview() on each scrape: nothing is kept between scrapes, so a counter is what 0xl
reads now (a service started again counts from 0, which Prometheus's rate() takes as a reset).

Written here rather than with prometheus_client, whose exposition took most of a scrape's time
(validating each label name of each sample); the tests parse what this writes with prometheus_client's
own parser.
"""

from __future__ import annotations

from typing import Any

from zeroxl.web.adapter import now

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("running", "stopped", "failed", "damaged")
OUTCOMES = ("ok", "failed", "interrupted")

# name, type, help; a counter's samples are named NAME_total.
FAMILIES = (
    ("zeroxl_service_up", "gauge", "1 if the service runs, else 0"),
    ("zeroxl_service_state", "gauge", "1 for the state the service is in: running, stopped, failed or damaged"),
    ("zeroxl_service_info", "gauge", "The version a service runs, its backend, channel and feed (always 1)"),
    ("zeroxl_service_restarts", "counter", "Times the backend restarted the service since 0xl started it"),
    ("zeroxl_service_cpu_seconds", "counter", "CPU time the service used since it started"),
    ("zeroxl_service_memory_bytes", "gauge", "Resident memory of the service's processes, or its domain's memory"),
    ("zeroxl_service_network_receive_bytes", "counter", "Bytes a domain received on its networks (Xen)"),
    ("zeroxl_service_network_transmit_bytes", "counter", "Bytes a domain sent on its networks (Xen)"),
    ("zeroxl_service_start_time_seconds", "gauge", "When the running service started, in seconds since the epoch"),
    ("zeroxl_service_last_update_timestamp_seconds", "gauge", "When the service's last update was tried"),
    ("zeroxl_service_last_update_outcome", "gauge", "1 for how the last update ended: ok, failed, interrupted"),
    ("zeroxl_service_feed_signature_age_seconds", "gauge", "How long ago the feed 0xl verified last was signed"),
    ("zeroxl_service_feed_signature_expiry_timestamp_seconds", "gauge", "When that feed's signature expires"),
    ("zeroxl_service_disk_size_bytes", "gauge", "Size of each of the service's disks"),
    ("zeroxl_service_disk_used_bytes", "gauge", "Bytes a file disk (sparse) takes on its filesystem"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def samples(rows: list[dict[str, Any]], at: float) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Each family's samples (labels, value) for ROWS (Source.overview()) as of AT."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {name: [] for name, _, _ in FAMILIES}

    def add(family: str, value: float, **labels: str) -> None:
        out[family].append((labels, value))

    for row in rows:
        name = row["name"]
        add("zeroxl_service_up", 1 if row["state"] == "running" else 0, service=name)
        for st in STATES:
            add("zeroxl_service_state", 1 if row["state"] == st else 0, service=name, state=st)
        if row.get("backend") is None:  # a damaged record: nothing else is known
            continue
        info = {"version": row["version"] or "", "backend": row["backend"], "channel": row["channel"] or ""}
        add("zeroxl_service_info", 1, service=name, **info, feed=row["feed"] or "")
        add("zeroxl_service_restarts", row["restarts"], service=name)
        res = row.get("resources")
        if res:
            add("zeroxl_service_cpu_seconds", res["cpu_seconds"], service=name)
            add("zeroxl_service_memory_bytes", res["memory_bytes"], service=name)
            if "net_rx_bytes" in res:
                add("zeroxl_service_network_receive_bytes", res["net_rx_bytes"], service=name)
                add("zeroxl_service_network_transmit_bytes", res["net_tx_bytes"], service=name)
        if row.get("started") and row["state"] == "running":
            add("zeroxl_service_start_time_seconds", row["started"], service=name)
        last = row.get("last_update")
        if last:
            add("zeroxl_service_last_update_timestamp_seconds", last["time"], service=name)
            for o in OUTCOMES:
                add("zeroxl_service_last_update_outcome", 1 if last["outcome"] == o else 0, service=name, outcome=o)
        sig = row.get("feed_signature")
        if sig and sig.get("signed") is not None:
            add("zeroxl_service_feed_signature_age_seconds", at - sig["signed"], service=name)
            if sig.get("expires") is not None:
                add("zeroxl_service_feed_signature_expiry_timestamp_seconds", sig["expires"], service=name)
        for disk in row.get("disks", []):
            add("zeroxl_service_disk_size_bytes", disk["size"], service=name, disk=disk["name"])
            if disk.get("used") is not None:
                add("zeroxl_service_disk_used_bytes", disk["used"], service=name, disk=disk["name"])
    return out


def exposition(rows: list[dict[str, Any]]) -> bytes:
    """ROWS (Source.overview()) in Prometheus's text format."""
    found = samples(rows, now())
    lines = []
    for name, kind, help in FAMILIES:
        lines.append(f"# HELP {name} {help}")
        lines.append(f"# TYPE {name} {kind}")
        sample = f"{name}_total" if kind == "counter" else name
        for labels, value in found[name]:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{sample}{{{text}}} {_number(value)}")
    return ("\n".join(lines) + "\n").encode()
