// CSV long-line case: one very long line through myelin's line splitter (linear) vs a carry re-scanning splitter (quadratic).
'use strict';
const { measureCase } = require('../lib/cases');

const CHUNK = 64 * 1024;

/** One line of `mb` MB (no newline until the end) as 64 KiB string chunks, like a file stream delivers it. */
function lineChunks(mb) {
  const total = Math.round(mb * 1e6);
  const piece = '0.5,'.repeat(CHUNK / 4);
  const chunks = [];
  for (let n = 0; n < total; n += CHUNK) chunks.push(piece);
  chunks.push('1\n');
  return chunks;
}

async function* fromArray(chunks) {
  for (const c of chunks) yield c;
}

/**
 * The splitter myelin had before (issue 10): `carry + chunk`, then indexOf from the start of the
 * joined text, for every chunk; a line spanning k chunks costs O(k^2) chunk lengths.
 */
async function* rescanningLines(chunks) {
  let carry = '';
  for await (const chunk of chunks) {
    const text = carry + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      yield text.slice(start, nl);
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry.length > 0) yield carry;
}

async function drain(gen) {
  let chars = 0;
  for await (const l of gen) chars += l.length;
  return chars;
}

/** Bytes of every line (newlines excluded) through myelin's LineSplitter, one line per block. */
async function drainSplitter(LineSplitter, chunks) {
  const splitter = new LineSplitter(fromArray(chunks), 64 * 1024 * 1024, 'bench');
  let bytes = 0;
  for (let b = await splitter.next(1); b !== null; b = await splitter.next(1)) bytes += b.length - 1;
  return bytes;
}

async function runCsv(ctx) {
  const { LineSplitter } = require('../../dist/data/csv');
  const records = [];
  const sizes = ctx.opts.quick ? [4, 16] : [4, 16, 40];
  for (const mb of sizes) {
    const chunks = lineChunks(mb);
    const bufferChunks = chunks.map((c) => Buffer.from(c, 'latin1'));
    const expected = chunks.reduce((s, c) => s + c.length, 0) - 1;
    const check = (n) => {
      if (n !== expected) throw new Error(`csv bench: split ${n} characters, expected ${expected}`);
    };
    const cands = [
      {
        name: 'js', async: true,
        fn: async () => check(await drainSplitter(LineSplitter, bufferChunks)),
      },
      mb <= 4
        ? { name: 'naive', async: true, fn: async () => check(await drain(rescanningLines(fromArray(chunks)))) }
        : { name: 'naive', skip: `the re-scanning splitter is quadratic: about ${Math.round(1.1 * (mb / 10) ** 2)} s per call at ${mb} MB` },
    ];
    records.push(
      await measureCase(
        ctx,
        {
          id: `csv-line-${mb}mb`,
          group: 'csv',
          label: `CSV: one ${mb} MB line through the line splitter`,
          short: `CSV ${mb} MB line`,
          note: "myelin's LineSplitter (lib/data/csv.ts: each 64 KiB chunk searched once for newlines, the pieces of a line kept, not joined) against the splitter of issue 10's time, which re-scanned the carried text for every chunk. MB/s should not fall as the line grows (linear time).",
          display: { kind: 'rate', unit: 'MB/s', work: expected / 1e6 },
          baseline: 'naive',
          fallbackBaseline: null,
        },
        cands,
      ),
    );
  }
  // Refusing a 40 MB line at the default 32 MiB limit: the time to the error.
  const { readCsv } = require('../../dist/data/csv');
  const { Readable } = require('stream');
  const chunks = lineChunks(40);
  records.push(
    await measureCase(
      ctx,
      {
        id: 'csv-refuse-40mb',
        group: 'csv',
        label: 'CSV: readCsv refuses a 40 MB line (default maxLineLength 32 Mi)',
        short: 'CSV refuse 40 MB line',
        note: 'time from the first chunk to the "line 1 is longer than the maximum line length" error',
        display: { kind: 'time', unit: 'ms', scale: 1e3 },
        baseline: 'js',
      },
      [{
        name: 'js', async: true,
        fn: async () => {
          try {
            await readCsv(Readable.from(chunks, { objectMode: false }));
          } catch (e) {
            if (/longer than the maximum line length/.test(e.message)) return;
            throw e;
          }
          throw new Error('csv bench: the 40 MB line was not refused');
        },
      }],
    ),
  );
  return records;
}

module.exports = { runCsv };
