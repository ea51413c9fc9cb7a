// fit's `report` option (lib/train/report.ts writes the report): its types and the check run before training.
import * as fs from 'fs';
import * as path from 'path';
import { describe } from '../validate';
import type { FitData } from './types';

/** fit's `report` option in full (a string is { path }). */
export interface ReportSettings {
  /** The HTML file to write (its directory must exist). */
  path: string;
  /** Heading of the report. Default 'Training report'. */
  title?: string;
  /** What the data is, shown under "Data" (e.g. 'wine.csv'). */
  dataName?: string;
  /** Extra lines shown under "Data" (e.g. how missing values were handled). */
  notes?: string[];
  /**
   * Rows to draw the confusion matrix or the predicted-vs-true scatter from. Default: validationData,
   * else the validationSplit rows, else the training data.
   */
  evaluationData?: FitData;
  /** What evaluationData is (e.g. 'test set'). Default 'evaluationData'. */
  evaluationName?: string;
}

/** fit's `report` option: a file path, or ReportSettings. */
export type ReportOption = string | ReportSettings;

const SETTINGS_KEYS = ['path', 'title', 'dataName', 'notes', 'evaluationData', 'evaluationName'];

/** The report option checked: a non-empty path whose directory exists and which is not a directory itself. */
export function checkReportOption(option: unknown, where = 'fit'): ReportSettings {
  const s: ReportSettings = typeof option === 'string' ? { path: option } : (option as ReportSettings);
  if (s === null || typeof s !== 'object' || Array.isArray(s)) {
    throw new Error(`${where}: report must be a file path ('run.html') or { path, title, ... }, got ${describe(option)}`);
  }
  for (const k of Object.keys(s)) {
    if (!SETTINGS_KEYS.includes(k)) throw new Error(`${where}: report: unknown key '${k}' (accepted: ${SETTINGS_KEYS.join(', ')})`);
  }
  checkOutputFile(where, 'report', s.path);
  if (s.notes !== undefined && (!Array.isArray(s.notes) || s.notes.some((n) => typeof n !== 'string'))) {
    throw new Error(`${where}: report notes must be an array of strings, got ${describe(s.notes)}`);
  }
  return s;
}


/**
 * Checks a file path the caller will write (fit's report, the CLI's --report and --history) before any work:
 * a non-empty string whose directory exists and which is not itself a directory.
 */
export function checkOutputFile(where: string, label: string, file: unknown): string {
  if (typeof file !== 'string' || file.trim() === '') {
    throw new Error(`${where}: ${label} path must be a non-empty string, got ${describe(file)}`);
  }
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`${where}: ${label} '${file}': directory '${dir}' does not exist (create it first)`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new Error(`${where}: ${label} '${file}' is a directory; give a file name such as '${path.join(file, label === 'history' ? 'run.csv' : 'run.html')}'`);
  }
  return file;
}
