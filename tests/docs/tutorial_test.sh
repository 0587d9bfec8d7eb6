#!/bin/bash
# Docs that run: the tutorial of docs/operations.md ("Setting up a federation:
# a tutorial"), run block by block, in order, on loopback.  Each host of the
# tutorial gets a directory of its own in place of /etc/liaison,
# /var/lib/liaison and /home; the documented ports become free ones and the
# host names 127.0.0.1; systemctl, journalctl, sudo, install -o/-g, chown,
# useradd and scp are shell functions that do the same work without root.
#
#   tutorial_test.sh DOC LIAISON LIAISON-BROKER
#
# The marks (docs/operations.md says how they work):
#   <!-- run: HOST -->            the next ```sh block runs on HOST
#   <!-- file: HOST PATH -->      the next block is written to PATH on HOST
#   <!-- expect: REGEX -->        after a run block: its output matches REGEX
#   <!-- expect-fail: STATUS -->  after a run block: it exits with STATUS
#   <!-- save: NAME -->           after a run block: keep its output as NAME
#   <!-- expect-saved: NAME -->   after a run block: it prints every line of NAME
# On a failure it prints the block, its output and the command that failed.
# It stops every process it started and removes its directory.
# TUTORIAL_KEEP=1 keeps the directory (and says where).  The whole run must
# end within TUTORIAL_DEADLINE seconds (default 170, below ctest's timeout,
# so that a run that hangs still stops what it started).
set -u
umask 022

doc=${1:?usage: tutorial_test.sh DOC LIAISON LIAISON-BROKER}
liaison=${2:?the liaison tool}
broker=${3:?the liaison-broker daemon}
for prog in mdb_copy python3; do
    command -v "$prog" >/dev/null || { echo "tutorial: $prog is missing; skipped"; exit 77; }
done

root=$(mktemp -d "${TMPDIR:-/tmp}/liaison-tutorial-XXXXXX")
mkdir -p "$root/bin" "$root/pids" "$root/logs" "$root/steps" "$root/h"
ln -s "$(cd "$(dirname "$liaison")" && pwd)/$(basename "$liaison")" "$root/bin/liaison"
ln -s "$(cd "$(dirname "$broker")" && pwd)/$(basename "$broker")" "$root/bin/liaison-broker"

# ours PID: the process runs one of this test's configurations (a PID recorded
# for a process that has exited may have been given to another since).
ours() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q -F "$root/"; }

# Stop every process a step started (by the PIDs recorded when it started
# them), then remove the directory.
cleanup() {
    local f pid
    for f in "$root"/pids/*; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        ours "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for f in "$root"/pids/*; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        for _ in $(seq 1 100); do ours "$pid" || break; sleep 0.1; done
        ours "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    if [ "${TUTORIAL_KEEP:-0}" = 1 ]; then echo "tutorial: kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Ports: each documented port gets a free one --------------------------------

documented_ports="7001 7002 7003 7101 7102 7103 9101 9102 9103"
# shellcheck disable=SC2086
# Drawn below the kernel's ephemeral range (32768 and up by default), as
# tests/helpers does: a port the kernel hands to a bind to port 0 may also
# become an outgoing connection's source port before a broker binds it.
free_ports=$(python3 - $documented_ports <<'EOF'
import random, socket, sys
socks = []
while len(socks) < len(sys.argv) - 1:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randint(10000, 32767)))
    except OSError:
        s.close()
        continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
subst=$root/subst.sed
{
    # shellcheck disable=SC2086
    set -- $free_ports
    for p in $documented_ports; do
        for h in "broker\.[a-z]*\.example" "\*" "127\.0\.0\.1"; do
            printf 's|%s:%s\\b|127.0.0.1:%s|g\n' "$h" "$p" "$1"
        done
        shift
    done
} >"$subst"

# substitute HOST: the text of a block as it runs on HOST.
substitute() {
    sed -f "$subst" \
        -e "s|/etc/liaison|$root/h/$1/etc/liaison|g" \
        -e "s|/var/lib/liaison|$root/h/$1/var/lib/liaison|g" \
        -e "s|/home/|$root/h/$1/home/|g"
}

# ---- What stands in for root's commands ----------------------------------------

cat >"$root/lib.sh" <<'EOF'
# Sourced by every step.  TUT_ROOT and TUT_HOST are set.
hostdir=$TUT_ROOT/h/$TUT_HOST

useradd() { :; }
chown() { :; }

# sudo -u USER CMD...: runs CMD (as the test's user).
sudo() {
    while [ $# -gt 0 ]; do
        case "$1" in
        -u) shift 2 ;;
        -E | -H) shift ;;
        --preserve-env=*) shift ;;
        *) break ;;
        esac
    done
    "$@"
}

# install without the owner and group.
install() {
    local args=()
    while [ $# -gt 0 ]; do
        case "$1" in
        -o | -g) shift 2 ;;
        -o* | -g*) shift ;;
        *) args+=("$1"); shift ;;
        esac
    done
    command install "${args[@]}"
}

# scp SOURCE... [USER@]HOST:PATH: a copy into that host's tree, where HOST is
# broker.NATION.example (host NATION) or keeper.NATION.example (NATION-keeper).
scp() {
    local dest=${!#} n=$(($# - 1)) remote path
    remote=${dest%%:*}
    remote=${remote#*@}
    path=${dest#*:}
    case "$remote" in
    broker.*.example) remote=${remote#broker.}; remote=${remote%.example} ;;
    keeper.*.example) remote=${remote#keeper.}; remote=${remote%.example}-keeper ;;
    *) echo "scp: unknown host $remote" >&2; return 1 ;;
    esac
    path=$TUT_ROOT/h/$remote/${path#"$hostdir"/}
    command cp "${@:1:$n}" "$path"
}

unit_key() { echo "$TUT_HOST-$1"; }
unit_log() { echo "$TUT_ROOT/logs/$(unit_key "$1").log"; }
# The PID of a unit's process, if that process is still the one started (its
# command line names this test's directory).
unit_pid() {
    local pid
    pid=$(cat "$TUT_ROOT/pids/$(unit_key "$1")" 2>/dev/null) || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -F "$TUT_ROOT/" || return 1
    echo "$pid"
}
unit_alive() { local p; p=$(unit_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

unit_start() {
    local unit=$1 name=${1#*@} log cmd
    log=$(unit_log "$unit")
    unit_alive "$unit" && return 0
    case "$unit" in
    liaison-broker@*)
        # The unit's ExecStartPre.
        liaison-broker --config "$hostdir/etc/liaison/$name.broker.yaml" --check >>"$log" 2>&1 ||
            { echo "systemctl: $unit: --check failed:" >&2; tail -n 5 "$log" >&2; return 1; }
        cmd=(liaison-broker --config "$hostdir/etc/liaison/$name.broker.yaml") ;;
    liaison-agent@*)
        # StateDirectory=: the unit's own directory, mode 0700.
        mkdir -p "$hostdir/var/lib/liaison-agent/$name"
        chmod 0700 "$hostdir/var/lib/liaison-agent/$name"
        cmd=(liaison agent --config "$hostdir/etc/liaison/agents/$name.yaml") ;;
    *) echo "systemctl: unknown unit $unit" >&2; return 1 ;;
    esac
    local before
    before=$(grep -c 'id=B-READY' "$log" 2>/dev/null || true)
    "${cmd[@]}" </dev/null >>"$log" 2>&1 &
    echo $! >"$TUT_ROOT/pids/$(unit_key "$unit")"
    local i
    for i in $(seq 1 100); do
        if ! unit_alive "$unit"; then
            echo "systemctl: $unit exited at start:" >&2; tail -n 5 "$log" >&2; return 1
        fi
        case "$unit" in
        liaison-broker@*) [ "$(grep -c 'id=B-READY' "$log" || true)" -gt "${before:-0}" ] && return 0 ;;
        *) [ "$i" -ge 5 ] && return 0 ;;
        esac
        sleep 0.1
    done
    echo "systemctl: $unit did not become ready" >&2
    return 1
}

# stop UNIT...: SIGTERM to each, then wait for all, as systemd stops the units of
# one command together.
units_stop() {
    local unit pid waiting
    for unit in "$@"; do
        pid=$(unit_pid "$unit") && kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 1 300); do
        waiting=0
        for unit in "$@"; do
            pid=$(unit_pid "$unit") || continue
            if kill -0 "$pid" 2>/dev/null; then waiting=1; else rm -f "$TUT_ROOT/pids/$(unit_key "$unit")"; fi
        done
        [ "$waiting" = 0 ] && return 0
        sleep 0.1
    done
    echo "systemctl: $* did not stop within 30 s" >&2
    return 1
}

# reload: SIGHUP, and wait until the broker logged the reload.
unit_reload() {
    local log before pid
    log=$(unit_log "$1")
    pid=$(unit_pid "$1") || { echo "systemctl: $1 is not running" >&2; return 1; }
    before=$(grep -c 'id=B-RELOAD ' "$log" || true)
    kill -HUP "$pid"
    for _ in $(seq 1 100); do
        [ "$(grep -c 'id=B-RELOAD ' "$log" || true)" -gt "$before" ] && return 0
        sleep 0.1
    done
    echo "systemctl: $1 did not log its reload" >&2
    return 1
}

systemctl() {
    local verb=$1 unit
    shift
    case "$verb" in
    enable) [ "${1:-}" = --now ] || { echo "systemctl: enable without --now" >&2; return 1; }
            shift; verb=start ;;
    start | stop | reload | restart) ;;
    *) echo "systemctl: $verb is not stood in for" >&2; return 1 ;;
    esac
    case "$verb" in
    stop) units_stop "$@"; return ;;
    restart) units_stop "$@" || return 1; verb=start ;;
    esac
    for unit in "$@"; do
        "unit_$verb" "$unit" || return 1
    done
}

journalctl() {
    [ "$1" = -u ] || { echo "journalctl: only -u UNIT" >&2; return 1; }
    cat "$(unit_log "$2")"
}
EOF

# ---- Reading the marks ------------------------------------------------------------

# Each step is a directory: kind (run|file), host, path, body, expect, status, line.
awk -v out="$root/steps" '
function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1; exit 1 }
function newstep(kind, host, path) {
    n++; dir = sprintf("%s/%03d", out, n)
    system("mkdir -p " dir)
    print kind > (dir "/kind"); print host > (dir "/host"); print path > (dir "/path")
    print FNR > (dir "/line"); printf "" > (dir "/expect"); printf "" > (dir "/body")
}
# A block is open: copy it until its fence closes.
inblock {
    if ($0 ~ /^```[ \t]*$/) { inblock = 0; close(dir "/body"); afterrun = (kind == "run"); next }
    print > (dir "/body"); next
}
pending != "" {
    if ($0 !~ /^```/) fail("a mark must be followed at once by a fenced block")
    if (pending == "run" && $0 !~ /^```sh[ \t]*$/) fail("a run block must be ```sh")
    kind = pending; pending = ""; inblock = 1; next
}
/^<!-- run: [a-z]+(-keeper)? -->$/ { split($0, w, " "); newstep("run", w[3], ""); pending = "run"; afterrun = 0; next }
/^<!-- file: [a-z]+(-keeper)? [^ ]+ -->$/ { split($0, w, " "); newstep("file", w[3], w[4]); pending = "file"; afterrun = 0; next }
/^<!-- expect: .* -->$/ {
    if (!afterrun) fail("expect: not after a run block")
    s = $0; sub(/^<!-- expect: /, "", s); sub(/ -->$/, "", s); print s > (dir "/expect"); next
}
/^<!-- (save|expect-saved): [a-z0-9-]+ -->$/ {
    if (!afterrun) fail("save and expect-saved: not after a run block")
    split($0, w, " "); print w[3] > (dir "/" (w[2] == "save:" ? "save" : "saved")); next
}
/^<!-- expect-fail: [0-9]+ -->$/ {
    if (!afterrun) fail("expect-fail: not after a run block")
    split($0, w, " "); print w[3] > (dir "/status"); next
}
/^<!-- (run|file|expect|save)/ { fail("a mark this test does not know: " $0) }
/^[ \t]*$/ { next }
{ afterrun = 0 }
END { if (!bad && (inblock || pending != "")) { print FILENAME ": a block is not closed" > "/dev/stderr"; exit 1 } }
' "$doc" || { echo "tutorial: cannot read the marks of $doc" >&2; exit 1; }

steps=$(ls "$root/steps")
[ -n "$steps" ] || { echo "tutorial: $doc has no marked blocks" >&2; exit 1; }

# ---- Running ----------------------------------------------------------------------

export PATH=$root/bin:$PATH TUT_ROOT=$root
unset LIAISON_KEY LIAISON_ROSTER LIAISON_BROKER LIAISON_STATE

show_failure() {
    local step=$1 what=$2
    echo "tutorial: FAILED at $doc:$(cat "$step/line") ($(cat "$step/kind") on $(cat "$step/host")): $what"
    echo "---- the block as written"
    sed 's/^/    /' "$step/body"
    if [ -f "$step/output" ]; then
        echo "---- its output"
        sed 's/^/    /' "$step/output"
    fi
    if [ -s "$step/failed" ]; then
        echo "---- the command that failed"
        sed 's/^/    /' "$step/failed"
    fi
    echo "---- logs of the processes it runs (last lines)"
    for log in "$root"/logs/*.log; do
        [ -f "$log" ] || continue
        echo "  $(basename "$log"):"
        tail -n 8 "$log" | sed 's/^/    /'
    done
}

count=0
deadline=$(($(date +%s) + ${TUTORIAL_DEADLINE:-170}))
for s in $steps; do
    step=$root/steps/$s
    host=$(cat "$step/host")
    hostdir=$root/h/$host
    mkdir -p "$hostdir/etc" "$hostdir/var/lib" "$hostdir/home/officer"
    [ -f "$hostdir/.env" ] || echo "cd '$hostdir'" >"$hostdir/.env"
    count=$((count + 1))
    # A reader does not see the marks: each run block's first line names
    # its host's nation, and a YAML file's its path, and they must agree.
    first=$(head -n 1 "$step/body")
    nation=$(echo "${host%-keeper}" | tr '[:lower:]' '[:upper:]')
    # A keeper's machine (host NATION-keeper) is named "the keeper's machine".
    machine="host "
    [ "$host" = "${host%-keeper}" ] || machine="the keeper's machine "
    case "$(cat "$step/kind"):$first" in
    run:"# on $machine"*"($nation)"*) ;;
    run:*) show_failure "$step" "its first line does not say it runs on the host of $nation"; exit 1 ;;
    file:"# $(cat "$step/path"), on $machine"*"($nation)"*) ;;
    file:"#"*) show_failure "$step" "its first line does not name $(cat "$step/path") and $nation"; exit 1 ;;
    esac
    case $(cat "$step/kind") in
    file)
        path=$(substitute "$host" <"$step/path")
        mkdir -p "$(dirname "$path")"
        substitute "$host" <"$step/body" >"$path"
        chmod 0644 "$path"
        ;;
    run)
        {
            echo "TUT_HOST=$host"
            echo ". '$root/lib.sh'"
            echo ". '$hostdir/.env'"
            # What an operator's shell keeps from block to block: the directory
            # and the LIAISON_* variables exported.
            echo "trap 'rc=\$?; set +e; trap - ERR; { export -p | grep \" LIAISON_\"; echo \"cd \\\"\$PWD\\\"\"; } >\"$hostdir/.env\"; exit \$rc' EXIT"
            echo "trap 'echo \"\$BASH_COMMAND\" >\"$step/failed\"' ERR"
            echo "set -eE -o pipefail"
            substitute "$host" <"$step/body"
        } >"$step/script"
        started=$(date +%s.%N)
        left=$((deadline - $(date +%s)))
        if [ "$left" -le 0 ]; then
            show_failure "$step" "the run took more than ${TUTORIAL_DEADLINE:-170} s before this block"
            exit 1
        fi
        TUT_ROOT=$root timeout "$left" bash "$step/script" >"$step/output" 2>&1
        status=$?
        printf 'tutorial: %s:%s on %s, %.1f s\n' "$doc" "$(cat "$step/line")" "$host" \
            "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
        want=0
        [ -f "$step/status" ] && want=$(cat "$step/status")
        if [ "$status" -ne "$want" ]; then
            [ "$status" -eq 124 ] && [ "$(date +%s)" -ge "$deadline" ] &&
                status="124: stopped, the run reached its ${TUTORIAL_DEADLINE:-170} s"
            show_failure "$step" "exit status $status, expected $want"
            exit 1
        fi
        while IFS= read -r re; do
            [ -n "$re" ] || continue
            if ! grep -E -q -- "$re" "$step/output"; then
                show_failure "$step" "its output does not match /$re/"
                exit 1
            fi
        done <"$step/expect"
        [ -f "$step/saved" ] || : >"$step/saved"
        while IFS= read -r name; do
            saved=$root/saved/$name
            [ -f "$saved" ] || { show_failure "$step" "no block before it saved $name"; exit 1; }
            while IFS= read -r l; do
                if ! grep -F -x -q -- "$l" "$step/output"; then
                    show_failure "$step" "it does not print '$l', as the block saved as $name did"
                    exit 1
                fi
            done <"$saved"
        done <"$step/saved"
        if [ -f "$step/save" ]; then
            mkdir -p "$root/saved"
            cp "$step/output" "$root/saved/$(cat "$step/save")"
        fi
        ;;
    esac
done
echo "tutorial: $count blocks of $doc ran as written"
