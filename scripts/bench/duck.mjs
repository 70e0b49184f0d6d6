// Times one DuckDB query in-process for scripts/bench/run.sh: runs it twice
// and prints the second run's engine time in seconds (the first warms the
// page cache and DuckDB's metadata cache). Usage:
//
//   node duck.mjs NODE_DIR QUERY_FILE [MEMORY_LIMIT]
//
// NODE_DIR holds node_modules/@duckdb/node-api. With MEMORY_LIMIT (such as
// 512MiB) DuckDB runs under SET memory_limit. A query that writes a file
// with COPY ... TO names it in the environment variable DUCK_OUT, which is
// removed before each run. The result (one small row) goes to stderr.
import { createRequire } from 'node:module';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const [nodeDir, queryFile, memoryLimit] = process.argv.slice(2);
if (!nodeDir || !queryFile) {
  console.error('usage: node duck.mjs NODE_DIR QUERY_FILE [MEMORY_LIMIT]');
  process.exit(2);
}
const { DuckDBInstance } = createRequire(join(nodeDir, 'package.json'))('@duckdb/node-api');
const sql = readFileSync(queryFile, 'utf8');
const con = await (await DuckDBInstance.create(':memory:')).connect();
if (memoryLimit) {
  await con.run(`SET memory_limit = '${memoryLimit}'`);
}
let seconds, rows;
for (let i = 0; i < 2; i++) {
  if (process.env.DUCK_OUT) rmSync(process.env.DUCK_OUT, { force: true });
  const start = performance.now();
  const reader = await con.runAndReadAll(sql);
  seconds = (performance.now() - start) / 1000;
  rows = reader.getRowObjectsJson();
}
const version = (await con.runAndReadAll('SELECT version() AS v')).getRowObjectsJson()[0].v;
console.error(`duckdb ${version}: ${JSON.stringify(rows)}`);
console.log(seconds.toFixed(3));
