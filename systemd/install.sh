#!/usr/bin/env bash
# Install (or update) fieldgate as a systemd service. Idempotent: a second run
# changes nothing and says so. Run from a built checkout (npm ci && npm run build).
#
#   sudo systemd/install.sh              install to /, create user, enable and start
#   systemd/install.sh --prefix DIR      stage the tree under DIR only (also DESTDIR=DIR);
#                                        no user, no config chown, no systemctl
#   sudo systemd/install.sh --no-start   install but do not enable/start
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

PREFIX="${DESTDIR:-}"
START=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
# A staged install (package build, test) must never touch the running system.
STAGED=0
if [[ -n "$PREFIX" ]]; then
  STAGED=1
  START=0
  mkdir -p "$PREFIX"
  PREFIX="$(cd "$PREFIX" && pwd)"
fi

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="$PREFIX/opt/fieldgate"
UNIT_DIR="$PREFIX/etc/systemd/system"
CONF_DIR="$PREFIX/etc/fieldgate"
USER_NAME=fieldgate
NODE_BIN="${NODE_BIN:-$(command -v node || true)}"
changed=0

say() { echo "fieldgate install: $*"; }
did() { say "$*"; changed=1; }

[[ -n "$NODE_BIN" ]] || { echo "install.sh: node not found; install Node.js >= 20 first" >&2; exit 1; }
case "$NODE_BIN" in
  /home/*|/root/*) echo "install.sh: node at $NODE_BIN is under a home directory, which ProtectHome=yes hides from the service; install a system Node.js (e.g. /usr/bin/node) or set NODE_BIN=" >&2; exit 1 ;;
esac
if [[ ! -f "$SRC/dist/gateway/cli/main.js" ]]; then
  echo "install.sh: $SRC/dist is missing; run 'npm ci && npm run build' in $SRC first" >&2
  exit 1
fi

# 1. Service user (system account, no login, no home of its own; in dialout for the ttys).
if [[ $STAGED -eq 0 ]]; then
  if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/fieldgate --no-create-home \
      --shell /usr/sbin/nologin --comment "fieldgate field gateway" "$USER_NAME"
    did "created system user $USER_NAME"
  fi
  if getent group dialout >/dev/null && ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx dialout; then
    usermod -aG dialout "$USER_NAME"
    did "added $USER_NAME to group dialout"
  fi
else
  say "staged under $PREFIX: skipping user creation, ownership and systemctl"
fi

# 2. The app: package files, dist, bin and production node_modules only.
#    Built in a staging dir, then swapped in only if it differs from what is installed.
#    Everything temporary lives inside one private (0700) directory: a name next to it in a shared
#    /tmp (such as "$stage.unit") could be planted in advance as a symlink, and root would write
#    through it.
work="$(mktemp -d "${TMPDIR:-/tmp}/fieldgate-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/app"
mkdir "$stage"
# Copies keep timestamps only: `cp -p` would keep the checkout owner's uid and mode bits, leaving
# the installed code writable by whoever cloned it (or by the service user, if that was them).
cp_app() { cp -R --preserve=timestamps "$@"; }
for f in package.json package-lock.json README.md LICENSE; do
  if [[ -f "$SRC/$f" ]]; then cp_app "$SRC/$f" "$stage/"; fi
done
# The README links into docs/ (configuration, operations, security): install them beside it.
if [[ -d "$SRC/docs" ]]; then cp_app "$SRC/docs" "$stage/"; fi
cp_app "$SRC/bin" "$SRC/dist" "$stage/"
mkdir -p "$stage/node_modules"
# npm lists the production dependency tree (offline); copy each top-level package
# dir (nested node_modules come with their parent).
( cd "$SRC" && npm ls --omit=dev --all --parseable 2>/dev/null || true ) | sort -u | while read -r dir; do
  rel="${dir#"$SRC/node_modules/"}"
  if [[ "$rel" == "$dir" || "$rel" == */node_modules/* ]]; then continue; fi
  mkdir -p "$stage/node_modules/$(dirname "$rel")"
  cp_app "$dir" "$stage/node_modules/$rel"
done
# Installed code is root-owned (when we are root) and writable by its owner only.
chmod -R u=rwX,go=rX "$stage"
if [[ $(id -u) -eq 0 ]]; then chown -R 0:0 "$stage"; fi
# Sanity: every production dependency named in package.json made it.
node -e '
  const [src, stage] = process.argv.slice(1);
  const deps = Object.keys(require(src + "/package.json").dependencies ?? {});
  const fs = require("fs");
  const missing = deps.filter((d) => !fs.existsSync(stage + "/node_modules/" + d + "/package.json"));
  if (missing.length) { console.error("install.sh: missing in node_modules: " + missing.join(", ") + " (run npm ci)"); process.exit(1); }
' "$SRC" "$stage"

if [[ -d "$APP" ]] && diff -rq --no-dereference "$stage" "$APP" >/dev/null 2>&1; then
  say "app unchanged in $APP"
  app_changed=0
else
  mkdir -p "$(dirname "$APP")"
  rm -rf "$APP.new" "$APP.old"
  cp -R --preserve=mode,ownership,timestamps "$stage" "$APP.new"
  chmod 0755 "$APP.new"
  if [[ -d "$APP" ]]; then mv "$APP" "$APP.old"; fi
  mv "$APP.new" "$APP"
  rm -rf "$APP.old"
  did "installed app to $APP"
  app_changed=1
fi

# 3. The unit, with ExecStart's node path set to the node found here.
unit_tmp="$work/fieldgate.service"
sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" "$SRC/systemd/fieldgate.service" >"$unit_tmp"
mkdir -p "$UNIT_DIR"
if cmp -s "$unit_tmp" "$UNIT_DIR/fieldgate.service"; then
  say "unit unchanged in $UNIT_DIR/fieldgate.service"
  rm -f "$unit_tmp"
  unit_changed=0
else
  install -m 0644 "$unit_tmp" "$UNIT_DIR/fieldgate.service"
  rm -f "$unit_tmp"
  did "installed unit $UNIT_DIR/fieldgate.service"
  unit_changed=1
fi

# 4. Config: written once, never overwritten (it is the operator's file).
wrote_config=0
if [[ ! -d "$CONF_DIR" ]]; then
  install -d -m 0750 "$CONF_DIR"
  did "created $CONF_DIR"
fi
if [[ -e "$CONF_DIR/fieldgate.yaml" ]]; then
  say "kept existing config $CONF_DIR/fieldgate.yaml"
else
  install -m 0640 "$SRC/systemd/fieldgate.example.yaml" "$CONF_DIR/fieldgate.yaml"
  wrote_config=1
  did "wrote example config $CONF_DIR/fieldgate.yaml (edit gateway.id and upstream.url)"
fi
if [[ $STAGED -eq 0 ]]; then
  # root owns, the service's group reads: the service cannot rewrite its own config.
  if [[ "$(stat -c %U:%G "$CONF_DIR")" != "root:$USER_NAME" ]]; then
    chown "root:$USER_NAME" "$CONF_DIR"
    chmod 0750 "$CONF_DIR"
    did "set $CONF_DIR to root:$USER_NAME 0750"
  fi
  # Only a file we just wrote is chowned; an operator's own file is left alone, with a warning.
  cfg="$CONF_DIR/fieldgate.yaml"
  if [[ $wrote_config -eq 1 ]]; then
    chown "root:$USER_NAME" "$cfg"
  elif [[ "$(stat -c %G "$cfg")" != "$USER_NAME" && $((8#$(stat -c %a "$cfg") & 8#004)) -eq 0 ]]; then
    say "WARNING: $cfg may not be readable by the service; run: chown root:$USER_NAME $cfg && chmod 0640 $cfg"
  fi
fi

# 5. systemd.
if [[ $START -eq 1 ]]; then
  if [[ $unit_changed -eq 1 ]]; then
    systemctl daemon-reload
    did "systemctl daemon-reload"
  fi
  if ! systemctl is-enabled --quiet fieldgate; then
    systemctl enable --now fieldgate
    did "enabled and started fieldgate"
  elif [[ $app_changed -eq 1 || $unit_changed -eq 1 ]]; then
    systemctl restart fieldgate
    did "restarted fieldgate (new version)"
  elif ! systemctl is-active --quiet fieldgate; then
    systemctl start fieldgate
    did "started fieldgate"
  fi
elif [[ $STAGED -eq 0 ]]; then
  if [[ $unit_changed -eq 1 ]]; then
    systemctl daemon-reload
    did "systemctl daemon-reload"
  fi
  say "--no-start: not enabling or starting (systemctl enable --now fieldgate)"
fi

if [[ $changed -eq 0 ]]; then say "nothing to do: already installed"; else say "done"; fi
