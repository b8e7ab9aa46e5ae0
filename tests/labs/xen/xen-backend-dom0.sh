#!/bin/bash
# The xen backend against the real xl and LVM, dom0 side (test_xen_backend.py runs it in one boot and
# asserts on what it leaves behind). The host put in the share directory ($LAB_SHARE):
#   site/         signed feeds of the lab's test guest, published with `0xl feed init/add/sign`:
#                 guest.xml (PVH) and guest-pv.xml (PV), served here on http://127.0.0.1:8080/
#   fingerprint   the publisher's key
# Every check writes NAME.out and NAME.rc into $LAB_SHARE/results; a failed check does not stop the
# ones after it, so that one boot reports them all. Three guest boots in all (~20 s each under TCG).
set -uo pipefail

share=${1:-$LAB_SHARE}
out=$share/results
mkdir -p "$out"
fpr=$(cat "$share/fingerprint")
site=http://127.0.0.1:8080
export ZEROXL_HOME=/var/lib/0xl
vg=$LAB_VG
console=/var/log/xen/console

# Helpers shared by the lab's dom0 scripts: check, wait_for, domain_gone, disk_marker.
. "$LAB_TREE/tests/labs/xen/dom0-lib.sh"
in_console() { grep -q -- "$2" "$console/guest-$1.log" 2>/dev/null; }
lv_report() { lvs --reportformat json --units b --nosuffix -o lv_name,lv_size,lv_tags -- "$vg"; }
domains() { xl list | awk 'NR > 1 { print $1 }'; }
# What must not change when a command fails: the records, the disks' list, the domains, the volumes.
state_digest() {
    { find "$ZEROXL_HOME/services" "$ZEROXL_HOME/disks" -type f -print0 2>/dev/null | sort -z | xargs -0r sha256sum
      domains
      lvs --noheadings -o lv_name,lv_tags "$vg"; } | sha256sum
}

policy() {
    cat > "$ZEROXL_HOME/config.toml" <<EOF
[policy]
max_memory = 512
max_total_memory = 600
bridges = ["$LAB_BRIDGE", "xenbr9"]
$1
EOF
}

# --- setup: the feeds served on loopback (dom0 has no network to the host) ----------------------------
mkdir -p -m 700 "$ZEROXL_HOME"  # private to root, as 0xl makes it (docs/home.md)
policy "[disks]
volume_group = \"$vg\""
python3 -m http.server --bind 127.0.0.1 --directory "$share/site" 8080 > /tmp/http.log 2>&1 &
served() { python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/guest.xml")' 2>/dev/null; }
wait_for 30 served
check gpg-in-dom0 gpg --version

# --- a service on LVM: add, run, logs, stop, run again, destroy -----------------------------------------
check add 0xl add mail "$site/guest.xml" --trust-key "$fpr" --disk 64M --arg tag=mail --arg ip=10.0.0.2/24
check add-lvs lv_report
check host-id cat "$ZEROXL_HOME/host-id"
check add-disk-list 0xl disk list --json
check config 0xl config mail
check run 0xl run mail
check run-domains domains
check run-xl-cfg cat "$ZEROXL_HOME/services/mail/xen/xl.cfg"
check run-dry-create xl -N create "$ZEROXL_HOME/services/mail/xen/xl.cfg"
check run-network-list xl network-list mail
check run-up wait_for 120 in_console mail "0XL-LAB-GUEST-NET 10.0.0.2/24"
check run-logs 0xl logs mail
check run-status 0xl status mail --json
check run-list 0xl list --json
check run-top 0xl top -b -n 1
check run-ping ping -c 1 -W 5 10.0.0.2
check run-net-status 0xl status mail --json
check run-net-text 0xl status mail
check run-again 0xl run mail
check run-marker disk_marker "/dev/$vg/0xl-mail-storage"
check stop 0xl stop mail
check stop-domid xl domid mail
check stop-status 0xl status mail --json
check stop-marker disk_marker "/dev/$vg/0xl-mail-storage"
check rerun 0xl run mail
check rerun-up wait_for 120 in_console mail "0XL-LAB-GUEST-UP tag=mail boot=2"
check rerun-logs 0xl logs mail

# --- the host's policy: over a limit is refused before anything is created ------------------------------
before=$(state_digest)
check policy-max-memory 0xl add big "$site/guest.xml" --memory 1024 --disk 64M --arg tag=big
check policy-max-memory-unchanged test "$(state_digest)" = "$before"
before=$(state_digest)
check policy-total 0xl add t2 "$site/guest.xml" --memory 500 --disk 32M --arg tag=t2
check policy-total-unchanged test "$(state_digest)" = "$before"

# --- destroy keeps the volume; a new service of the name reuses it; --delete-disks removes it ------------
check destroy 0xl destroy mail
check destroy-domains domains
check destroy-lvs lv_report
check destroy-marker disk_marker "/dev/$vg/0xl-mail-storage"
check destroy-disk-list 0xl disk list --json
check readd 0xl add mail "$site/guest.xml" --disk 64M --arg tag=mail
check readd-config 0xl config mail
check destroy-delete 0xl destroy mail --delete-disks
check destroy-delete-lvs lv_report

# --- a volume without 0xl's tag is never touched, even with 0xl's name -----------------------------------
lvcreate -q --yes -L 8M -n 0xl-intruder-storage "$vg" > /dev/null
check intruder-add 0xl add intruder "$site/guest.xml" --disk 64M --arg tag=intruder
check intruder-delete 0xl disk delete intruder storage
check intruder-disk-list 0xl disk list --json
check intruder-lvs lv_report
# ... nor is one that carries the service's and the disk's tags but not 0xl's own. Of the size asked, it
# is what `add` would take as a kept disk of the service if the tags alone decided.
lvcreate -q --yes -L 64M -n 0xl-spoof-storage --addtag 0xl.service=spoof --addtag 0xl.disk=storage "$vg" > /dev/null
echo "NOT-0XLS-DATA" | dd of="/dev/$vg/0xl-spoof-storage" conv=notrunc status=none
check spoof-disk-list 0xl disk list --json
check spoof-add 0xl add spoof "$site/guest.xml" --disk 64M --arg tag=spoof
check spoof-delete 0xl disk delete spoof storage
check spoof-lvs lv_report
check spoof-marker disk_marker "/dev/$vg/0xl-spoof-storage"

# --- a bridge that went missing: xl create fails, and nothing is left behind ------------------------------
ip link add xenbr9 type bridge && ip link set xenbr9 up
check nobr-add 0xl add nobr "$site/guest.xml" --net xenbr9 --disk 32M --arg tag=nobr
ip link del xenbr9
before=$(state_digest)
check nobr-run 0xl run nobr
check nobr-domid xl domid nobr
check nobr-unchanged test "$(state_digest)" = "$before"
check nobr-no-xl-cfg test ! -e "$ZEROXL_HOME/services/nobr/xen"
check nobr-status 0xl status nobr --json
before=$(state_digest)
check nobr-add-missing 0xl add nobr2 "$site/guest.xml" --net xenbr9 --disk 32M --arg tag=nobr2
check nobr-add-missing-unchanged test "$(state_digest)" = "$before"
check nobr-cleanup 0xl destroy nobr --delete-disks

# --- PV, with a file disk (no volume group configured) -------------------------------------------------
policy ""
check file-add 0xl add filed "$site/guest-pv.xml" --disk 64M --arg tag=filed
check file-disk-list 0xl disk list --json
check file-config 0xl config filed
check file-run 0xl run filed
check file-up wait_for 120 in_console filed "0XL-LAB-GUEST-UP tag=filed boot=1"
check file-status 0xl status filed --json
check file-stop 0xl stop filed
check file-marker disk_marker "$ZEROXL_HOME/disks/filed/storage.img"
check file-destroy 0xl destroy filed --delete-disks
check file-gone test ! -e "$ZEROXL_HOME/disks/filed/storage.img"

check end-domains domains
cp "$console"/*.log "$out/" 2>/dev/null
cp /var/log/xen/xen-hotplug.log /var/log/xen/xl-*.log "$out/" 2>/dev/null
exit 0
