#!/bin/bash
# The Xen workflow of docs/xen.md as a terminal shows it, run in the lab's dom0 to capture real output:
#   python3 -m tests.labs.xen.guest_feed SHARE mail     # on the host: the test guest published as mail.xml
#   tests/labs/xen/run-in-dom0 --share SHARE tests/labs/xen/transcript-dom0.sh
# The guest stands in for a mail server: a Debian kernel with a busybox init (README.md beside this).
set -u

share=${1:-$LAB_SHARE}
export ZEROXL_HOME=/var/lib/0xl
fpr=$(cat "$share/fingerprint")

show() {
    echo "\$ $*"
    "$@" 2>&1
    local status=$?
    [ "$status" = 0 ] || echo "(exit status $status)"
}

mkdir -p -m 700 "$ZEROXL_HOME"  # private to root, as 0xl makes it (docs/home.md)
cat > "$ZEROXL_HOME/config.toml" <<TOML
[policy]
max_memory = 512
max_total_memory = 768
max_disk_size = "4G"
bridges = ["xenbr0"]

[disks]
volume_group = "vg0"
TOML
python3 -m http.server --bind 127.0.0.1 --directory "$share/site" 8080 > /dev/null 2>&1 &
until python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/mail.xml")' 2>/dev/null; do
    sleep 0.5
done

show cat /var/lib/0xl/config.toml
show 0xl trust add "$fpr" --domain 127.0.0.1:8080
show 0xl add mail http://127.0.0.1:8080/mail.xml --disk=256M
show lvs -o lv_name,lv_size,lv_tags vg0
show 0xl config mail
start=$SECONDS
show 0xl run mail
until grep -q "0XL-LAB-GUEST-UP" /var/log/xen/console/guest-mail.log 2>/dev/null; do sleep 0.5; done
echo "# (the guest's first console line came $((SECONDS - start)) s after 0xl run started)"
show 0xl list
show 0xl status mail
show 0xl top -b -n 1
show xl list
show 0xl logs mail
start=$SECONDS
show 0xl stop mail
echo "# (0xl stop took $((SECONDS - start)) s)"
show 0xl destroy mail
show 0xl disk list
show 0xl disk delete mail storage
show 0xl add big http://127.0.0.1:8080/mail.xml --memory 1024 --disk=256M
show 0xl add mail http://127.0.0.1:8080/mail.xml --disk=8G
show 0xl add mail http://127.0.0.1:8080/mail.xml --disk=256M --net xenbr1
exit 0
