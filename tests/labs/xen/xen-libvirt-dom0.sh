#!/bin/bash
# The libvirt backend through libvirt's Xen driver (xen:///system), dom0 side: test_xen_libvirt.py runs it
# in one boot and asserts on what it leaves behind. libvirtd runs in dom0 beside the real xl toolstack,
# and the lab's test guest (published as signed Xen-x86_64 feeds, served on http://127.0.0.1:8080/) runs
# as a PVH domain libvirt made from the XML 0xl wrote: add, run, logs, stop, run again, destroy.
# Every check writes NAME.out and NAME.rc into $LAB_SHARE/results (dom0-lib.sh's check).
set -uo pipefail

share=${1:-$LAB_SHARE}
out=$share/results
mkdir -p "$out"
fpr=$(cat "$share/fingerprint")
site=http://127.0.0.1:8080
export ZEROXL_HOME=/var/lib/0xl
uri=xen:///system
console=/var/log/xen/console

. "$LAB_TREE/tests/labs/xen/dom0-lib.sh"
in_console() { grep -q -- "$2" "$console/guest-$1.log" 2>/dev/null; }
virsh_() { virsh -q -c "$uri" "$@"; }
libvirt_up() { virsh_ version > /dev/null 2>&1; }
# The volume 0xl made for the disk, as a path in dom0 (the pool "0xl", a directory under ZEROXL_HOME).
volume() { virsh_ vol-path --pool 0xl "0xl-$1-storage"; }
domain_shut_off() { [ "$(virsh_ domstate "$1" 2>/dev/null)" = "shut off" ]; }

# --- libvirtd with its Xen driver (no systemd in dom0: started here, stopped at the end) -----------------
# Two changes to dom0's (throw-away: QEMU's snapshot=on) root that libvirtd needs in this lab only:
# - the CPU Xen reports under QEMU's software CPU lacks VME, which every x86 model in libvirt's CPU map
#   has, and the Xen driver fails to start without a model that fits ("Cannot find suitable CPU model");
#   the 486 model without VME fits;
# - libvirt-daemon brings the QEMU driver too, which fails the whole daemon without the user
#   libvirt-qemu (made by libvirt-daemon-system, not in the image), even before reading qemu.conf: this
#   dom0 has no QEMU, so the driver goes.
sed -i "/<feature name='vme'\/>/d" /usr/share/libvirt/cpu_map/x86_486.xml
rm -f /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
mkdir -p /run/libvirt /var/log/libvirt /var/lib/libvirt
LIBVIRT_LOG_OUTPUTS="3:file:$out/libvirtd.log" libvirtd > "$out/libvirtd.out" 2>&1 &
libvirtd_pid=$!
check libvirt-up wait_for 90 libvirt_up
check libvirt-version virsh_ version

mkdir -p -m 700 "$ZEROXL_HOME"
cat > "$ZEROXL_HOME/config.toml" <<TOML
[policy]
max_memory = 512
bridges = ["$LAB_BRIDGE"]

[libvirt]
uri = "$uri"
stop_timeout = 30
TOML
python3 -m http.server --bind 127.0.0.1 --directory "$share/site" 8080 > /tmp/http.log 2>&1 &
served() { python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/guest.xml")' 2>/dev/null; }
wait_for 30 served

# --- add, run, logs, stop, run again, destroy: through libvirt alone -----------------------------------
check add 0xl add web "$site/guest.xml" --backend libvirt --trust-key "$fpr" --disk 64M --arg tag=web \
    --arg ip=10.0.0.3/24
check add-virsh virsh_ list --all --name
check add-status 0xl status web --json
check config 0xl config web
check pv-refused 0xl add pv "$site/guest-pv.xml" --backend libvirt --disk 32M --arg tag=pv
check run 0xl run web
check run-virsh virsh_ list --name
check run-dumpxml virsh_ dumpxml web
check run-xl xl list web
check run-up wait_for 180 in_console web "0XL-LAB-GUEST-UP tag=web boot=1"
check run-net wait_for 60 in_console web "0XL-LAB-GUEST-NET 10.0.0.3/24"
check run-logs 0xl logs web
check run-status 0xl status web --json
check run-ping ping -c 1 -W 5 10.0.0.3
check stop 0xl stop web
check stop-domstate virsh_ domstate web
check stop-status 0xl status web --json
check stop-marker disk_marker "$(volume web)"
check rerun 0xl run web
check rerun-up wait_for 180 in_console web "0XL-LAB-GUEST-UP tag=web boot=2"
check rerun-logs 0xl logs web
check destroy 0xl destroy web
check destroy-virsh virsh_ list --all --name
check destroy-xl xl list
check destroy-disk-list 0xl disk list --json
check destroy-marker disk_marker "$(volume web)"
check destroy-delete 0xl disk delete web storage
check destroy-delete-vols virsh_ vol-list --pool 0xl

cp "$console"/*.log /var/log/libvirt/libxl/*.log "$out/" 2>/dev/null
cp /var/log/xen/xen-hotplug.log "$out/" 2>/dev/null
kill "$libvirtd_pid" 2>/dev/null
exit 0
