#!/bin/bash
# The Liaison demo: a three-nation federation (USA, CAN, MEX) on loopback,
# with fresh keys, the example policies and the agents of the partner units,
# playing the seven user stories with a narrative, then starting a web
# console for five agencies (`liaison console`).  It installs what is
# missing (Debian 12), builds, stops every process it started, and exits 0
# only if every story succeeded.
#
#   deploy/demo.sh [--keep] [--no-build] [--build-dir DIR]
#   deploy/demo.sh --stop DIR
#
#   --keep            keep the demo directory (keys, logs, stores, bundles) and
#                     leave brokers, agents and consoles running (PIDs in DIR/pids)
#   --no-build        use binaries already built (the test suite runs it so)
#   --build-dir DIR   where the binaries are (default: build/)
#   --stop DIR        stop the processes a demo kept running in DIR
#
# DEMO_DIR names the directory to use (default: a new one under /tmp).
set -eu

# stop_pids FILE: SIGTERM to each PID of the file, then SIGKILL to those
# still running 5 s later.
stop_pids() {
    [ -f "$1" ] || { echo "demo: no $1: nothing to stop" >&2; return 66; }
    list=$(grep -E '^[0-9]+$' "$1" || true)
    for pid in $list; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $list; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$1"
}

root=$(cd "$(dirname "$0")/.." && pwd)
keep=false
build=true
bdir=$root/build
while [ $# -gt 0 ]; do
    case "$1" in
    --keep) keep=true ;;
    --no-build) build=false ;;
    --build-dir) bdir=${2:?--build-dir needs a directory}; shift ;;
    --stop)
        stop_pids "${2:?--stop needs the demo directory}/pids"
        echo "demo: stopped the processes of $2 (the directory stays: rm -rf $2)"
        exit 0 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done

if $build; then
    "$root/scripts/deps.sh"
    cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DLIAISON_WERROR=ON >/dev/null
    cmake --build "$bdir" --target liaison liaison-broker >/dev/null
fi
# The stories run in the demo's own directory: name the binaries absolutely.
case "$bdir" in /*) ;; *) bdir=$(cd "$bdir" && pwd) || exit 69 ;; esac
liaison=$bdir/client/tool/liaison
broker=$bdir/broker/liaison-broker
for bin in "$liaison" "$broker"; do
    [ -x "$bin" ] || { echo "demo: $bin is missing; build first" >&2; exit 69; }
done

demo=${DEMO_DIR:-$(mktemp -d /tmp/liaison-demo-XXXXXX)}
mkdir -p "$demo/logs" "$demo/state" "$demo/agents"
pids=""
failures=0

# ---- Narrative helpers -------------------------------------------------------

bold=$(printf '\033[1m') plain=$(printf '\033[0m') green=$(printf '\033[32m') red=$(printf '\033[31m')
[ -t 1 ] || { bold=""; plain=""; green=""; red=""; }

story() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '%s\n' "-- $*"; }
ok() { printf '   %sOK%s %s\n' "$green" "$plain" "$*"; }
fail() { printf '   %sFAILED%s %s\n' "$red" "$plain" "$*"; failures=$((failures + 1)); }

# check DESCRIPTION PATTERN FILE: the output must contain the pattern.
check() {
    if grep -q -- "$2" "$3"; then ok "$1"; else fail "$1 (expected '$2'; see $3)"; fi
}

lower() { echo "$1" | tr 'A-Z/' 'a-z-'; }
# actor_of AGENCY: the officer who works the tool for that agency in the
# demo, as the agency would name them ("usa.fbi.jdoe"); every message sent
# carries it, and every broker audits it.
actor_of() {
    case "$1" in
    USA/FBI) echo usa.fbi.jdoe ;;
    *) echo "$(echo "$1" | tr 'A-Z/' 'a-z.').duty-officer" ;;
    esac
}
port_of() { case "$1" in USA*) echo 7001 ;; CAN*) echo 7002 ;; MEX*) echo 7003 ;; esac; }

# as AGENCY COMMAND...: runs the liaison tool as that agency, output to $out.
out=$demo/out
as() {
    agency=$1
    shift
    a=$(lower "$agency")
    printf '%s$ liaison %s%s\n' "$bold" "$*" "$plain" | sed "s|$demo/||g"
    # An agency whose agent runs names it, so that the freeze commands record
    # its own designations there and count the acknowledgements it received.
    agent_config=""
    [ -f "$demo/agents/$a.yaml" ] && agent_config=$demo/agents/$a.yaml
    set +e
    LIAISON_KEY=$demo/keys/$a.key LIAISON_ROSTER=$demo/roster \
        LIAISON_BROKER=tcp://127.0.0.1:$(port_of "$agency") LIAISON_STATE=$demo/state/$a \
        LIAISON_ACTOR=$(actor_of "$agency") \
        LIAISON_AGENT_CONFIG=$agent_config "$liaison" "$@" >"$out" 2>&1
    rc=$?
    set -e
    sed 's/^/   /' "$out"
    return 0
}

# officer COMMAND...: runs a port officer's command (it names the agent's
# configuration itself), output to $out; the officer is ANAM's at Manzanillo.
officer() {
    printf '%s$ liaison %s%s\n' "$bold" "$*" "$plain" | sed "s|$demo/||g"
    set +e
    LIAISON_ACTOR=mex.anam.mzo-4411 "$liaison" "$@" >"$out" 2>&1
    rc=$?
    set -e
    sed 's/^/   /' "$out"
    return 0
}

# poll PATTERN AGENCY COMMAND...: runs the command as the agency, quietly,
# once a second for up to 15 s until its output contains the pattern, then
# once more as `as` does, showing the output.
poll() {
    pattern=$1
    shift
    p=$(lower "$1")
    for _ in $(seq 1 15); do
        LIAISON_KEY=$demo/keys/$p.key LIAISON_ROSTER=$demo/roster \
            LIAISON_BROKER=tcp://127.0.0.1:$(port_of "$1") LIAISON_STATE=$demo/state/$p \
            LIAISON_ACTOR=$(actor_of "$1") \
            LIAISON_AGENT_CONFIG=$([ -f "$demo/agents/$p.yaml" ] && echo "$demo/agents/$p.yaml") \
            "$liaison" "${@:2}" >"$out" 2>&1 || true
        grep -q -- "$pattern" "$out" && break
        sleep 1
    done
    as "$@"
}

keep_dir=$keep
running=false
cleanup() {
    if $running; then
        printf '%s\n' $pids >"$demo/pids"
        echo "demo: kept $demo; brokers, agents and consoles still run (PIDs in $demo/pids)"
        echo "demo: stop them with: deploy/demo.sh --stop $demo"
        return
    fi
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $pids; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if $keep_dir; then echo "demo: kept $demo"; else rm -rf "$demo"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "demo: nothing listens on port $1; see $demo/logs" >&2
    return 1
}

# ---- The federation ------------------------------------------------------------

story "Key ceremony: fresh keys for 3 brokers and 11 agencies, and the roster"
LIAISON=$liaison "$root/deploy/key-ceremony.sh" "$demo" | sed 's/^/   /'
# Sign audit tree heads every 5 s rather than every minute, so that the
# evidence bundle of story 3 can prove its records without a long wait.
sed -i 's/^tree_head_interval_s: [0-9]*/tree_head_interval_s: 5 /' "$demo"/*.broker.yaml

for port in 7001 7002 7003 7101 7102 7103 9101 9102 9103 8081 8082 8083 8084 8085; do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        echo "demo: port $port is in use; stop what uses it (an earlier demo?)" >&2
        exit 69
    fi
done

story "Starting the brokers of USA, CAN and MEX (policies differ per partner)"
# A store is created once, explicitly; a broker never makes one on its own.
for n in usa can mex; do
    (cd "$demo" && "$broker" --config "$n.broker.yaml" --init >/dev/null 2>"logs/$n-init.log") ||
        { echo "demo: liaison-broker --init for $n failed; see $demo/logs/$n-init.log" >&2; exit 70; }
done
for n in usa can mex; do
    (cd "$demo" && exec "$broker" --config "$n.broker.yaml" >"logs/$n-broker.out" 2>"logs/$n-broker.log") &
    pids="$pids $!"
done
for port in 7001 7002 7003 7101 7102 7103; do wait_port $port; done
say "brokers up: USA :7001, CAN :7002, MEX :7003 (federation :7101-7103, metrics :9101-9103)"

story "Starting the agents that answer for the partner units"
# USA/TREASURY's agent answers partners' freeze.query from its own
# designations and files their acknowledgements for `freeze status`.
for agency in USA/TREASURY CAN/RCMP CAN/CBSA CAN/FINTRAC MEX/AIC MEX/UIF MEX/ANAM; do
    a=$(lower "$agency")
    cat >"$demo/agents/$a.yaml" <<EOF
key: ../keys/$a.key
roster: ../roster
broker: tcp://127.0.0.1:$(port_of "$agency")
store: ../state/agent-$a
log_level: info
EOF
    "$liaison" agent --config "$demo/agents/$a.yaml" >"$demo/logs/agent-$a.out" 2>"$demo/logs/agent-$a.log" &
    pids="$pids $!"
    say "agent of $agency"
done
sleep 1

# ---- Story 1 ---------------------------------------------------------------------

story "Story 1: an FBI Flying Squad asks CAN and MEX about a fugitive"
cat >"$demo/rcmp-entries.json" <<'EOF'
{"schema": "watchlist.publish/1",
 "entries": [{"ref": "RCMP-WL-2026-0007", "type": "person",
              "names": ["Jonathan DOE"], "born": "1980-02-29", "nationality": "USA",
              "documents": [{"type": "passport", "number": "X1234567", "country": "USA"}],
              "reason": "armed robbery, Toronto 2025; believed to have crossed to the USA"}]}
EOF
say "RCMP's watchlist holds 'Jonathan DOE', born 1980-02-29"
"$liaison" agent add-watchlist --config "$demo/agents/can-rcmp.yaml" --file "$demo/rcmp-entries.json" >/dev/null
say "the FBI asks every unit of CAN and MEX, with a stated purpose, and waits 20 s at most"
as USA/FBI watchlist query --to 'CAN/*' --to 'MEX/*' --name 'Jon Doe' --born 1980-02-29 \
    --passport X1234567 --country USA --purpose 'fugitive investigation FBI-2026-0042' --deadline 20
check "CAN answers with a hit despite the different spelling" "CAN/RCMP *HIT" "$out"
check "the hit carries a reference for a follow-up" "RCMP-WL-2026-0007" "$out"
check "MEX answers no-hit" "MEX/AIC *no-hit" "$out"
check "each answer names who sent it: the partner's agent" "by system:liaison-agent" "$out"
[ "$rc" -eq 0 ] && ok "every partner answered within the deadline" || fail "a partner stayed silent (exit $rc)"
say "a query without a stated purpose is refused before it leaves"
as USA/FBI watchlist query --to 'CAN/*' --name 'Jon Doe'
[ "$rc" -eq 64 ] && ok "refused: $(head -n 1 "$out")" || fail "a query without --purpose was not refused (exit $rc)"
say "the follow-up: the FBI asks RCMP for the details of that reference"
as USA/FBI watchlist request --to CAN/RCMP --ref RCMP-WL-2026-0007 --purpose 'fugitive investigation FBI-2026-0042'
check "RCMP's agent sends the details" "armed robbery" "$out"

# ---- Story 2 ---------------------------------------------------------------------

story "Story 2: USA Treasury designates an entity for an asset freeze"
as USA/TREASURY freeze designate --designation TREAS-2026-0007 --name 'Northwind Trading LLC' \
    --alias 'Northwind Trade' --id registration=DE-12345 --legal-basis 'EO 13224'
[ "$rc" -eq 0 ] && ok "designation sent to every unit that accepts freeze.*" || fail "designate exited $rc"
sleep 2
say "CAN's and MEX's financial intelligence units apply the freeze; their operators mark it"
"$liaison" agent implement --config "$demo/agents/can-fintrac.yaml" TREAS-2026-0007 --version 1 >/dev/null
"$liaison" agent implement --config "$demo/agents/mex-uif.yaml" TREAS-2026-0007 --version 1 >/dev/null
sleep 3
as USA/TREASURY freeze status TREAS-2026-0007 --wait 5
check "FINTRAC received and implemented version 1" "CAN/FINTRAC *1 *add *20[0-9-]*T[0-9:]*Z *20[0-9-]*T" "$out"
check "UIF received and implemented version 1" "MEX/UIF *1 *add *20[0-9-]*T[0-9:]*Z *20[0-9-]*T" "$out"
check "every unit implemented it" "version 1: received by 2 of 2 units, implemented by 2 of 2" "$out"
say "an amendment, then a delisting, flow the same way"
as USA/TREASURY freeze amend TREAS-2026-0007 --alias 'Northwind Trade' --alias 'NW Trading'
sleep 2
"$liaison" agent implement --config "$demo/agents/can-fintrac.yaml" TREAS-2026-0007 --version 2 >/dev/null
"$liaison" agent implement --config "$demo/agents/mex-uif.yaml" TREAS-2026-0007 --version 2 >/dev/null
as USA/TREASURY freeze delist TREAS-2026-0007 --note 'court order 2026-11-30'
sleep 3
as USA/TREASURY freeze status TREAS-2026-0007 --wait 5
check "the amendment was implemented by both units" "CAN/FINTRAC *2 *amend *20.*T.*Z *20" "$out"
check "the delisting reached both units" "version 3: received by 2 of 2 units" "$out"

# ---- Story 3 ---------------------------------------------------------------------

story "Story 3: MEX's central authority asks USA DOJ for evidence under the USA-MEX treaty"
as MEX/FGR mlat submit --to USA/DOJ --case MEX-FGR-2026-0099 --treaty USA-MEX-MLAT-1987 \
    --offence DRUG-TRAFFICKING --summary 'cartel proceeds laundered through US accounts' \
    --assistance 'bank records of account 4410-2231'
[ "$rc" -eq 0 ] && ok "request accepted by the MEX broker and forwarded" || fail "mlat submit exited $rc"
say "USA DOJ works the case: received, accepted, executing"
for s in received accepted executing; do
    as USA/DOJ mlat respond MEX-FGR-2026-0099 --status $s --note "DOJ OIA: $s"
    [ "$rc" -eq 0 ] || fail "respond $s exited $rc"
done
say "DOJ sends the evidence: a 21 MiB statement export and a summary, with chain of custody"
head -c 22020096 /dev/urandom >"$demo/statements.bin"
printf 'Account 4410-2231: 412 transfers, 2024-2026.\n' >"$demo/summary.txt"
as USA/DOJ mlat evidence MEX-FGR-2026-0099 --file "$demo/statements.bin" --file "$demo/summary.txt" \
    --custody collected --custody verified
[ "$rc" -eq 0 ] && ok "evidence sent in chunks, each hashed, with signed custody entries" || fail "mlat evidence exited $rc"
as USA/DOJ mlat respond MEX-FGR-2026-0099 --status executed --note 'all records produced'
sleep 3
as MEX/FGR mlat status MEX-FGR-2026-0099 --wait 5
check "the status moved through received" "USA/DOJ  received" "$out"
check "... accepted" "USA/DOJ  accepted" "$out"
check "... executing" "USA/DOJ  executing" "$out"
check "... executed" "USA/DOJ  executed" "$out"
check "the 21 MiB file arrived complete" "statements.bin .*(complete)" "$out"
say "FGR exports the case as an evidence bundle and anyone can check it offline"
say "(the MEX broker signs a tree head every 5 s; the export waits for one that covers the evidence)"
for _ in 1 2 3 4 5 6; do
    as MEX/FGR mlat export MEX-FGR-2026-0099 --out "$demo/bundle" --audit-data "$demo/data/mex"
    [ "$rc" -eq 75 ] || break
    sleep 3
done
[ "$rc" -eq 0 ] && ok "bundle written" || fail "mlat export exited $rc"
as MEX/FGR mlat verify-bundle "$demo/bundle"
[ "$rc" -eq 0 ] && ok "signatures, hashes, custody and audit inclusion proofs verify" || fail "verify-bundle exited $rc"
if [ -d "$demo/bundle" ]; then
    cp -r "$demo/bundle" "$demo/bundle-tampered"
    # One byte becomes another value (the file is random: writing a fixed
    # value would, one time in 256, change nothing).
    byte=$(od -An -tu1 -j 1000000 -N 1 "$demo/bundle-tampered/files/statements.bin" | tr -d ' ')
    printf "\\$(printf '%03o' $(( (byte + 1) % 256 )))" |
        dd of="$demo/bundle-tampered/files/statements.bin" bs=1 seek=1000000 conv=notrunc 2>/dev/null
    cmp -s "$demo/bundle/files/statements.bin" "$demo/bundle-tampered/files/statements.bin" &&
        fail "the copy was not changed"
    say "one byte changed in a copy of the bundle"
    as MEX/FGR mlat verify-bundle "$demo/bundle-tampered"
    [ "$rc" -eq 1 ] && ok "the changed byte is caught" || fail "a tampered bundle passed (exit $rc)"
fi
say "a request for a tax offence, which the USA-MEX treaty does not cover"
as MEX/FGR mlat submit --to USA/DOJ --case MEX-FGR-2026-0101 --treaty USA-MEX-MLAT-1987 \
    --offence TAX-EVASION --summary 'undeclared income'
[ "$rc" -eq 2 ] && ok "denied" || fail "the tax request was not denied (exit $rc)"
check "with the rule that denied it" "builtin:mlat-treaty" "$out"
say "a request DOJ never decides on: how it stands 40 days later"
as MEX/FGR mlat submit --to USA/DOJ --case MEX-FGR-2026-0100 --treaty USA-MEX-MLAT-1987 \
    --offence MONEY-LAUNDERING --summary 'shell companies'
later=$(date -u -d '+40 days' +%Y-%m-%d)
as MEX/FGR mlat status MEX-FGR-2026-0100 --now "$later" --wait 2
check "the case is flagged overdue" "OVERDUE" "$out"

# ---- Story 4 ---------------------------------------------------------------------

story "Story 4: CAN's border unit reports a stolen passport"
"$liaison" agent add-traveldoc --config "$demo/agents/can-cbsa.yaml" --number AB123456 \
    --country CAN --type passport --status stolen --ref CBSA-TD-2026-0007 >/dev/null
as CAN/CBSA traveldoc report --to 'USA/*' --to 'MEX/*' --number AB123456 --country CAN \
    --type passport --status stolen --ref CBSA-TD-2026-0007
[ "$rc" -eq 0 ] && ok "report shared with the partners" || fail "traveldoc report exited $rc"
say "days later, a USA border officer checks that passport at the line"
as USA/CBP traveldoc check --to 'CAN/*' --to 'MEX/*' --number 'ab 123 456' --country CAN \
    --purpose 'secondary inspection, Blaine WA' --deadline 20
check "CAN answers hit with the report's reference" "CBSA-TD-2026-0007" "$out"
check "... as stolen" "status=stolen" "$out"
say "and a number never reported"
as USA/CBP traveldoc check --to 'CAN/*' --to 'MEX/*' --number ZZ9999999 \
    --purpose 'secondary inspection, Blaine WA' --deadline 20
if grep -q "HIT" "$out"; then fail "a never-reported number got a hit"; else ok "no-hit from every partner"; fi
check "MEX answered too" "MEX/AIC" "$out"

# ---- Story 5 ---------------------------------------------------------------------

story "Story 5: CBP targets a container loading in a Mexican port"
# The vessel sails in 10 minutes; CBP wants the scan 5 minutes before.
departure=$(date -u -d '+10 minutes' +%Y-%m-%dT%H:%M:%SZ)
deadline=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)
cat >"$demo/shipment.json" <<EOF
{"container": "CSQU3054383", "seals": ["MX0048812"],
 "bill_of_lading": "MEDUMX123456",
 "vessel": {"name": "MSC ALINA", "imo": "9461867", "voyage": "0412N"},
 "port_of_loading": "MXZLO", "port_of_discharge": "USLGB",
 "shipper": {"name": "Autopartes del Pacifico SA", "country": "MEX"},
 "consignee": {"name": "Lakeside Distribution LLC", "country": "USA"},
 "goods": "auto parts, HS 8708", "departure": "$departure"}
EOF
note='informant reporting: the consignee is a front for a smuggling network'
say "container CSQU3054383 on the MSC ALINA, Manzanillo (MXZLO) to Long Beach (USLGB), sails at $departure"
say "CBP alerts the partner customs services; the enforcement note goes to CBSA, not to ANAM"
as USA/CBP cargo alert --alert CBP-ALERT-2026-0001 --shipment "$demo/shipment.json" --risk high \
    --indicator 'consignee first import' --indicator 'transshipment via high-risk port' --note "$note"
[ "$rc" -eq 0 ] && ok "alert sent to every service that accepts cargo.*" || fail "cargo alert exited $rc"
say "CBP asks ANAM, the customs service of the port of loading, to scan it before it sails"
as USA/CBP cargo request --request CBP-CSR-2026-0001 --alert CBP-ALERT-2026-0001 --to MEX/ANAM \
    --shipment "$demo/shipment.json" --indicator 'consignee first import' \
    --indicator 'transshipment via high-risk port' --examination scan --deadline "$deadline" --note "$note"
[ "$rc" -eq 0 ] && ok "request sent, deadline $deadline, before the departure" || fail "cargo request exited $rc"
say "the USA broker's audit log: what went to CBSA whole, and what it withheld toward ANAM"
set +e
"$liaison" audit log --data "$demo/data/usa" >"$out" 2>&1
set -e
grep -E "rule=usa-(can|mex)-cargo" "$out" | sed 's/^/   /' || true
check "the alert went to CBSA whole, note included" "released *USA/CBP ([^)]*) -> CAN/CBSA .*kind=cargo\\.[a-z]* rule=usa-can-cargo" "$out"
check "the note was withheld toward ANAM" "withheld *USA/CBP ([^)]*) -> MEX/ANAM .*kind=cargo\\.[a-z]* rule=usa-mex-cargo" "$out"
say "ANAM's agent checks the request and acknowledges it at once"
poll "CBP-CSR-2026-0001.*received" USA/CBP cargo status
check "CBP sees ANAM's acknowledgement" "CBP-CSR-2026-0001.*received" "$out"
say "the port's view at Manzanillo"
officer cargo requests --config "$demo/agents/mex-anam.yaml"
check "ANAM lists CBP's request" "CBP-CSR-2026-0001" "$out"
check "... for CSQU3054383" "CSQU3054383" "$out"
check "... told that USA's rule withheld the note (the broker's note)" \
    "portion 1 (.*ENFORCEMENT.*) withheld by USA policy rule usa-mex-cargo, as the broker states" "$out"
if grep -q "smuggling network" "$out"; then
    fail "ANAM's view shows the enforcement note"
else
    ok "ANAM never received the enforcement note"
fi
say "an ANAM officer scans the container and records the result with the scan image"
# A 1x1 grey PNG, byte by byte (nothing is downloaded).
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001\000\000\000\001\010\000\000\000\000\072\176\233\125\000\000\000\nIDAT\170\332\143\150\000\000\000\202\000\201\332\105\010\073\000\000\000\000IEND\256\102\140\202' \
    >"$demo/scan-0412.png"
png_sha=$(sha256sum "$demo/scan-0412.png" | cut -c1-8)
officer cargo result CBP-CSR-2026-0001 --config "$demo/agents/mex-anam.yaml" --outcome scanned \
    --anomaly --findings 'density anomaly behind the front wall' --seal-after MX0051177 \
    --officer ANAM-MZO-4411 --file "$demo/scan-0412.png"
[ "$rc" -eq 0 ] && ok "result recorded in the port agent's store; the agent sends it" || fail "cargo result exited $rc"
poll "CBP-CSR-2026-0001.*result: scanned" USA/CBP cargo status
check "CBP sees the result" "CBP-CSR-2026-0001.*result: scanned" "$out"
check "... with the anomaly" "CBP-CSR-2026-0001.*ANOMALY" "$out"
as USA/CBP cargo status CBP-CSR-2026-0001
check "the findings" "density anomaly behind the front wall" "$out"
check "the officer" "ANAM-MZO-4411" "$out"
check "the scan image, by its SHA-256" "$png_sha" "$out"
say "CBP recommends that the container not be loaded, then lifts it after the physical examination"
as USA/CBP cargo donotload --recommend --recommendation CBP-DNL-2026-0001 --container CSQU3054383 \
    --bl MEDUMX123456 --request CBP-CSR-2026-0001 --reason 'anomaly found by MEX/ANAM scan' --to MEX/ANAM
[ "$rc" -eq 0 ] && ok "do-not-load recommendation sent" || fail "cargo donotload --recommend exited $rc"
as USA/CBP cargo status
check "the request shows the active recommendation" "CBP-CSR-2026-0001.*DO-NOT-LOAD" "$out"
as USA/CBP cargo donotload --lift --recommendation CBP-DNL-2026-0001 --container CSQU3054383 \
    --request CBP-CSR-2026-0001 --reason 'physical examination: auto parts only' --to MEX/ANAM
[ "$rc" -eq 0 ] && ok "recommendation lifted" || fail "cargo donotload --lift exited $rc"
say "a second request, whose deadline passes in seconds without an answer"
sed -e 's/CSQU3054383/MSCU7182048/' -e 's/MEDUMX123456/MEDUMX123457/' \
    "$demo/shipment.json" >"$demo/shipment-2.json"
soon=$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)
as USA/CBP cargo request --request CBP-CSR-2026-0002 --to MEX/ANAM --shipment "$demo/shipment-2.json" \
    --indicator 'seal number out of sequence' --examination physical --deadline "$soon"
[ "$rc" -eq 0 ] && ok "second request sent, deadline $soon" || fail "second cargo request exited $rc"
sleep 6
as USA/CBP cargo status
check "the unanswered request is flagged overdue" "CBP-CSR-2026-0002.*OVERDUE" "$out"
if grep "CBP-CSR-2026-0001" "$out" | grep -q "OVERDUE"; then
    fail "the answered request is flagged overdue"
else
    ok "the answered request is not overdue"
fi
if grep "CBP-CSR-2026-0001" "$out" | grep -q "DO-NOT-LOAD"; then
    fail "the lifted recommendation still shows"
else
    ok "the lifted recommendation no longer shows"
fi
say "a request whose deadline is after the departure is refused before it leaves"
as USA/CBP cargo request --request CBP-CSR-2026-0003 --to MEX/ANAM --shipment "$demo/shipment.json" \
    --indicator 'consignee first import' --examination scan \
    --deadline "$(date -u -d '+20 minutes' +%Y-%m-%dT%H:%M:%SZ)"
[ "$rc" -eq 65 ] && ok "refused: $(head -n 1 "$out")" || fail "a deadline after departure was not refused (exit $rc)"

# ---- Story 6 ---------------------------------------------------------------------

story "Story 6: USA Treasury imports OFAC's SDN list; CAN's FIU screens its customers"
# A small list in the published form of OFAC's sdn.xml, every name invented.
sdn1=$root/tests/data/freeze/ofac_v1.xml sdn2=$root/tests/data/freeze/ofac_v2.xml
say "the list of 1 November, first as a dry run: what would be sent"
as USA/TREASURY freeze import --format ofac-xml "$sdn1" --dry-run
check "4 entries to add, nothing sent" "dry run: nothing sent" "$out"
as USA/TREASURY freeze import --format ofac-xml "$sdn1"
[ "$rc" -eq 0 ] && ok "4 designations sent to every unit that accepts freeze.*" || fail "import exited $rc"
say "the list of 30 November: one entry added, one amended, one removed"
as USA/TREASURY freeze import --format ofac-xml "$sdn2" --json
tr -d ' \n' <"$out" >"$demo/import.json"
check "the addition" '"added":\["9005"\]' "$demo/import.json"
check "the amendment" '"amended":\["9002"\]' "$demo/import.json"
check "the removal, sent as a delisting" '"delisted":\["9003"\]' "$demo/import.json"
check "only the three changes were sent" '"sent":3,' "$demo/import.json"
as USA/TREASURY freeze import --format ofac-xml "$sdn2"
check "the same list again sends nothing" "nothing to send" "$out"
sleep 2
say "CAN's FIU holds the three changes; its operators export what is in force for the banks"
officer freeze export --config "$demo/agents/can-fintrac.yaml" --format csv
check "the amended entry at version 2" "OFAC-SDN:9002,2," "$out"
check "the added entry" "OFAC-SDN:9005,1," "$out"
if grep -q "OFAC-SDN:9003" "$out"; then fail "the delisted vessel is still in force"; else ok "the delisted vessel is not in force"; fi
cat >"$demo/fintrac-customers.csv" <<'EOF'
id,name,born,nationality,country,type
C-1001,Nortwind Tradng L.L.C.,,,CY,entity
C-1002,Maria Elena Gonzalez,1975-04-02,MEX,MEX,individual
C-1003,Ocean Fiction,,,PA,entity
EOF
say "the FIU screens a file of customers against every designation in force"
officer freeze screen --config "$demo/agents/can-fintrac.yaml" "$demo/fintrac-customers.csv"
[ "$rc" -eq 0 ] && ok "a customer matched (exit 0)" || fail "freeze screen exited $rc"
check "the designated entity, under a variant spelling" "OFAC-SDN:9002" "$out"
if grep -q "OFAC-SDN:9003" "$out"; then fail "the delisted vessel matched"; else ok "the delisted vessel matches nobody"; fi
say "MEX's FIU asks USA Treasury whether a person is designated by the USA"
as MEX/UIF freeze query --to USA/TREASURY --name 'Ivan Petrovski' --born 1960-01-12 \
    --purpose 'customer due diligence UIF-2026-0117' --deadline 20
check "USA Treasury's agent answers hit from its own designations" "OFAC-SDN:9001" "$out"

# ---- Story 7: consent and recall --------------------------------------------------------

story "Story 7: CAN passes on a USA watchlist entry to MEX with USA's consent; USA recalls it"
cat >"$demo/fbi-entry.json" <<'EOF2'
{"entries": [{"ref": "FBI-WL-2026-0101", "type": "person", "names": ["Marco VIDAL"],
  "born": "1975-03-14", "nationality": "MEX", "reason": "wanted: arms trafficking"}]}
EOF2
say "USA/FBI shares an entry with CAN's units only (REL TO CAN); CAN/RCMP's agent files it"
as USA/FBI watchlist publish --to CAN/RCMP --to CAN/CBSA --labels 'LES//REL TO CAN,USA' \
    --file "$demo/fbi-entry.json"
entry_msg=$(grep -o '[0-9a-f]\{32\}' "$out" | head -n 1)
[ -n "$entry_msg" ] && ok "published as $entry_msg" || fail "watchlist publish printed no id"
poll "FBI-WL-2026-0101" CAN/RCMP agent lookup --config "$demo/agents/can-rcmp.yaml" --name 'Marco Vidal'
check "CAN/RCMP's agent holds it" "FBI-WL-2026-0101" "$out"
say "CAN/RCMP passes it on to MEX/AIC: USA's content, which USA never released to MEX"
as CAN/RCMP watchlist publish --to MEX/AIC --labels 'LES//ORIGIN:USA' --file "$demo/fbi-entry.json"
[ "$rc" -eq 2 ] && ok "CAN's broker refused it (exit 2)" || fail "the onward publish exited $rc"
check "the third-party rule, naming the missing consent" "no consent grant from USA" "$out"
say "CAN/RCMP asks USA/FBI for consent; USA/FBI grants it for MEX/AIC, in this kind"
as CAN/RCMP consent request "$entry_msg" --to MEX/AIC --kind watchlist.publish \
    --purpose 'joint investigation RCMP-2026-0311 with AIC'
request_msg=$(grep -o '[0-9a-f]\{32\}' "$out" | head -n 1)
check "the request goes to the originator" "consent requested from USA/FBI" "$out"
poll "$request_msg" USA/FBI consent list
as USA/FBI consent grant "$request_msg" --conditions 'for investigation RCMP-2026-0311 only'
grant_msg=$(grep -o '[0-9a-f]\{32\}' "$out" | head -n 1)
grant_id=$(sed -n 's/.*consent grant \([0-9a-f]\{32\}\).*/\1/p' "$out" | head -n 1)
[ -n "$grant_id" ] && ok "grant $grant_id, signed by USA/FBI" || fail "consent grant printed no grant id"
for _ in $(seq 1 15); do
    "$liaison" agent list --config "$demo/agents/can-rcmp.yaml" --json >"$out" 2>&1 || true
    grep -q "$grant_msg" "$out" && break
    sleep 1
done
check "CAN/RCMP's agent received the grant, and keeps it for the tool" "$grant_msg" "$out"
as CAN/RCMP watchlist publish --to MEX/AIC --labels 'LES//ORIGIN:USA' --file "$demo/fbi-entry.json" \
    --grant "$grant_id"
onward_msg=$(grep -o '[0-9a-f]\{32\}' "$out" | head -n 1)
[ "$rc" -eq 0 ] && ok "released with USA's grant" || fail "the publish with the grant exited $rc"
poll "FBI-WL-2026-0101" MEX/AIC agent lookup --config "$demo/agents/mex-aic.yaml" --name 'Marco Vidal'
check "MEX/AIC's agent holds it, from CAN/RCMP" "FBI-WL-2026-0101" "$out"
"$liaison" audit log --data "$demo/data/mex" --event released | grep -m 1 "consent grant" |
    sed 's/^/   /' || true
say "USA/FBI recalls the entry: the identity was confirmed as another person's"
as USA/FBI recall "$entry_msg" --reason 'identity confirmed as another person'
recall_msg=$(grep -o '[0-9a-f]\{32\}' "$out" | tail -n 1)
poll "CBSA.*deleted" USA/FBI recall status "$entry_msg"
check "CAN/RCMP's agent deleted it and acknowledged" "CAN/RCMP .*deleted" "$out"
check "CAN/CBSA's agent deleted it and acknowledged" "CAN/CBSA .*deleted" "$out"
say "CAN/RCMP recalls its onward copy; MEX/AIC's agent deletes it and acknowledges"
as CAN/RCMP recall "$onward_msg" --reason "recalled by its originator USA/FBI (recall $recall_msg)"
poll "MEX/AIC .*deleted" CAN/RCMP recall status "$onward_msg"
check "CAN/RCMP sees MEX/AIC's acknowledgement" "MEX/AIC .*deleted" "$out"
for agency in CAN/RCMP CAN/CBSA MEX/AIC; do
    as "$agency" agent lookup --config "$demo/agents/$(lower "$agency").yaml" --name 'Marco Vidal'
    [ "$rc" -eq 1 ] && ok "the entry is gone from $agency's agent" ||
        fail "$agency's agent still finds it (exit $rc)"
done
"$liaison" audit log --data "$demo/data/usa" --event recalled | head -n 2 | sed 's/^/   /' || true
say "the officer who asked for consent, and why, in CAN's data-protection report"
"$liaison" audit report --data "$demo/data/can" --actor "$(actor_of CAN/RCMP)" --since 2000-01-01 \
    --until 2100-01-01 >"$out" 2>&1 || true
head -n 12 "$out" | sed 's/^/   /' || true
check "the report names the officer and the purpose" "joint investigation RCMP-2026-0311" "$out"

# ---- The audit trail ----------------------------------------------------------------

story "Every broker's audit log verifies, and partners cross-checked each other's heads"
for n in usa can mex; do
    set +e
    "$liaison" audit verify --data "$demo/data/$n" >"$out" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 0 ] && ok "$(echo "$n" | tr a-z A-Z): $(head -n 1 "$out")" || fail "audit verify of $n exited $rc"
done
"$liaison" audit log --data "$demo/data/usa" --event received | grep -m 1 "purpose=" | sed 's/^/   /' || true

# ---- The web consoles ---------------------------------------------------------------

story "Web consoles for five agencies (liaison console), loopback only"
# console AGENCY PORT [OPTIONS...]: a tokens file of the agency's demo officer
# (mode 0600, under $demo/console/), then the console, as that agency.
console() {
    agency=$1 port=$2
    shift 2
    a=$(lower "$agency")
    tokens=$demo/console/$a.tokens
    (umask 077 && "$liaison" console token --tokens "$tokens" --actor "$(actor_of "$agency")" \
        >"$demo/console/$a.token-out" 2>&1) ||
        { fail "console token for $agency: $(head -n 1 "$demo/console/$a.token-out")"; return 0; }
    grep -oE '[A-Za-z0-9_-]{43}' "$demo/console/$a.token-out" | head -n 1 >"$demo/console/$a.token"
    rm -f "$demo/console/$a.token-out"
    chmod 600 "$tokens" "$demo/console/$a.token"
    agent_config=""
    [ -f "$demo/agents/$a.yaml" ] && agent_config=$demo/agents/$a.yaml
    LIAISON_KEY=$demo/keys/$a.key LIAISON_ROSTER=$demo/roster \
        LIAISON_BROKER=tcp://127.0.0.1:$(port_of "$agency") LIAISON_STATE=$demo/state/$a \
        LIAISON_ACTOR=$(actor_of "$agency") LIAISON_AGENT_CONFIG=$agent_config \
        "$liaison" console --tokens "$tokens" --listen "127.0.0.1:$port" "$@" \
        >"$demo/logs/console-$a.out" 2>"$demo/logs/console-$a.log" &
    pids="$pids $!"
    if wait_port "$port"; then
        ok "$agency: http://127.0.0.1:$port/ (tokens file console/$a.tokens)"
        consoles="$consoles
   $agency  http://127.0.0.1:$port/  token: $demo/console/$a.token"
    else
        fail "the console of $agency does not listen on :$port; see $demo/logs/console-$a.log"
    fi
}
consoles=""
if "$liaison" console --help >/dev/null 2>&1; then
    mkdir -p "$demo/console"
    chmod 700 "$demo/console"
    console USA/FBI 8081
    console USA/TREASURY 8082 --broker-http http://127.0.0.1:9101
    console MEX/FGR 8083 --broker-http http://127.0.0.1:9103 --audit-data "$demo/data/mex"
    console CAN/FINTRAC 8084
    console USA/DOJ 8085
else
    say "this build of liaison has no console command: no console started"
fi

if [ "$failures" -eq 0 ]; then
    story "All seven stories succeeded."
    if [ -n "$consoles" ]; then
        say "the consoles (log in with the token in the file named):$consoles"
    fi
    if $keep; then
        running=true
    fi
    exit 0
fi
story "$failures check(s) failed; logs are in $demo/logs"
keep_dir=true
$keep && running=true
exit 1
