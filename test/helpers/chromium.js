// Headless Chromium (Debian's `chromium` package) for looking at training reports as a person would:
// a screenshot at a given window size, and the DOM after the page has rendered (--dump-dom).
// Used by test/report-chromium.test.ts and scripts/report-screenshots.js.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const INSTALL_HINT = 'install it: apt-get install chromium (Debian 12; the README\'s set-up commands do)';

/** The Chromium executable on PATH (chromium, chromium-browser) or in /usr/bin; throws saying how to install it. */
function findChromium() {
  const dirs = (process.env.PATH || '').split(path.delimiter).concat(['/usr/bin', '/usr/local/bin']);
  for (const name of ['chromium', 'chromium-browser']) {
    for (const dir of dirs) {
      const p = path.join(dir, name);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        // keep looking
      }
    }
  }
  throw new Error(`Chromium not found (looked for chromium and chromium-browser on PATH and in /usr/bin): ${INSTALL_HINT}`);
}

/** Runs headless Chromium on a file with extra flags; returns stdout. A fresh profile directory each time. */
function runChromium(file, flags, timeoutMs = 90_000) {
  const exe = findChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-chromium-'));
  try {
    const r = spawnSync(exe, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', '--no-first-run',
      '--disable-extensions', `--user-data-dir=${profile}`, ...flags, `file://${path.resolve(file)}`,
    ], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw new Error(`chromium failed to run: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`chromium exited with ${r.status}: ${(r.stderr || '').slice(-2000)}`);
    return r.stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Takes a PNG screenshot of `file` at width x height into `png`. */
function screenshot(file, png, width = 1280, height = 800) {
  runChromium(file, [`--screenshot=${path.resolve(png)}`, `--window-size=${width},${height}`]);
  if (!fs.existsSync(png)) throw new Error(`chromium wrote no screenshot to ${png}`);
}

/** The serialised DOM of `file` after load (scripts run, layout done), at width x height. */
function dumpDom(file, width = 1280, height = 800) {
  return runChromium(file, ['--dump-dom', `--window-size=${width},${height}`]);
}

module.exports = { findChromium, screenshot, dumpDom, INSTALL_HINT };
