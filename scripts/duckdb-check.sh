#!/usr/bin/env bash
# Independent check of the quickstart's output with DuckDB: DuckDB reads
# every output table, and computes the textbook closed form
# w1 = clip((mean - p2)/(p1 - p2), 0, 1) from the input marbles itself;
# the largest difference from mixbatch's weights must be below 1e-8.
# Needs Node.js and the npm registry (DuckDB's Node bindings ship the engine);
# not part of CI. Usage, from the repository root: scripts/duckdb-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./cmd/mixbatch run --quiet --config configs/marbles.yaml >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --silent --no-audit --no-fund @duckdb/node-api >/dev/null)
cat > "$work/check.mjs" <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const con = await (await DuckDBInstance.create(':memory:')).connect();
const one = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson()[0];
const v = await one(`SELECT version() AS v`);
const counts = await one(`SELECT
  (SELECT count(*) FROM 'out/marbles/weights/*.parquet') AS weights,
  (SELECT count(*) FROM 'out/marbles/fits/*.parquet' WHERE converged AND status = 'ok' AND error IS NULL) AS fits_ok,
  (SELECT count(*) FROM 'out/marbles/posteriors/*.parquet') AS posteriors,
  (SELECT count(*) FROM 'data/marbles/part-*.parquet') AS rows`);
const diff = await one(`WITH cf AS (
    SELECT bag_id, greatest(0, least(1, (avg(red::int) - 0.3) / (0.8 - 0.3))) AS w
    FROM 'data/marbles/part-*.parquet' GROUP BY bag_id)
  SELECT count(*) AS bags, max(abs(w.weight - cf.w)) AS max_diff
  FROM 'out/marbles/weights/*.parquet' w JOIN cf USING (bag_id) WHERE w.component = 'factory1'`);
const post = await one(`SELECT max(abs(posterior_factory1 + posterior_factory2 - 1)) AS max_sum_err
  FROM 'out/marbles/posteriors/*.parquet'`);
console.log(JSON.stringify({ duckdb: v.v, ...counts, ...diff, ...post }));
if (!(Number(diff.max_diff) < 1e-8) || Number(diff.bags) !== Number(counts.fits_ok) || Number(counts.posteriors) !== Number(counts.rows)) {
  console.error('duckdb-check: FAILED'); process.exit(1);
}
console.log('duckdb-check: ok');
JS
node "$work/check.mjs"
