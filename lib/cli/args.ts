// Option-value parsers for the myelin CLI: each throws a usage error saying what was expected.
import { Command, InvalidArgumentError } from 'commander';
import { CsvOptions, LabelColumn, DEFAULT_MAX_COLUMNS, DEFAULT_MAX_LINE_LENGTH } from '../data/csv';

/** A bad command line (exit code 2), as opposed to a runtime failure (exit code 1). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function bad(option: string, expected: string, got: string): never {
  throw new InvalidArgumentError(`${option} must be ${expected}, got '${got}'`);
}

/** Parser for a comma-separated list of positive integers (hidden layer sizes). */
export function layersParser(option: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    if (value.trim() === '' || !parts.every((p) => /^[0-9]+$/.test(p) && Number(p) > 0)) {
      bad(option, 'a comma-separated list of positive integers', value);
    }
    return parts.map(Number);
  };
}

/** Parser for a positive integer option. */
export function positiveIntParser(option: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value.trim()) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
      bad(option, 'a positive integer', value);
    }
    return Number(value);
  };
}

/** Parser for a non-negative integer option (seeds). */
export function nonNegativeIntParser(option: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) bad(option, 'a non-negative integer', value);
    return Number(value);
  };
}

/** Parser for a positive finite number (learning rates). */
export function positiveNumberParser(option: string) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || v <= 0) bad(option, 'a positive number', value);
    return v;
  };
}

/** Parser for a fraction in [0, 1). */
export function fractionParser(option: string) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !(v >= 0 && v < 1)) bad(option, 'a number in [0, 1)', value);
    return v;
  };
}

/** Parser for one of a fixed set of words. */
export function choiceParser<T extends string>(option: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) bad(option, `one of ${choices.join(', ')}`, value);
    return value as T;
  };
}

/** The CSV-reading options `train` and `predict` share (see addCsvOptions). */
export interface CsvCliOptions {
  labelColumn?: string;
  delimiter?: string;
  header?: boolean;
  maxLineLength?: number;
  maxColumns?: number;
}

/** Adds --header/--no-header, --max-line-length and --max-columns to a command. */
export function addCsvOptions(cmd: Command): Command {
  return cmd
    .option('--header', 'the CSV\'s first line is a header (default: detected: a header has no numeric cell)')
    .option('--no-header', 'the CSV\'s first line is data')
    .option('--max-line-length <chars>', `longest CSV line accepted (default ${DEFAULT_MAX_LINE_LENGTH})`, positiveIntParser('--max-line-length'))
    .option('--max-columns <n>', `most CSV columns accepted (default ${DEFAULT_MAX_COLUMNS})`, positiveIntParser('--max-columns'));
}

/** A --label-column value: 'last', an index (digits, may be negative) or a header name. */
export function labelColumnOf(value: string): LabelColumn {
  return value === 'last' ? 'last' : /^-?[0-9]+$/.test(value) ? Number(value) : value;
}

/** CsvOptions from the shared CSV command-line options. */
export function csvOptionsOf(opts: CsvCliOptions, labelDefault: string | null): CsvOptions {
  const label = opts.labelColumn ?? labelDefault;
  return {
    labelColumn: label === null ? null : labelColumnOf(label),
    ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
    ...(opts.header !== undefined ? { header: opts.header } : {}),
    ...(opts.maxLineLength !== undefined ? { maxLineLength: opts.maxLineLength } : {}),
    ...(opts.maxColumns !== undefined ? { maxColumns: opts.maxColumns } : {}),
  };
}
