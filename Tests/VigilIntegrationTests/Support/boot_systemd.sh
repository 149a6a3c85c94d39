#!/bin/bash
# PID 1 of a fresh PID + mount namespace: keep every write off the host, then become systemd.
# Usage: boot_systemd.sh REPOSITORY BINARY_DIRECTORY [PACKAGE_DIRECTORY TOOLCHAIN]. The first two stay
# reachable inside as /run/vigil/repo and /run/vigil/bin (they may live under /tmp, which is covered
# by a tmpfs here). With a package directory (reachable as /run/vigil/debs), the namespace is a host
# for dpkg: /usr, /var/log and /var/cache are overlays too, and an empty tmpfs hides the toolchain
# directory, as on a production host without Swift.
set -e
repo="$1"
bin="$2"
debs="${3:-}"
toolchain="${4:-}"
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/vigil/repo /run/vigil/bin
mount --bind "$repo" /run/vigil/repo
mount --bind "$bin" /run/vigil/bin
if [ -n "$debs" ]; then
  mkdir -p /run/vigil/debs
  mount --bind "$debs" /run/vigil/debs
fi
mkdir -p /run/overlay
overlays="/etc /usr/local /var/lib /var/spool"
[ -z "$debs" ] || overlays="/usr /var/log /var/cache $overlays"  # /usr before /usr/local
for d in $overlays; do
  n=$(echo "$d" | tr / _)
  mkdir -p /run/overlay/$n/upper /run/overlay/$n/work
  mount -t overlay overlay -o lowerdir=$d,upperdir=/run/overlay/$n/upper,workdir=/run/overlay/$n/work "$d"
done
for d in /tmp /var/tmp /var/log/journal; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
[ -z "$toolchain" ] || mount -t tmpfs -o ro tmpfs "$toolchain"
mkdir -p /run/systemd/system
for u in getty@.service serial-getty@.service console-getty.service getty.target prometheus-alertmanager.service prometheus.service \
         systemd-logind.service dbus.service dbus.socket systemd-timesyncd.service cron.service; do
  ln -sf /dev/null /run/systemd/system/$u
done

exec env container=vigil-test /lib/systemd/systemd --system --log-target=null --unit=multi-user.target </dev/null >/dev/null 2>&1
