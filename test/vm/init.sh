#!/bin/busybox sh
# /init of the lane's initramfs (test/vm/run.js packs it with busybox and the 9p modules).
# It mounts the host's / (read-only 9p) under a tmpfs overlay, so the guest runs the host's own
# node, tools and checkout but writes only to its memory, then hands over to test/vm/guest.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
arg() { sed -n "s/.*\bmc\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
if grep -q 'mc\.probe' /proc/cmdline; then echo MC-VM-PROBE-OK; poweroff -f; fi
for m in $(cat /modules.load); do modprobe "$m" || echo "init: modprobe $m failed"; done
mkdir -p /lower /mem /newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower || { echo 'MC-VM-RESULT 99'; poweroff -f; }
mount -t tmpfs -o mode=755 mem /mem
mkdir -p /mem/upper /mem/work
mount -t overlay -o lowerdir=/lower,upperdir=/mem/upper,workdir=/mem/work root /newroot || { echo 'MC-VM-RESULT 98'; poweroff -f; }
# The guest's own module tree (extracted from the Debian package) where its modprobe looks.
kver=$(uname -r)
mkdir -p "/newroot/lib/modules/$kver"
mount --bind "/lower$(arg modules)" "/newroot/lib/modules/$kver"
guest="$(arg checkout)/test/vm/guest.sh"
for d in dev proc sys; do mount --move /$d /newroot/$d; done
exec switch_root /newroot /bin/busybox sh "$guest"
