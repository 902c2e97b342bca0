#!/usr/bin/env bash
# The comparison harness of issue 7: auditpack collect / build / verify against the tools people
# use, and against the hardware's floor, measured in one run on the same trees. See
# docs/performance.md for what each row means.
#
#   bench/run.sh                  tree A (2.75 GiB), tree B (200,000 tiny files), render project
#   bench/run.sh --quick          only the small tree A (~0.2 GiB); minutes, not an hour
#   bench/run.sh --trees small,render --runs 5
#
# Options:
#   --quick            same as --trees small
#   --trees LIST       comma-separated: small, A, B, render
#   --runs N           measured runs per row (median reported); one warm-up run comes first (3)
#   --no-install       do not apt/pip install missing tools; their rows say "n/a"
#   --clean            delete bench/work when done (results stay in bench/results)
#
# Everything generated goes to bench/work/ (gitignored); results to bench/results/<date>-<tree>.md.
# Nothing outside bench/work is written, except installs of missing tools and cargo's target dir.
set -euo pipefail

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
CLEAN=0

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case $1 in
        --quick) TREES=small ;;
        --trees) TREES=${2:?--trees needs a list}; shift ;;
        --runs) RUNS=${2:?--runs needs a number}; shift ;;
        --no-install) INSTALL=0 ;;
        --clean) CLEAN=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs must be a positive integer" >&2; exit 2; }
IFS=, read -r -a TREE_LIST <<<"$TREES"
for t in "${TREE_LIST[@]}"; do
    case $t in small|A|B|render) ;; *) echo "run.sh: unknown tree '$t'" >&2; exit 2 ;; esac
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

HAVE_HASHDEEP=0 HAVE_RHASH=0 HAVE_ZIP=0 HAVE_BAGIT=0
[[ -x /usr/bin/time ]] || apt_install time || true
[[ -x /usr/bin/time ]] || { echo "run.sh: GNU time (/usr/bin/time) is required: apt-get install time" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 is required" >&2; exit 2; }
command -v openssl >/dev/null || apt_install openssl || true
need hashdeep hashdeep && HAVE_HASHDEEP=1
need rhash rhash && HAVE_RHASH=1
need zip zip && HAVE_ZIP=1
if ! command -v bagit.py >/dev/null 2>&1 && ((INSTALL)); then
    log "installing bagit (pip)"
    python3 -m pip install --quiet bagit >/dev/null 2>&1 || python3 -m pip install --quiet --break-system-packages bagit >/dev/null 2>&1 || true
    hash -r
fi
command -v bagit.py >/dev/null 2>&1 && HAVE_BAGIT=1

# ---------------------------------------------------------------------------------------------
# Build

log "building auditpack and bench/floor (release)"
cargo build --release --quiet --manifest-path "$REPO/Cargo.toml" --bin auditpack
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
    python3 "$GEN" --root "$dir" "$@" >&2
    printf '%s' "$want" >"$stamp"
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

# measure KEY PREP CMD: one warm-up run, then RUNS measured runs of `bash -c CMD`, each after an
# untimed `bash -c PREP`. Sets WALL CPU RSS (medians; RSS in MB) or returns 1 if CMD failed.
measure() {
    local key=$1 prep=$2 cmd=$3 i e u s m walls=() cpus=() rsss=()
    local out=$LOGS/$key.log
    for ((i = 0; i <= RUNS; i++)); do
        [[ -z $prep ]] || bash -c "$prep" >>"$out" 2>&1
        if ! /usr/bin/time -f '%e %U %S %M' -o "$TIMEF" bash -c "$cmd" >"$out" 2>&1; then
            log "  $key FAILED (exit status; see $out)"
            tail -n 5 "$out" >&2 || true
            return 1
        fi
        ((i > 0)) || continue
        read -r e u s m < <(tail -n 1 "$TIMEF")
        walls+=("$e")
        cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
        rsss+=("$(awk -v m="$m" 'BEGIN {print m / 1024}')")
    done
    WALL=$(printf '%s\n' "${walls[@]}" | median)
    CPU=$(printf '%s\n' "${cpus[@]}" | median)
    RSS=$(printf '%s\n' "${rsss[@]}" | median)
}

# Rows of the current tree: label, wall, cpu, rss, counterpart ("" or an auditpack row label),
# separated by SEP (labels hold `|`).
SEP=$'\x1f'
ROWS=()
declare -A WALL_OF

row() { # row LABEL COUNTERPART KEY PREP CMD
    local label=$1 counterpart=$2 key=$3 prep=$4 cmd=$5 t0=$SECONDS
    log "  $label"
    if measure "$key" "$prep" "$cmd"; then
        log "    median $WALL s ($((SECONDS - t0)) s for $((RUNS + 1)) runs)"
        ROWS+=("$label$SEP$WALL$SEP$CPU$SEP$RSS$SEP$counterpart")
        WALL_OF[$label]=$WALL
    else
        ROWS+=("$label${SEP}failed$SEP$SEP$SEP$counterpart")
    fi
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
    read -r files bytes < <(find "$EVIDENCE" -type f -printf '%s\n' | awk '{n++; s += $1} END {print n + 0, s + 0}')
    log "tree $name: $files files, $bytes bytes"
    rm -rf "$SCRATCH" "$LOGS"
    mkdir -p "$SCRATCH" "$LOGS"
    ROWS=()
    WALL_OF=()

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

    log "auditpack"
    row "auditpack collect" "" ap_collect "rm -rf $s/collect" \
        "$ap collect $p --out $s/collect -q"
    # The warm-up run fills the cache: the measured runs are unchanged re-collects.
    row "auditpack collect, unchanged (cache)" "" ap_recollect "" \
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
    # manifest (issue 16: < 1% of the evidence and < 64 KiB). The store grows only once, so the
    # row's PREP starts each run from an empty store, and the growth is measured apart.
    if "$AP" snapshot --help >/dev/null 2>&1; then
        row "auditpack snapshot (first, into an empty folder store)" "" ap_snapshot "rm -rf $s/snaps" \
            "$ap snapshot $p --store $s/snaps -q"
        SNAPSHOT_GROWTH[$name]=$(snapshot_growth "$PROJECT" "$SCRATCH/growth" "$bytes")
        row "auditpack snapshot (second, unchanged evidence)" "" ap_snapshot2 "" \
            "$ap snapshot $p --store $s/growth -q"
        rm -rf "$SCRATCH/snaps" "$SCRATCH/growth"
    fi
    # A stage breakdown, when the binary has --timings (not timed itself).
    if "$AP" build --help 2>/dev/null | grep -q -- '--timings'; then
        rm -rf "$SCRATCH/timings"
        "$AP" build "$PROJECT" --out "$SCRATCH/timings" -q --timings 2>"$LOGS/timings.log" || true
        TIMINGS[$name]=$(grep -v '^$' "$LOGS/timings.log" || true)
        rm -rf "$SCRATCH/timings"
    fi
    rm -rf "$SCRATCH/collect" "$SCRATCH/check" "$SCRATCH/recollect"

    if [[ $name != render ]]; then
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
    rm -rf "$SCRATCH"

    write_table "$name" "$files" "$bytes" "$computed"
}

declare -A PACKAGE_BYTES PACKAGE1_BYTES ZIP_BYTES TIMINGS SNAPSHOT_GROWTH

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

write_table() {
    local name=$1 files=$2 bytes=$3 computed=$4
    local out
    out=$RESULTS/$(date -u +%F)-$name.md
    local floor=${WALL_OF["floor: bare hashing pipeline (hash_floor, xargs -P2)"]:-}
    {
        echo "# auditpack benchmark: tree $name"
        echo
        echo "- date (UTC): $(date -u '+%F %H:%M'); auditpack $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' (modified)')"
        echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "- tree: $files files, $(awk -v b="$bytes" 'BEGIN {printf "%.3f GB (%.2f GiB)", b / 1e9, b / 1073741824}')"
        echo "- method: median of $RUNS runs after one warm-up run (warm page cache); wall, user+sys CPU and peak RSS from GNU time; \`xargs -n 500\` everywhere so both cores stay busy"
        if [[ -n $SHA_RATE && $SHA_RATE -gt 0 ]]; then
            echo "- single-core SHA-256 (\`openssl speed -evp sha256 -bytes 1048576\`): $(awk -v r="$SHA_RATE" 'BEGIN {printf "%.2f GB/s", r / 1e9}')"
        fi
        [[ -n ${PACKAGE_BYTES[$name]:-} ]] && echo "- auditpack package: $(awk -v b="${PACKAGE_BYTES[$name]}" 'BEGIN {printf "%.3f GB", b / 1e9}') (${PACKAGE_BYTES[$name]} bytes, reports included)"
        [[ -n ${PACKAGE1_BYTES[$name]:-} ]] && echo "- auditpack package with \`--compression-level 1\`: $(awk -v b="${PACKAGE1_BYTES[$name]}" 'BEGIN {printf "%.3f GB", b / 1e9}') (${PACKAGE1_BYTES[$name]} bytes)"
        [[ -n ${ZIP_BYTES[$name]:-} ]] && echo "- \`zip -r\` output: $(awk -v b="${ZIP_BYTES[$name]}" 'BEGIN {printf "%.3f GB", b / 1e9}') (${ZIP_BYTES[$name]} bytes)"
        local full=${WALL_OF["auditpack collect"]:-} again=${WALL_OF["auditpack collect, unchanged (cache)"]:-}
        [[ -n $full && -n $again ]] && echo "- unchanged re-collect: $(ratio "$full" "$again") faster than a full collect"
        if [[ -n ${SNAPSHOT_GROWTH[$name]:-} ]]; then
            local sample_bytes
            sample_bytes=$(find "$REPO/evidence-samples/evidence" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
            echo "- second snapshot of unchanged evidence: tree $name ${SNAPSHOT_GROWTH[$name]}; the sample project (evidence-samples) $(snapshot_growth "$REPO/evidence-samples" "$SCRATCH/sample-growth" "$sample_bytes")"
            rm -rf "$SCRATCH/sample-growth"
        fi
        echo
        echo "| tool | tree | wall s (median) | CPU s | peak RSS MB | x floor | vs auditpack |"
        echo "|---|---|---:|---:|---:|---:|---|"
        local r label wall cpu rss counterpart vs
        for r in "${ROWS[@]}"; do
            IFS=$SEP read -r label wall cpu rss counterpart <<<"$r"
            label=${label//|/\\|}
            vs=""
            if [[ -n $counterpart ]]; then
                if [[ -n ${WALL_OF[$counterpart]:-} ]]; then
                    vs="$(ratio "$wall" "${WALL_OF[$counterpart]}") of ${counterpart#auditpack }"
                else
                    vs="(${counterpart#auditpack } n/a)"
                fi
            fi
            if [[ $wall =~ ^[0-9.]+$ ]]; then
                printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$name" "$(fmt "$wall")" \
                    "${cpu:+$(fmt "$cpu")}" "${rss:+$(awk -v x="$rss" 'BEGIN {printf "%.0f", x}')}" \
                    "$(ratio "$wall" "$floor")" "$vs"
            else
                printf '| %s | %s | %s | | | | %s |\n' "$label" "$name" "$wall" "$vs"
            fi
        done
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
