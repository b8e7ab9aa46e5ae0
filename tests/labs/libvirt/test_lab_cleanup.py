"""What the lab leaves behind when its test run is killed (SIGKILL: no fixture clean-up runs): the next
run's start removes it, by the dead run's process id in the names, and ends only processes it can prove
are the dead run's (in its network namespace, or owned by its users)."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.labs.libvirt import lab, remote

pytestmark = pytest.mark.libvirt

REPO = Path(__file__).resolve().parents[3]

# A run that starts a daemon with a running guest and a remote host, reports what it made, then waits
# to be killed.
_KILLED_RUN = """
import json, sys, tempfile, time
from pathlib import Path
import libvirt
from tests.labs.libvirt import guest, lab, remote
work = Path(tempfile.mkdtemp())
daemon = lab.start_system_daemon(work / "root")
hosts_context = remote.remote_hosts(1)  # kept referenced: collected, it would clean up
hosts = hosts_context.__enter__()
with lab.guest_in_use() as image:
    conn = libvirt.open(daemon.uri)
    conn.createXML(guest.domain_xml("orphan", image, serial_log=work / "console.log"), 0)
    print(json.dumps({"netns": daemon.netns, "pids": daemon.pids(), "user": hosts[0].user,
                      "user_pids": remote.user_pids(hosts[0].uid), "home": str(hosts[0].home),
                      "sshd": remote.sshd_pids(hosts[0].home.parent)}), flush=True)
    time.sleep(600)
"""


def test_a_killed_run_is_cleaned_up_by_the_next(guest_image: lab.GuestImage) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert run.stdout is not None
        made = json.loads(run.stdout.readline())
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert Path("/run/netns", made["netns"]).exists()
    assert len(made["pids"]) >= 3  # virtlogd, libvirtd, QEMU
    pwd.getpwnam(made["user"])

    assert made["netns"] in lab.remove_stale_namespaces()
    assert made["user"] in remote.remove_stale_users()

    assert not Path("/run/netns", made["netns"]).exists()
    assert made["sshd"], "no sshd found for the remote host"
    assert not any(lab.alive(pid) for pid in made["pids"] + made["user_pids"] + made["sshd"])
    with pytest.raises(KeyError):
        pwd.getpwnam(made["user"])
    assert not Path(made["home"]).exists()
