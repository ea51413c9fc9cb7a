// CSV for tabular training (issue 11): string labels, integer classes, missing values, text columns, the model's columns, and exact number parsing from bytes.
import { describe, it, expect } from 'vitest';
import { Readable } from 'stream';
import { lcg, scratchDir } from './helpers/scratch';
import { readCsv, readCsvBatches, CsvBatch, CsvOptions } from '../lib/data/csv';

const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
const rand = lcg(seed);
const scratch = scratchDir('myelin-csv-tab-');
const write = scratch.write;

async function batches(input: string, options: CsvOptions): Promise<CsvBatch[]> {
  const out: CsvBatch[] = [];
  for await (const b of readCsvBatches(input, options)) out.push(b);
  return out;
}

describe('labels (issue 11)', () => {
  it('string labels are encoded as classes and their names kept (they were "not a number")', async () => {
    const p = write('iris.csv', 'len,width,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n7,8,versicolor\n');
    const t = await readCsv(p, { labelColumn: 'species' });
    expect(t.y).toBeInstanceOf(Int32Array);
    expect(t.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(t.y!)).toEqual([0, 2, 0, 1]);
    expect(t.task).toBe('classification');
    expect(t.taskReason).toMatch(/labels are text: 3 classes \(setosa, versicolor, virginica\)/);
    // A label column mixing numbers and text is all text: '10' is a class name like any other.
    const mixed = await readCsv(write('mixed.csv', 'a,label\n1,10\n2,x\n3,10\n'), { labelColumn: 'label' });
    expect(mixed.classNames).toEqual(['10', 'x']);
    expect(Array.from(mixed.y!)).toEqual([0, 1, 0]);
  });

  it('integer labels come back as an Int32Array of classes; other numbers as a Float32Array of regression targets', async () => {
    const ints = await readCsv(write('ints.csv', 'a,y\n1,0\n2,2\n3,1\n'), { labelColumn: 'y' });
    expect(ints.y).toBeInstanceOf(Int32Array);
    expect(Array.from(ints.y!)).toEqual([0, 2, 1]);
    expect(ints.task).toBe('classification');
    expect(ints.classNames).toBeNull();
    // A diabetes-like target: integers 25..346 are a regression target, not a 347-class classifier.
    const lines = ['a,progression', ...Array.from({ length: 300 }, (_, i) => `${i},${25 + ((i * 37) % 322)}`)];
    const reg = await readCsv(write('reg.csv', lines.join('\n')), { labelColumn: 'progression' });
    expect(reg.y).toBeInstanceOf(Float32Array);
    expect(reg.task).toBe('regression');
    expect(reg.taskReason).toMatch(/labels are integers, \d+ distinct value\(s\) in \[25, 346\]: regression/);
    const floats = await readCsv(write('floats.csv', 'a,y\n1,0.5\n2,1.5\n'), { labelColumn: 'y' });
    expect(floats.y).toBeInstanceOf(Float32Array);
    // Forced tasks.
    expect((await readCsv(write('r2.csv', lines.join('\n')), { labelColumn: 'progression', task: 'classification' })).y).toBeInstanceOf(Int32Array);
    expect((await readCsv(write('i2.csv', 'a,y\n1,0\n2,2\n'), { labelColumn: 'y', task: 'regression' })).y).toBeInstanceOf(Float32Array);
    await expect(readCsv(write('f2.csv', 'a,y\n1,0.5\n'), { labelColumn: 'y', task: 'classification' }))
      .rejects.toThrow(/task 'classification' needs labels that are text or non-negative integers; data row 1 has 0\.5/);
    await expect(readCsv(write('s2.csv', 'a,y\n1,cat\n'), { labelColumn: 'y', task: 'regression' }))
      .rejects.toThrow(/task 'regression' needs numeric labels, but data row 1 has the label 'cat'/);
    await expect(readCsv(write('s3.csv', 'a,y\n1,cat\n'), { labelColumn: 'y', task: 'auto-ish' as never })).rejects.toThrow(/task must be 'auto', 'classification' or 'regression'/);
  });
});

describe('missing values (issue 11)', () => {
  const text = 'a,b,c,label\n1,2,3,x\n4,,6,y\n7,NA,9,x\n10,11,NaN,y\n13,N/A,15,x\n16,17,null,y\n';

  it("are an error by default that names the line, the column and the options", async () => {
    await expect(readCsv(write('m.csv', text), { labelColumn: 'label' }))
      .rejects.toThrow(/m\.csv: line 3, column 2 \('b'\): missing value '' \(pass missing: 'drop' to skip such rows or 'mean' to fill with the column mean; CLI: --missing drop\|mean\)/);
    await expect(batches(write('m2.csv', 'a,b\n1,2\n3,NaN\n'), {})).rejects.toThrow(/line 3, column 2 \('b'\): missing value 'NaN'/);
  });

  it("missing: 'drop' skips the rows that have one; 'mean' fills with the column mean of the other rows", async () => {
    const dropped = await readCsv(write('m.csv', text), { labelColumn: 'label', missing: 'drop' });
    expect(dropped.n).toBe(1);
    expect(dropped.dropped).toBe(5);
    expect(Array.from(dropped.x)).toEqual([1, 2, 3]);
    const filled = await readCsv(write('m.csv', text), { labelColumn: 'label', missing: 'mean' });
    expect(filled.n).toBe(6);
    expect(filled.filled).toBe(5);
    // b: mean of 2, 11, 17 = 10; c: mean of 3, 6, 9, 15 = 8.25.
    expect(Array.from(filled.fill!)).toEqual([8.5, 10, 8.25]);
    expect(Array.from(filled.x)).toEqual([1, 2, 3, 4, 10, 6, 7, 10, 9, 10, 11, 8.25, 13, 10, 15, 16, 17, 8.25]);
    expect(filled.classNames).toEqual(['x', 'y']);
    // readCsvBatches: 'keep' leaves NaN (a fitted Preprocessor fills it); 'mean' needs the whole file.
    const kept = await batches(write('k.csv', 'a,b\n1,2\n3,NA\n'), { missing: 'keep' });
    expect(Array.from(kept[0].x)).toEqual([1, 2, 3, NaN]);
    expect(kept[0].missingCells).toBe(1);
    await expect(batches(write('k.csv', 'a,b\n1,2\n'), { missing: 'mean' as never })).rejects.toThrow(/'mean' needs the whole file: use readCsv/);
  });

  it('a missing label is an error unless rows are dropped; an all-missing column cannot be filled', async () => {
    const p = write('ml.csv', 'a,label\n1,x\n2,\n3,y\n');
    await expect(readCsv(p, { labelColumn: 'label' })).rejects.toThrow(/line 3, column 2 \('label'\): missing label ''/);
    await expect(readCsv(p, { labelColumn: 'label', missing: 'mean' })).rejects.toThrow(/missing label ''/);
    expect((await readCsv(p, { labelColumn: 'label', missing: 'drop' })).n).toBe(2);
    await expect(readCsv(write('allna.csv', 'a,b\n1,NA\n2,NA\n'), { missing: 'mean' })).rejects.toThrow(/column 'b' has no values at all/);
    await expect(readCsv(write('alldrop.csv', 'a,b\n1,NA\n2,NA\n'), { missing: 'drop' })).rejects.toThrow(/no data rows \(all 2 rows had missing values and were dropped\)/);
  });
});

describe('text feature columns (issue 11)', () => {
  const text = 'size,color,price\n1,red,10\n2,blue,20\n3,red,30\n4,green,40\n';

  it('are an error naming the column and the oneHot option', async () => {
    await expect(readCsv(write('t.csv', text), { labelColumn: 'price' }))
      .rejects.toThrow(/t\.csv: line 2, column 2 \('color'\): 'red' is not a number \(a text column can be read as one-hot columns: pass oneHot: true or oneHot: \[<column>\]; CLI: --one-hot\)/);
  });

  it('oneHot: true or a list of columns expands them in place, one column per category (sorted)', async () => {
    for (const oneHot of [true, ['color'], [1]] as const) {
      const t = await readCsv(write('t.csv', text), { labelColumn: 'price', oneHot: oneHot as CsvOptions['oneHot'] });
      expect(t.featureNames, JSON.stringify(oneHot)).toEqual(['size', 'color=blue', 'color=green', 'color=red']);
      expect(Array.from(t.x)).toEqual([1, 0, 0, 1, 2, 1, 0, 0, 3, 0, 0, 1, 4, 0, 1, 0]);
      expect(t.schema).toEqual({ columns: ['size', 'color'], columnCount: 2, labelName: 'price', categories: { color: ['blue', 'green', 'red'] } });
    }
    // Missing text cells get no category (all zeros) with missing: 'mean'.
    const m = await readCsv(write('tm.csv', 'size,color\n1,red\n2,NA\n3,blue\n'), { oneHot: true, missing: 'mean' });
    expect(Array.from(m.x)).toEqual([1, 0, 1, 2, 0, 0, 3, 1, 0]);
  });

  it('oneHot: true decides from the first block: text first seen later is an error saying which column to list', async () => {
    const lines = ['a,b', ...Array.from({ length: 30 }, (_, i) => `${i},${i}`), '31,oops'];
    await expect(readCsv(write('late.csv', lines.join('\n')), { oneHot: true, batchSize: 10 }))
      .rejects.toThrow(/line 32, column 2 \('b'\): 'oops' is not a number; column 'b' had only numbers in the first 10 rows, so oneHot: true did not make it a one-hot column: pass oneHot: \['b'\]/);
    const t = await readCsv(write('late.csv', lines.join('\n')), { oneHot: ['b'], batchSize: 10 });
    expect(t.features).toBe(32);
  });

  it('readCsvBatches encodes with known categories (a fitted model\'s); an unknown value is an error', async () => {
    const b = await batches(write('t.csv', text), { labelColumn: 'price', categories: { color: ['blue', 'green', 'red'] } });
    expect(b[0].featureNames).toEqual(['size', 'color=blue', 'color=green', 'color=red']);
    expect(Array.from(b[0].x.subarray(0, 8))).toEqual([1, 0, 0, 1, 2, 1, 0, 0]);
    await expect(batches(write('t.csv', text), { labelColumn: 'price', categories: { color: ['blue', 'red'] } }))
      .rejects.toThrow(/line 5, column 2 \('color'\): 'green' is not one of the categories this column had in training \(blue, red\)/);
    await expect(batches(write('t.csv', text), { labelColumn: 'price', oneHot: true }))
      .rejects.toThrow(/readCsvBatches: oneHot needs the categories of the whole file: use readCsv/);
  });
});

describe("a model's columns (issue 11: predict checks the CSV's column names)", () => {
  it('expectColumns refuses missing, unexpected or reordered columns and skips ignoreColumns', async () => {
    const want = ['a', 'b', 'c'];
    const ok = await readCsv(write('ok.csv', 'a,b,c\n1,2,3\n'), { expectColumns: want });
    expect(ok.featureNames).toEqual(want);
    await expect(readCsv(write('x1.csv', 'a,b,d\n1,2,3\n'), { expectColumns: want }))
      .rejects.toThrow(/the header's columns do not match the model's: missing 'c'; unexpected 'd' \(expected: a, b, c\)/);
    await expect(readCsv(write('x2.csv', 'a,c,b\n1,2,3\n'), { expectColumns: want }))
      .rejects.toThrow(/column 2 is 'c' where the model expects 'b' \(same names, another order\)/);
    await expect(readCsv(write('x3.csv', 'a,b\n1,2\n'), { expectColumns: want })).rejects.toThrow(/missing 'c'/);
    // The training label column in a test file is skipped by name.
    const withLabel = await readCsv(write('x4.csv', 'a,b,label,c\n1,2,9,3\n'), { expectColumns: want, ignoreColumns: ['label'] });
    expect(Array.from(withLabel.x)).toEqual([1, 2, 3]);
    // Without a header only the count can be checked.
    await expect(readCsv(write('x5.csv', '1,2\n'), { expectColumns: want })).rejects.toThrow(/rows have 2 feature columns, the model was trained on 3/);
  });

  it('rejects unknown option keys, naming the closest', async () => {
    await expect(readCsv(write('o.csv', 'a\n1\n'), { lableColumn: 'a' } as never)).rejects.toThrow(/unknown option 'lableColumn' \(did you mean 'labelColumn'\? accepted: delimiter, header/);
  });
});

describe(`numbers parsed from bytes are exactly Math.fround(Number(cell)) (seed ${seed})`, () => {
  it('for random decimals, long mantissas, exponents, float32 midpoints and odd forms', async () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const cells: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const kind = i % 8;
      if (kind === 0) cells.push(String(Math.floor(rand() * 1e6) - 5e5));
      else if (kind === 1) cells.push(((rand() - 0.5) * 10 ** Math.floor(rand() * 12 - 6)).toPrecision(1 + Math.floor(rand() * 17)));
      else if (kind === 2) cells.push(String((rand() - 0.5) * 1e3)); // 16-17 significant digits, like pandas writes
      else if (kind === 3) {
        // A float32 rounding midpoint (or a hair off it), written with 17-20 digits: the hard case.
        u32[0] = (Math.floor(rand() * 200) + 20) << 23 | Math.floor(rand() * (1 << 23));
        const f = f32[0];
        u32[0] += 1;
        const mid = (f + f32[0]) / 2;
        const digits = 17 + Math.floor(rand() * 4);
        const nudge = [0, 1e-16, -1e-16][Math.floor(rand() * 3)] * mid;
        cells.push((mid + nudge).toPrecision(Math.min(digits, 21)));
      } else if (kind === 4) cells.push(`${(rand() * 9 + 1).toFixed(3)}e${Math.floor(rand() * 76) - 38}`);
      else if (kind === 5) cells.push(['+5', '.5', '5.', '-0', '0.000', '1E+05', '1e-45', '0x1A', ' 7 ', '-.25', '00012', '3.4028234e38'][i % 12]);
      else if (kind === 6) cells.push(`${Math.floor(rand() * 1e9)}.${String(Math.floor(rand() * 1e9)).padStart(9, '0')}`); // 18 digits
      else cells.push(`${rand() < 0.5 ? '-' : ''}${Math.floor(rand() * 1e4)}e-${Math.floor(rand() * 30)}`);
    }
    const cols = 8;
    const lines: string[] = [];
    for (let r = 0; r < cells.length / cols; r++) lines.push(cells.slice(r * cols, (r + 1) * cols).join(','));
    const t = await readCsv(write('nums.csv', lines.join('\n') + '\n'), { header: false });
    for (let i = 0; i < cells.length; i++) {
      const want = Math.fround(Number(cells[i].trim()));
      if (!Object.is(t.x[i], want)) throw new Error(`seed ${seed}: cell '${cells[i]}' read as ${t.x[i]}, Math.fround(Number()) gives ${want}`);
    }
  });

  it('quoted cells, CRLF, a byte order mark and blank lines', async () => {
    const t = await readCsv(write('q.csv', '\ufeffa,"b ""x"""\r\n\r\n"1.5",2\r\n3,"4"\r\n'), { labelColumn: 'b "x"' });
    expect(t.featureNames).toEqual(['a']);
    expect(Array.from(t.x)).toEqual([1.5, 3]);
    expect(Array.from(t.y!)).toEqual([2, 4]);
    const s = await readCsv(Readable.from([Buffer.from('a,b\n1,'), Buffer.from('2\n3,4')]));
    expect(Array.from(s.x)).toEqual([1, 2, 3, 4]);
  });
});
