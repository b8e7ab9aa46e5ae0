#!/bin/bash
# The lab's smoke test, dom0 side (test_lab.py runs it in one boot and checks what it leaves behind).
# Every check writes its output and exit status into the share directory ($1, or $LAB_SHARE) as
# NAME.out and NAME.rc; a failed check does not stop the ones after it, so one boot reports them all.
set -uo pipefail

out=${1:-$LAB_SHARE}
mkdir -p "$out"

# Helpers shared by the lab's dom0 scripts: check, wait_for, domain_gone, disk_marker.
. "$LAB_TREE/tests/labs/xen/dom0-lib.sh"

# write_cfg NAME TYPE IP MAC [DECOY]: a hand-written xl.cfg for the test guest with an LV disk at xvdb,
# where the guest looks for it as a Mirage unikernel looks for its first block device, and a vif. With
# DECOY, another LV is attached at xvda, the first disk, which the guest must leave alone.
write_cfg() {
    local name=$1 type=$2 ip=$3 mac=$4 decoy=${5:-} disks
    disks="\"format=raw, vdev=xvdb, access=rw, target=/dev/$LAB_VG/$name\""
    [ -n "$decoy" ] && disks="\"format=raw, vdev=xvda, access=rw, target=/dev/$LAB_VG/$decoy\", $disks"
    cat > "/tmp/$name.cfg" <<EOF
name = "$name"
type = "$type"
kernel = "$LAB_GUEST/vmlinuz"
ramdisk = "$LAB_GUEST/initrd.img"
cmdline = "console=hvc0 quiet lab.tag=$name lab.ip=$ip/24"
memory = 128
vcpus = 1
cpus = "1"
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
disk = [ $disks ]
vif = [ "bridge=$LAB_BRIDGE, mac=$mac" ]
EOF
    cp "/tmp/$name.cfg" "$out/$name.cfg"
}

# The host side of the lab.
check xl-info xl info
check lvcreate lvcreate -q -L 64M -n t "$LAB_VG"
check lv-is-block-device test -b "/dev/$LAB_VG/t"
check bridge ip -o link show dev "$LAB_BRIDGE" type bridge
check zeroxl-on-path sh -c 'command -v 0xl && grep -q "python -m zeroxl" "$(command -v 0xl)"'
check zeroxl-imports env PYTHONPATH="$LAB_TREE/src" /opt/0xl/venv/bin/python -c \
    'import zeroxl, httpx, defusedxml, rich, tomli_w; print(zeroxl.__file__)'

# guest_cycle NAME TYPE IP MAC [DECOY]: boot, clean shutdown, and (PVH) a second boot ended by destroy.
guest_cycle() {
    local name=$1 type=$2 ip=$3 mac=$4 decoy=${5:-} log=/var/log/xen/console/guest-$1.log
    lvcreate -q -L 32M -n "$name" "$LAB_VG" || return
    if [ -n "$decoy" ]; then
        lvcreate -q -L 8M -n "$decoy" "$LAB_VG" || return
        echo "0XL-LAB-DECOY untouched" | dd of="/dev/$LAB_VG/$decoy" bs=512 count=1 conv=sync status=none
    fi
    write_cfg "$name" "$type" "$ip" "$mac" "$decoy"
    check "$name-create" xl create "/tmp/$name.cfg" || return
    check "$name-up" wait_for 90 grep -q "0XL-LAB-GUEST-NET" "$log"
    check "$name-ping" ping -c 1 -W 5 "$ip"
    check "$name-shutdown" xl shutdown -w "$name"
    check "$name-gone-after-shutdown" wait_for 30 domain_gone "$name"
    check "$name-marker-after-shutdown" disk_marker "/dev/$LAB_VG/$name"
    [ -n "$decoy" ] && check "$name-decoy-after-shutdown" disk_marker "/dev/$LAB_VG/$decoy"
    if [ "$type" = pvh ]; then
        check "$name-create-again" xl create "/tmp/$name.cfg" || return
        check "$name-up-again" wait_for 90 grep -q "0XL-LAB-GUEST-UP tag=$name boot=2" "$log"
        check "$name-destroy" xl destroy "$name"
        check "$name-gone-after-destroy" wait_for 30 domain_gone "$name"
        check "$name-marker-after-destroy" disk_marker "/dev/$LAB_VG/$name"
    fi
    cp "$log" "$out/$name-console.log"
}

guest_cycle guest-pvh pvh 10.0.0.2 00:16:3e:00:00:02
guest_cycle guest-pv pv 10.0.0.3 00:16:3e:00:00:03 guest-pv-decoy
cp /var/log/xen/xen-hotplug.log "$out/" 2>/dev/null
xl dmesg > "$out/xl-dmesg.txt" 2>&1
exit 0
