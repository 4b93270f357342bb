#!/usr/bin/env bash
# Prepares this host for `make test` and `make lab`: the Debian packages the
# tests use (Docker, iproute2, the real routing peers FRR, BIRD, GoBGP, the
# NETCONF and SSH automation clients, yanglint, tshark, tmux) and a running
# Docker engine. It says what it does, changes nothing that is already in
# place, and only installs when it runs as root on a Debian-like host.
#
#   lab/host-setup.sh test   everything the test suite needs
#   lab/host-setup.sh lab    what `make lab` needs (iproute2 only; no Docker)
set -euo pipefail
what=${1:-test}

pkgs_lab=(iproute2 iputils-ping ethtool util-linux)
pkgs_test=("${pkgs_lab[@]}" docker.io tmux libyang2-tools openssh-client make git
  frr bird2 gobgpd exabgp python3-ncclient python3-netmiko tshark)

case "$what" in
  lab) want=("${pkgs_lab[@]}") ;;
  test) want=("${pkgs_test[@]}") ;;
  *) echo "host-setup: unknown target $what (test or lab)" >&2; exit 2 ;;
esac

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "host-setup: missing packages: ${missing[*]}" >&2
    echo "host-setup: install them (as root: apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
  echo "host-setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's frr package would start its daemons under systemd; the tests run
# their own, in namespaces of their own, so nothing else is started here.

if [ "$what" = test ] && ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "host-setup: the Docker engine is not running; start dockerd as root and run again" >&2
    exit 1
  fi
  echo "host-setup: starting dockerd (log: /var/log/vpnos-dockerd.log)"
  (setsid dockerd >/var/log/vpnos-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! docker info >/dev/null 2>&1; then
    echo "host-setup: dockerd did not start:" >&2
    tail -20 /var/log/vpnos-dockerd.log >&2
    exit 1
  fi
fi
exit 0
