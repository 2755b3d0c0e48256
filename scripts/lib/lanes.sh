# Shared by scripts/setup, scripts/test, scripts/develop and scripts/bench (sourced).
#
# Two lanes:
#   latest  - the newest Home Assistant (pytest-homeassistant-custom-component pinned in
#             pyproject.toml's `dev` group) on Python 3.14, which every Home Assistant
#             since 2026.3 requires. Everything runs here: lint, types, every test.
#   minimum - the oldest Home Assistant hacs.json declares (`minimum` group) on Python
#             3.13, in .venv: the Home Assistant tests only.
#
# Python 3.14 comes from PATH, pyenv or uv when one is installed. Otherwise (Debian 12,
# where no registry serves one) a private Debian sid root is built with debootstrap
# and its python3.14 runs the latest lane through chroot, with the folder holding this
# work tree (and ../shared), /tmp, /proc and /dev bind-mounted at the same paths in a
# private mount namespace.

LATEST_PY="3.14"
MINIMUM_PY="3.13"
SID_ROOT="${JELLYFIN_SYNC_SID_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/jellyfin-sync/sid-root}"
SID_VENV="/opt/jellyfin-sync-venv"
# g++ builds the voice-pipeline wheels (pymicro-vad, pyspeex-noise) that Home
# Assistant's frontend needs and PyPI has no Python 3.14 wheels of; dbus-x11 provides
# the session bus chromium's dconf needs (debootstrap does not pick a provider).
SID_PACKAGES="python3.14,python3.14-venv,python3.14-dev,ca-certificates,gcc,g++,git,chromium,fonts-dejavu-core,dbus-x11"

_matches() { # interpreter major.minor
    "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$2' else 1)" 2>/dev/null
}

# Print a host interpreter of version $1 (PATH, pyenv, uv), or fail.
find_host_python() {
    local want="$1" candidate root
    for candidate in "python$want" python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 && _matches "$(command -v "$candidate")" "$want"; then
            command -v "$candidate"
            return 0
        fi
    done
    root="${PYENV_ROOT:-$HOME/.pyenv}"
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
    fi
    for candidate in $(ls -d "$root"/versions/"$want".* 2>/dev/null | sort -V -r); do
        if [ -x "$candidate/bin/python" ] && _matches "$candidate/bin/python" "$want"; then
            echo "$candidate/bin/python"
            return 0
        fi
    done
    if command -v uv >/dev/null 2>&1; then
        candidate="$(uv python find "$want" 2>/dev/null || true)"
        if [ -n "$candidate" ] && _matches "$candidate" "$want"; then
            echo "$candidate"
            return 0
        fi
    fi
    return 1
}

# How the latest lane runs here: "host" (a host Python 3.14 in .venv-latest) or "sid".
# Decided once per script: the look-up starts several interpreters.
_LATEST_MODE=""
latest_mode() {
    if [ -z "$_LATEST_MODE" ]; then
        if [ -x .venv-latest/bin/python ] && _matches .venv-latest/bin/python "$LATEST_PY"; then
            _LATEST_MODE=host
        elif find_host_python "$LATEST_PY" >/dev/null; then
            _LATEST_MODE=host
        else
            _LATEST_MODE=sid
        fi
    fi
    echo "$_LATEST_MODE"
}

# Run a command in the latest lane, in this work tree, with the lane's venv first on
# PATH. Exit status is the command's.
run_latest() {
    latest_mode >/dev/null # sets _LATEST_MODE in this shell, not a subshell
    if [ "$_LATEST_MODE" = host ]; then
        PATH="$PWD/.venv-latest/bin:$PATH" "$@"
        return
    fi
    local here="$PWD" quoted
    printf -v quoted '%q ' "$@"
    # A private mount namespace: the mounts vanish with the command.
    unshare --mount --propagation private -- /bin/bash -c '
        set -e
        root="$1" here="$2" venv="$3" command="$4"
        # The work tree and what lies beside it (../shared), then /tmp.
        parent="$(dirname "$here")"
        mount --bind /tmp "$root/tmp"
        for dir in "$parent" "$(realpath -q "$parent/shared" || true)"; do
            case "$dir/" in
                /tmp/* | /) ;;
                *) if [ -d "$dir" ]; then
                       mkdir -p "$root$dir" && mount --bind "$dir" "$root$dir"
                   fi ;;
            esac
        done
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        cp /etc/resolv.conf "$root/etc/resolv.conf"
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
        extra=()
        for name in $(compgen -e); do
            case "$name" in JELLYFIN_*) extra+=("$name=${!name}") ;; esac
        done
        exec chroot "$root" /usr/bin/env -i "${extra[@]}" \
            HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
            PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
            SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
            PIP_DISABLE_PIP_VERSION_CHECK=1 \
            PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin" \
            /bin/bash -c "cd \"\$1\" && $command" lane "$here"
    ' lanes "$SID_ROOT" "$here" "$SID_VENV" "$quoted"
}
