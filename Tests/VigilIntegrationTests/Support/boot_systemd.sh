#!/bin/bash
# PID 1 of a fresh PID + mount namespace: keep every write off the host, then become systemd.
# Usage: boot_systemd.sh REPOSITORY BINARY_DIRECTORY. Both stay reachable inside as /run/vigil/repo
# and /run/vigil/bin (they may live under /tmp, which is covered by a tmpfs here).
set -e
repo="$1"
bin="$2"
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/vigil/repo /run/vigil/bin
mount --bind "$repo" /run/vigil/repo
mount --bind "$bin" /run/vigil/bin
for d in /tmp /var/tmp /var/log/journal; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
mkdir -p /run/overlay
for d in /etc /usr/local /var/lib /var/spool; do
  n=$(echo "$d" | tr / _)
  mkdir -p /run/overlay/$n/upper /run/overlay/$n/work
  mount -t overlay overlay -o lowerdir=$d,upperdir=/run/overlay/$n/upper,workdir=/run/overlay/$n/work "$d"
done
mkdir -p /run/systemd/system
for u in getty@.service serial-getty@.service console-getty.service getty.target prometheus-alertmanager.service \
         systemd-logind.service dbus.service dbus.socket systemd-timesyncd.service cron.service; do
  ln -sf /dev/null /run/systemd/system/$u
done

exec env container=vigil-test /lib/systemd/systemd --system --log-target=null --unit=multi-user.target </dev/null >/dev/null 2>&1
