# shellcheck shell=bash
# quiet_pip ARGS...: `python -m pip ARGS...` with its output in a log that is printed only when
# pip fails, so that what CI shows first is the lint and test output. Sourced by .ci/run*.
pip_log=$(mktemp)
quiet_pip() {
    if ! python -m pip "$@" >>"$pip_log" 2>&1; then
        cat "$pip_log" >&2
        echo "CI: pip $* failed (its log is above)" >&2
        exit 1
    fi
}
