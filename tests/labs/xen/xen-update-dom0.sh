#!/bin/bash
# An update and an automatic rollback of a Xen service, dom0 side (test_xen_update.py asserts on what
# it leaves in $LAB_SHARE/results, one NAME.out / NAME.rc pair per check). The host published three
# states of the same signed feed (guest_feed.py), served in turn on http://127.0.0.1:8080/guest.xml:
#   site-1   1.0
#   site-2   1.0, 2.0
#   site-3   1.0, 2.0, 3.0 (broken: it powers off as soon as it boots)
# The guest marks its disk at every boot and clean shutdown, so its console shows that each version
# found the data the one before left. Four guest boots in all (1.0, 2.0, 3.0, 2.0 again).
set -uo pipefail

share=${1:-$LAB_SHARE}
out=$share/results
mkdir -p "$out"
fpr=$(cat "$share/fingerprint")
export ZEROXL_HOME=/var/lib/0xl
vg=$LAB_VG

# Helpers shared by the lab's dom0 scripts: check, wait_for, domain_gone, disk_marker.
. "$LAB_TREE/tests/labs/xen/dom0-lib.sh"
in_console() { grep -q -- "$1" /var/log/xen/console/guest-up.log 2>/dev/null; }
serve() { ln -sfn "$share/site-$1" /tmp/site; }
served() { python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/guest.xml")' 2>/dev/null; }

mkdir -p -m 700 "$ZEROXL_HOME"  # private to root, as 0xl makes it (docs/home.md)
printf '[policy]\nbridges = ["%s"]\n\n[disks]\nvolume_group = "%s"\n' "$LAB_BRIDGE" "$vg" > "$ZEROXL_HOME/config.toml"
serve 1
# The directory is a link, followed at every request: pointing it elsewhere publishes the next state.
python3 -m http.server --bind 127.0.0.1 --directory /tmp/site 8080 > /tmp/http.log 2>&1 &
wait_for 30 served

check add 0xl add up http://127.0.0.1:8080/guest.xml --trust-key "$fpr" --disk 64M --arg tag=up --arg ip=10.0.0.4/24
# Healthy: the guest's UP line on its console and its web server answering on the bridge, then 3 s up.
check set 0xl set up --ready-log '0XL-LAB-GUEST-UP' --ready-tcp 10.0.0.4:80 --ready-timeout 180 --settle 3
check run 0xl run up
check run-up wait_for 180 in_console "0XL-LAB-GUEST-NET"

serve 2
check update-check 0xl update up --check
check update 0xl update up
check update-logs 0xl logs up
check update-status 0xl status up --json

serve 3
check rollback 0xl update up
check rollback-logs 0xl logs up
check rollback-status 0xl status up --json
check rollback-domains sh -c "xl list | awk 'NR > 1 { print \$1 }'"
check history 0xl history up --json
check again 0xl update up

check stop 0xl stop up
check stop-marker disk_marker "/dev/$vg/0xl-up-storage"
check destroy 0xl destroy up --delete-disks
exit 0
