# Stage 2 of the lane's guest, PID 1 in the overlaid host root (see init.sh): mounts what a booted
# system has, lays out the cgroups of the layout under test, runs jest and reports its exit code on
# the console in one marked line (test/vm/run.js reads it), then powers the guest off.
arg() { sed -n "s/.*\bmc\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
checkout=$(arg checkout)
layout=$(arg layout)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
# PID 1 must not exit before the power-off completes (the kernel panics when init exits): once the
# power-off has begun, a program may no longer start from the 9p root, so wait in a shell loop.
finish() { echo "MC-VM-RESULT $1"; sync; echo o > /proc/sysrq-trigger; while :; do sleep 1 2>/dev/null || :; done; }
trap 'finish 97' EXIT

# The jest command line the host wrote (read before /tmp becomes the guest's own tmpfs).
mkdir -p /run && mount -t tmpfs -o mode=755 run /run
cp "$(arg run)" /run/mc-vm-args || finish 96
for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmp $d; done
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
ln -sf /proc/self/fd /dev/fd 2>/dev/null
# The kernel loads modules on demand (nf_tables expressions, veth, ...) through busybox's modprobe
# and the guest's own module tree: the host has no kmod, and its modules are for another kernel.
ln -s /bin/busybox /run/modprobe && echo /run/modprobe > /proc/sys/kernel/modprobe
# loop: the device tests open /dev/loop0 (devtmpfs makes the nodes when the driver loads).
modprobe loop
hostname mc-vm
ip link set lo up

mkdir -p /sys/fs/cgroup
controllers() { sed 's/\([^ ]*\)/+\1/g' "$1/cgroup.controllers"; }
case "$layout" in
  v2)
    # As under systemd: every controller on the unified hierarchy, enabled down to a slice, the
    # caller in a leaf unit cgroup that is not the root.
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
    cg=/sys/fs/cgroup
    mkdir $cg/init.scope && echo $$ > $cg/init.scope/cgroup.procs
    controllers $cg > $cg/cgroup.subtree_control
    mkdir $cg/system.slice && controllers $cg/system.slice > $cg/system.slice/cgroup.subtree_control
    mkdir $cg/system.slice/mc-vm-lane.service
    run() { sh -c 'echo $$ > /sys/fs/cgroup/system.slice/mc-vm-lane.service/cgroup.procs && exec "$@"' sh "$@"; }
    ;;
  nsroot)
    # As in a CI job inside a container (Docker's cgroupns=private): the job's cgroup is the root of
    # its own cgroup namespace, controllers available but none enabled, and processes already in it.
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
    cg=/sys/fs/cgroup
    mkdir $cg/init.scope && echo $$ > $cg/init.scope/cgroup.procs
    controllers $cg > $cg/cgroup.subtree_control
    mkdir $cg/ci-job
    run() { sh -c 'echo $$ > /sys/fs/cgroup/ci-job/cgroup.procs && exec /usr/bin/unshare --cgroup --mount --propagation private sh "$0" "$@"' "$checkout/test/vm/nsroot-job.sh" "$@"; }
    ;;
  v1)
    # cgroup v1 as the legacy mode of systemd mounts it: a tmpfs of per-controller hierarchies
    # (cpu,cpuacct and net_cls,net_prio co-mounted) and a named systemd hierarchy, no cgroup2.
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    for c in $(awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups); do
      case $c in cpuacct|net_prio) continue ;; cpu) dir=cpu,cpuacct ;; net_cls) dir=net_cls,net_prio ;; *) dir=$c ;; esac
      mkdir /sys/fs/cgroup/$dir && mount -t cgroup -o $dir cgroup /sys/fs/cgroup/$dir
    done
    ln -s cpu,cpuacct /sys/fs/cgroup/cpu && ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct
    mkdir /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
    run() { "$@"; }
    ;;
  *) echo "guest: unknown layout '$layout'"; finish 94 ;;
esac
echo "guest: kernel $(uname -r), layout $layout"
grep cgroup /proc/self/mountinfo; cat /proc/self/cgroup

cd "$checkout" || finish 93
# shellcheck disable=SC2046
run $(cat /run/mc-vm-args) < /dev/null
rc=$?
trap - EXIT
finish $rc
