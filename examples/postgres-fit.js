// Training on rows streamed from PostgreSQL: a query read through a cursor (pg + pg-cursor) becomes a
// data.Dataset, shuffled in a bounded buffer and batched, and fit reads it epoch after epoch without
// ever holding the table in memory. Connection settings come from the usual PG* variables (PGHOST,
// PGPORT, PGUSER, PGDATABASE, PGPASSWORD). --fill N first creates the table `myelin_samples` with N
// generated rows (8 features, 3 classes) when it is empty.
// Usage: node examples/postgres-fit.js [--fill N] [--epochs N]   (npm install pg pg-cursor)
'use strict';
const { Pool } = require('pg');
const Cursor = require('pg-cursor');
const myelin = require('..');
const { nn, data, fit, evaluate } = myelin;

const FEATURES = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7'];
// Every 10th row is held out for validation; ORDER BY id makes each pass read the rows in the same order.
const TRAIN_SQL = `SELECT ${FEATURES.join(', ')}, label FROM myelin_samples WHERE id % 10 <> 0 ORDER BY id`;
const VALIDATION_SQL = `SELECT ${FEATURES.join(', ')}, label FROM myelin_samples WHERE id % 10 = 0 ORDER BY id`;

function parseArgs(argv) {
  const args = { fill: 0, epochs: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], Number(argv[i + 1])];
    if (!Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a non-negative integer, got ${argv[i + 1]}`);
    if (flag === '--fill') args.fill = value;
    else if (flag === '--epochs') args.epochs = value;
    else throw new Error(`unknown option ${flag} (usage: --fill N --epochs N)`);
  }
  return args;
}

/**
 * A dataset of the query's rows: every pass (epoch) checks out a connection, opens a cursor and reads
 * `rowsPerRead` rows at a time, so memory holds one read's rows whatever the table's size. Stopping
 * early (or an error) closes the cursor and returns the connection.
 */
function queryDataset(pool, sql, rowsPerRead = 512) {
  return data.Dataset.fromGenerator(async function* readQuery() {
    const client = await pool.connect();
    const cursor = client.query(new Cursor(sql));
    try {
      for (let rows = await cursor.read(rowsPerRead); rows.length > 0; rows = await cursor.read(rowsPerRead)) {
        for (const r of rows) yield { x: FEATURES.map((c) => r[c]), y: r.label };
      }
    } finally {
      await cursor.close();
      client.release();
    }
  });
}

/** Creates and fills the table when it is empty: seeded features in [-0.5, 0.5), the class a rule of them. */
async function fillTable(pool, n) {
  await pool.query(`CREATE TABLE IF NOT EXISTS myelin_samples (id serial PRIMARY KEY, ${FEATURES.map((c) => `${c} real NOT NULL`).join(', ')}, label int NOT NULL)`);
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM myelin_samples');
  if (rows[0].n > 0) return rows[0].n;
  let s = 12345;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296 - 0.5; };
  for (let start = 0; start < n; start += 2000) {
    const count = Math.min(2000, n - start);
    const cols = FEATURES.map(() => []);
    const labels = [];
    for (let i = 0; i < count; i++) {
      const x = FEATURES.map(() => rand());
      x.forEach((v, j) => cols[j].push(v));
      labels.push(x[0] + x[1] > 0.2 ? 2 : x[2] > 0 ? 1 : 0);
    }
    const params = FEATURES.map((_, j) => `$${j + 1}::real[]`).join(', ');
    await pool.query(`INSERT INTO myelin_samples (${FEATURES.join(', ')}, label) SELECT * FROM unnest(${params}, $9::int[])`, [...cols, labels]);
  }
  return n;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const pool = new Pool({ max: 2 });
  try {
    const rows = args.fill > 0 ? await fillTable(pool, args.fill) : (await pool.query('SELECT count(*)::int AS n FROM myelin_samples')).rows[0].n;
    console.log(`postgres-fit: table myelin_samples has ${rows} rows`);
    const train = queryDataset(pool, TRAIN_SQL).shuffle(2048, { seed: 1 }).batch(64);
    const validation = queryDataset(pool, VALIDATION_SQL);
    const model = new nn.Sequential(new nn.Linear(FEATURES.length, 32, { seed: 1 }), new nn.ReLU(), new nn.Linear(32, 3, { seed: 2 }));
    const history = await fit(model, train, { epochs: args.epochs, lr: 0.01, validationData: validation, verbose: 2 });
    const result = await evaluate(model, validation);
    console.log(`streamed ${history.epoch.length} epochs from PostgreSQL; validation accuracy: ${result.accuracy.toFixed(4)}`);
  } finally {
    await pool.end();
  }
}

main().catch((err) => {
  console.error(`postgres-fit example: ${err.message}`);
  process.exit(1);
});
