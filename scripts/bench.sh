#!/usr/bin/env bash
# Benchmarks for BENCHMARKS.md. Usage: scripts/bench.sh [ROWS_PER_BAG] [BAGS]
# Runs the Go benchmarks of em/ and pipeline/, then an end-to-end CLI run on
# `mixbatch gen` data (default 50,000 bags x 100 marbles = 5M rows) with
# peak RSS from /usr/bin/time when it is installed. Writes nothing in the repo.
# The data-lake scale benchmark (issue 4: 50M-1e8 rows, shuffled input,
# memory budget, DuckDB comparison) is scripts/bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100}
bags=${2:-50000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== machine"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version)"

echo "== go test -bench (em kernel)"
go test -run XXX -bench . -benchtime 1s ./em/

echo "== go test -bench (pipeline, end to end)"
go test -run XXX -bench . -benchtime 5x ./pipeline/

echo "== CLI: gen ${bags} bags x ${rows} marbles, then run"
go build -o "$work/mixbatch" ./cmd/mixbatch
"$work/mixbatch" gen marbles --bags "$bags" --rows-per-bag "$rows" --seed 1 --out "$work/in" >/dev/null
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f "peak RSS %M KiB, %e s wall, %U s user")
fi
for posteriors in false true; do
  cat > "$work/run.yaml" <<YAML
input: {paths: ["$work/in"], bag: bag_id, value: red, keep: [marble_id]}
model: {family: bernoulli, components: [{name: factory1, p: 0.8}, {name: factory2, p: 0.3}]}
output: {dir: "$work/out", overwrite: true, posteriors: $posteriors}
YAML
  echo "-- posteriors: $posteriors"
  "${timer[@]}" "$work/mixbatch" run --quiet --config "$work/run.yaml"
done
