#!/usr/bin/env bash
# Data-lake scale benchmark (issue 4); what each case is: scripts/bench/README.md.
# Usage: scripts/bench/run.sh > results.md   (progress and logs on stderr)
#
# Sizes and switches, from the environment [default]:
#   MARBLES_BAGS [500000] MARBLES_ROWS [100]    marbles-*: 50M marbles
#   READINGS_BAGS [200000] READINGS_ROWS [100]  readings-*: 20M Gaussian readings
#   LEARN_BAGS [2000] LEARN_ROWS [500]          learn-*: 1M readings, components learned
#   FILES [4]                                   part files per data set
#   REPEAT [5]                                  timed runs a case, each followed by DuckDB's;
#                                               the table gives medians and ranges
#   BIG [0], BIG_BAGS [1000000], BIG_ROWS [100] BIG=1 adds 1e8 marbles, clustered and shuffled
#   DUCKDB [1]                                  0: no DuckDB comparison
#   DUCKDB_NODE_DIR                             folder with node_modules/@duckdb/node-api, or
#                                               where npm installs it (kept); default: a temporary one
#   PROFILE_DIR                                 keep pprof CPU and heap profiles of every run there
#   TMPDIR [/tmp]                               where the data goes (about 2 GB at full size, 4 GB with BIG)
# Not part of CI. Everything it writes under TMPDIR is removed when it exits.
set -euo pipefail

: "${MARBLES_BAGS:=500000}" "${MARBLES_ROWS:=100}"
: "${READINGS_BAGS:=200000}" "${READINGS_ROWS:=100}"
: "${LEARN_BAGS:=2000}" "${LEARN_ROWS:=500}"
: "${FILES:=4}" "${REPEAT:=5}" "${BIG:=0}" "${BIG_BAGS:=1000000}" "${BIG_ROWS:=100}"
: "${DUCKDB:=1}" "${DUCKDB_NODE_DIR:=}" "${PROFILE_DIR:=}"

root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/scripts/bench
work=$(mktemp -d "${TMPDIR:-/tmp}/mixbatch-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '%s\n' "$*" >&2; }

# timed OUT CMD...: runs CMD (its output to stderr) and writes its wall
# time in seconds and peak RSS in KiB ("-" without /usr/bin/time) to OUT.
# mixbatch exits with 130 or 143 when interrupted (rather than dying of the
# signal, so bash would go on): then the script stops too.
timed() {
  local out=$1 status=0
  shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e %M' -o "$out" "$@" >&2 || status=$?
    tail -n 1 "$out" > "$out.last" && mv "$out.last" "$out"
  else
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >&2 || status=$?
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f -\n", b - a }' > "$out"
  fi
  case $status in
    130 | 143) exit "$status" ;;
  esac
  return "$status"
}

# median V...: the median of the numbers V (the mean of the middle two
# for an even count); range V...: "min-max".
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }
mib() { if [ "$1" = - ]; then echo -; else awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; fi; }

log "== build"
(cd "$root" && go build -o "$work/mixbatch" ./cmd/mixbatch && go build -o "$work/floor" ./scripts/bench/floor)
mb=$work/mixbatch
floor=$work/floor
[ -z "$PROFILE_DIR" ] || mkdir -p "$PROFILE_DIR"

# DuckDB through its Node.js bindings, as scripts/duckdb-check.sh does.
duckdir=
duckversion=
if [ "$DUCKDB" = 1 ]; then
  if ! command -v node >/dev/null; then
    log "no node: no DuckDB comparison"
  elif [ -n "$DUCKDB_NODE_DIR" ] && [ -d "$DUCKDB_NODE_DIR/node_modules/@duckdb/node-api" ]; then
    duckdir=$DUCKDB_NODE_DIR
  elif command -v npm >/dev/null; then
    target=${DUCKDB_NODE_DIR:-$work/duckdb}
    mkdir -p "$target"
    log "== npm install @duckdb/node-api into $target"
    if (cd "$target" && npm install --silent --no-audit --no-fund @duckdb/node-api >&2); then
      duckdir=$target
    else
      log "npm install failed: no DuckDB comparison"
    fi
  else
    log "no npm: no DuckDB comparison"
  fi
fi

genrows=()
runrows=()

# gen NAME KIND BAGS ROWS [FLAGS...]: writes $work/data/NAME with mixbatch gen.
gen() {
  local name=$1 kind=$2 bags=$3 rows=$4
  shift 4
  local dir=$work/data/$name n=$((bags * rows))
  log "== gen $name: $kind, $bags bags x $rows rows, $FILES files $*"
  timed "$work/time" "$mb" gen "$kind" --quiet --bags "$bags" --rows-per-bag "$rows" --files "$FILES" --seed 1 "$@" --out "$dir"
  local wall rss
  read -r wall rss < "$work/time"
  sync # the data on disk, so that its write-back does not slow the runs timed next
  genrows+=("| $name | $n | $FILES | $wall | $(rate "$n" "$wall") | $(mib "$rss") | $(du -sm "$dir" | cut -f1) |")
}

# run_case NAME ROWS CONFIG DATA SQL DUCK_MEMORY WORKERS: runs mixbatch on
# data set DATA with scripts/bench/configs/CONFIG, then DuckDB's query
# scripts/bench/sql/SQL (- for none; under DUCK_MEMORY, - for no limit).
# WORKERS is --workers (- for the config's). CONFIG floor:MODE runs the
# floor program (scripts/bench/floor) with -mode MODE on DATA's part files
# instead of mixbatch.
run_case() {
  local name=$1 rows=$2 config=$3 data=$work/data/$4 sql=$5 duckmem=$6 workers=$7
  local out=$work/out/$name cfg=$work/$name.yaml
  local cmd warm
  if [[ $config == floor:* ]]; then
    log "== run $name: the floor, -mode ${config#floor:}, on $4"
    cmd=("$floor" -mode "${config#floor:}" "$data"/part-*.parquet)
    warm=("${cmd[@]}")
  else
    sed -e "s|@IN@|$data|g" -e "s|@OUT@|$out|g" "$bench/configs/$config" > "$cfg"
    warm=("$mb" run --quiet --config "$cfg")
    [ "$workers" = - ] || warm+=(--workers "$workers")
    cmd=("${warm[@]}")
    [ -z "$PROFILE_DIR" ] || cmd+=(--cpuprofile "$PROFILE_DIR/$name.cpu.pprof" --memprofile "$PROFILE_DIR/$name.mem.pprof")
    log "== run $name: $config on $4 (workers: $workers)"
    if ! "$mb" validate --quiet --config "$cfg" >&2; then
      runrows+=("| $name | $rows | rejected by \`mixbatch validate\` | | | | | |")
      return
    fi
  fi
  # A first run warms the page cache, as DuckDB's first of its two runs
  # does. Then REPEAT timed runs, each followed by DuckDB's query, so that
  # both see the machine in the same state: the table gives the medians,
  # and the range of the run-by-run ratios.
  "${warm[@]}" > /dev/null 2>&1 || true
  local walls=() rsss=() dsecs=() ratios=() i
  for ((i = 1; i <= REPEAT; i++)); do
    if ! timed "$work/time" "${cmd[@]}"; then
      runrows+=("| $name | $rows | run failed (see the log) | | | | | |")
      rm -rf "$out"
      return
    fi
    # Profiles of the first timed run only.
    cmd=("${warm[@]}")
    local wall rss dsec=
    read -r wall rss < "$work/time"
    walls+=("$wall")
    rsss+=("$rss")
    if [ -n "$duckdir" ] && [ "$sql" != - ]; then
      local dout=$work/duck-out.parquet memarg=()
      [ "$duckmem" = - ] || memarg=("$duckmem")
      sed -e "s|@IN@|$data|g" -e "s|@OUT@|$out|g" -e "s|@DUCK_OUT@|$dout|g" "$bench/sql/$sql" > "$work/query.sql"
      log "-- duckdb: $sql${memarg[*]:+ under $duckmem} ($i of $REPEAT)"
      if dsec=$(DUCK_OUT=$dout node "$bench/duck.mjs" "$duckdir" "$work/query.sql" "${memarg[@]}" 2> "$work/duck.log"); then
        dsecs+=("$dsec")
        ratios+=("$(awk -v a="$wall" -v b="$dsec" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')")
        duckversion=$(sed -n 's/^duckdb \([^:]*\):.*/\1/p' "$work/duck.log")
      fi
      cat "$work/duck.log" >&2
      rm -f "$dout"
    fi
  done
  rm -rf "$out"
  local mwall peak dcol=- rcol=- rrange=-
  mwall=$(median "${walls[@]}")
  peak=$(printf '%s\n' "${rsss[@]}" | sort -g | tail -n 1)
  if [ ${#dsecs[@]} -gt 0 ]; then
    dcol=$(median "${dsecs[@]}")
    rcol=$(median "${ratios[@]}")
    rrange=$(range "${ratios[@]}")
  elif [ -n "$duckdir" ] && [ "$sql" != - ]; then
    dcol=failed
  fi
  runrows+=("| $name | $rows | $mwall | $(range "${walls[@]}") | $(rate "$rows" "$mwall") | $(mib "$peak") | $dcol | $rcol | $rrange |")
}

m=$((MARBLES_BAGS * MARBLES_ROWS))
r=$((READINGS_BAGS * READINGS_ROWS))
l=$((LEARN_BAGS * LEARN_ROWS))

gen marbles-clustered marbles "$MARBLES_BAGS" "$MARBLES_ROWS"
run_case marbles-clustered "$m" marbles.yaml marbles-clustered marbles.sql - -
rm -rf "$work/data/marbles-clustered"

gen marbles-shuffled marbles "$MARBLES_BAGS" "$MARBLES_ROWS" --shuffle
run_case marbles-shuffled "$m" marbles.yaml marbles-shuffled marbles.sql - -
run_case marbles-shuffled-512MiB "$m" marbles-memlimit.yaml marbles-shuffled marbles.sql 512MiB -
rm -rf "$work/data/marbles-shuffled"

gen readings readings "$READINGS_BAGS" "$READINGS_ROWS"
run_case readings-weights "$r" readings.yaml readings readings.sql - -
run_case readings-em1 "$r" readings-em1.yaml readings readings.sql - -
run_case readings-posteriors "$r" readings-posteriors.yaml readings posteriors.sql - -
# What any Go program pays for the Gaussian case (scripts/bench/floor).
run_case floor-sum "$r" floor:sum readings readings.sql - -
run_case floor-dens "$r" floor:dens readings readings.sql - -
run_case floor-lik "$r" floor:lik readings readings.sql - -
run_case floor-fit "$r" floor:fit readings readings.sql - -
rm -rf "$work/data/readings"

gen readings-learn readings "$LEARN_BAGS" "$LEARN_ROWS"
run_case learn-workers-1 "$l" readings-learn.yaml readings-learn - - 1
run_case learn-workers-2 "$l" readings-learn.yaml readings-learn - - 2
rm -rf "$work/data/readings-learn"

if [ "$BIG" = 1 ]; then
  b=$((BIG_BAGS * BIG_ROWS))
  gen big-clustered marbles "$BIG_BAGS" "$BIG_ROWS"
  run_case big-clustered "$b" marbles.yaml big-clustered marbles.sql - -
  rm -rf "$work/data/big-clustered"
  gen big-shuffled marbles "$BIG_BAGS" "$BIG_ROWS" --shuffle
  run_case big-shuffled "$b" marbles.yaml big-shuffled marbles.sql - -
  rm -rf "$work/data/big-shuffled"
fi

cat <<EOF
## mixbatch data-lake benchmark (issue 4)

$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ { print $2 " GiB" }'); $(go version | cut -d' ' -f3); $("$mb" version)${duckversion:+; DuckDB $duckversion (Node.js bindings)}; $(date -u +%Y-%m-%d)

### Inputs (\`mixbatch gen\`)

| data | rows | files | wall s | rows/s | peak RSS MiB | size MiB |
|---|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${genrows[@]}")

### Runs

| case | rows | wall s | wall s range | rows/s | peak RSS MiB | DuckDB s | mixbatch ÷ DuckDB | ratio range |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${runrows[@]}")

Wall time and peak RSS of the whole \`mixbatch run\` process (/usr/bin/time):
the median and range of $REPEAT timed runs, and the largest RSS.
DuckDB: engine time of the comparison query (scripts/bench/sql/), second of
two runs in one process, after each timed mixbatch run; the median, and the
median and range of the $REPEAT run-by-run ratios; for the posteriors case it reads mixbatch's own
weights and writes the posteriors to Parquet.
EOF
