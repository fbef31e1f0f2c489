# Layout "nsroot" (test/vm/guest.sh): runs "$@" as a CI job in a container would, its cgroup the
# root of its own cgroup namespace (cgroup2 remounted to show that root) holding another process.
umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 95
sleep 100000 &  # the container's other process (its init or a service), in the namespace root too
"$@"
rc=$?
kill $!
exit $rc
