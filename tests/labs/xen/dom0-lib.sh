# Helpers shared by the lab's dom0 scripts; they source it from the working tree, which dom0 mounts
# read-only at $LAB_TREE. A script sets $out (where results go) before it calls check.

# check NAME COMMAND...: runs COMMAND, keeps its output and status as $out/NAME.out and $out/NAME.rc
# for the host-side test to assert on, and prints a line for the run's log. A failed check returns
# its status but stops nothing, so that one boot reports every check.
check() {
    local name=$1 status start=$SECONDS
    shift
    "$@" > "$out/$name.out" 2>&1
    status=$?
    echo "$status" > "$out/$name.rc"
    echo "check $name: exit status $status in $((SECONDS - start)) s"
    return "$status"
}

# wait_for SECONDS COMMAND...: retries COMMAND every half second until it succeeds or time runs out.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

# `xl shutdown -w` and `xl destroy` can return while the domain is still listed: wait until it is gone.
domain_gone() { ! xl domid "$1" >/dev/null 2>&1; }

# disk_marker DEVICE: the first sector of a disk as text, where the test guest keeps its marker.
disk_marker() { dd if="$1" bs=512 count=1 status=none | tr -d '\0' | head -n 1; }
