#!/usr/bin/env bash
# Remove the fieldgate service and app. Keeps /etc/fieldgate (config) and
# /var/lib/fieldgate (the outbox: unsent messages) unless --purge.
#
#   sudo systemd/uninstall.sh            stop, disable, remove unit and /opt/fieldgate
#   sudo systemd/uninstall.sh --purge    also remove config, state and the fieldgate user
#   systemd/uninstall.sh --prefix DIR    act on a tree staged with install.sh --prefix (also DESTDIR=)
set -euo pipefail

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

PREFIX="${DESTDIR:-}"
PURGE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
STAGED=0
if [[ -n "$PREFIX" ]]; then STAGED=1; fi

UNIT="$PREFIX/etc/systemd/system/fieldgate.service"
APP="$PREFIX/opt/fieldgate"
CONF_DIR="$PREFIX/etc/fieldgate"
STATE_DIR="$PREFIX/var/lib/fieldgate"
USER_NAME=fieldgate
changed=0

say() { echo "fieldgate uninstall: $*"; }
did() { say "$*"; changed=1; }
remove() { # path, what
  if [[ -e "$1" || -L "$1" ]]; then
    rm -rf -- "$1"
    did "removed $2 $1"
  fi
}

if [[ $STAGED -eq 0 ]] && command -v systemctl >/dev/null; then
  if systemctl is-active --quiet fieldgate; then
    systemctl stop fieldgate
    did "stopped fieldgate"
  fi
  if systemctl is-enabled --quiet fieldgate 2>/dev/null; then
    systemctl disable fieldgate
    did "disabled fieldgate"
  fi
fi

remove "$UNIT" unit
if [[ $STAGED -eq 0 && $changed -eq 1 ]] && command -v systemctl >/dev/null; then
  systemctl daemon-reload
fi
remove "$APP" app

if [[ $PURGE -eq 1 ]]; then
  remove "$CONF_DIR" config
  remove "$STATE_DIR" "state (outbox)"
  if [[ $STAGED -eq 0 ]] && getent passwd "$USER_NAME" >/dev/null; then
    userdel "$USER_NAME"
    did "deleted user $USER_NAME"
  fi
else
  for d in "$CONF_DIR" "$STATE_DIR"; do
    if [[ -e "$d" ]]; then say "kept $d (use --purge to remove)"; fi
  done
fi

if [[ $changed -eq 0 ]]; then say "nothing to do: not installed"; else say "done"; fi
