#!/bin/bash
# A real reboot of a Xen host, dom0 side (test_xen_boot.py runs it twice on one scratch disk, whose
# volume group outlives the first boot; lab.LabConfig.scratch). ZEROXL_HOME lives on a volume of it.
#   first:  serves the guest's feeds ($LAB_SHARE/site), adds `mail` (a disk on LVM) and `spare`, runs
#           mail, waits for the guest, stops nothing: the host goes down with it running. Installs the
#           units with `0xl systemd install --root $LAB_SHARE/root` (the root file system is new at each
#           boot: the share keeps them).
#   second: runs the command of the installed 0xl.service, as systemd would at boot, then looks at what
#           runs.
# Every check writes NAME.out and NAME.rc into $LAB_SHARE/results/PHASE.
set -uo pipefail

phase=$1
share=$LAB_SHARE
out=$share/results/$phase
mkdir -p "$out"
export ZEROXL_HOME=/var/lib/0xl
vg=$LAB_VG
console=/var/log/xen/console
. "$LAB_TREE/tests/labs/xen/dom0-lib.sh"
in_console() { grep -q -- "$2" "$console/guest-$1.log" 2>/dev/null; }
domains() { xl list | awk 'NR > 1 { print $1 }'; }

if [ "$phase" = first ]; then
    lvcreate -q -y -L 256M -n labhome "$vg" >/dev/null
    mkfs.ext4 -q "/dev/$vg/labhome"
    mkdir -p -m 700 "$ZEROXL_HOME"
    mount "/dev/$vg/labhome" "$ZEROXL_HOME"
    chmod 700 "$ZEROXL_HOME"
    printf '[disks]\nvolume_group = "%s"\n[policy]\nbridges = ["%s"]\n' "$vg" "$LAB_BRIDGE" > "$ZEROXL_HOME/config.toml"
    python3 -m http.server --bind 127.0.0.1 --directory "$share/site" 8080 > /tmp/http.log 2>&1 &
    served() { python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/guest.xml")' 2>/dev/null; }
    wait_for 30 served
    fpr=$(cat "$share/fingerprint")
    check add 0xl add mail http://127.0.0.1:8080/guest.xml --trust-key "$fpr" --disk 64M --arg tag=mail --arg ip=10.0.0.2/24
    check add-spare 0xl add spare http://127.0.0.1:8080/guest.xml --disk 64M --arg tag=spare
    check run 0xl run mail
    check up wait_for 180 in_console mail "0XL-LAB-GUEST-UP tag=mail boot=1"
    check install 0xl systemd install --root "$share/root"
    check status 0xl status mail --json
    # The host goes down with mail running (what a reboot does to a domain xendomains does not save).
    sync
    exit 0
fi

# --- second boot -------------------------------------------------------------------------------------
mkdir -p -m 700 "$ZEROXL_HOME"
check mount mount "/dev/$vg/labhome" "$ZEROXL_HOME"
check before-domains domains
check before-status 0xl status mail --json
unit=$share/root/etc/systemd/system/0xl.service
check unit cat "$unit"
# The unit's command, as systemd runs it: its Environment= and its ExecStart=, split on blanks (0xl
# writes no quotes). The lab's 0xl is the tree's code run by the lab's venv: PYTHONPATH says where it is.
env_line=$(sed -n 's/^Environment=//p' "$unit")
read -r -a exec_start <<< "$(sed -n 's/^ExecStart=//p' "$unit")"
check boot env "$env_line" PYTHONPATH="$LAB_TREE/src" PYTHONDONTWRITEBYTECODE=1 "${exec_start[@]}"
check after-domains domains
check up wait_for 180 in_console mail "0XL-LAB-GUEST-UP tag=mail boot=2"
check console cat "$console/guest-mail.log"
check after-status 0xl status mail --json
check after-spare 0xl status spare --json
check marker disk_marker "/dev/$vg/0xl-mail-storage"
check boot-again 0xl boot
exit 0
