// Loads the built myelin package (dist/) and gives the benchmark direct handles on both backends.
'use strict';
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');

/**
 * Returns { myelin, backends: { native, js }, errors, setBackend } where each backend is the
 * Backend object of lib/backend/contract.ts, or null (with the reason in errors[name]).
 * The package is required as installed: the package root resolves to dist/index.js.
 */
function loadMyelin() {
  let myelin;
  try {
    myelin = require(ROOT);
  } catch (e) {
    throw new Error(`bench: cannot load myelin from ${ROOT} (build it: npx tsc -p tsconfig.json && node scripts/gen-esm.js): ${e.message}`);
  }
  let select = {};
  try {
    select = require(path.join(ROOT, 'dist', 'backend', 'select.js'));
  } catch {
    // older layout: only what index exports
  }
  const pick = (n) => (typeof myelin[n] === 'function' ? myelin[n] : typeof select[n] === 'function' ? select[n] : null);
  const setBackend = pick('setBackend');
  const getBackend = pick('getBackend');
  const getJsBackend = pick('getJsBackend');
  const getNativeBackend = pick('getNativeBackend');
  const nativeLoadError = pick('nativeLoadError');
  const backends = { native: null, js: null };
  const errors = {};
  if (!setBackend) errors.setBackend = 'setBackend not exported by the build';
  try {
    backends.js = getJsBackend ? getJsBackend() : null;
    if (!backends.js) errors.js = 'getJsBackend not exported by the build';
  } catch (e) {
    errors.js = e.message;
  }
  try {
    backends.native = getNativeBackend ? getNativeBackend() : null;
    if (!backends.native) {
      errors.native = getNativeBackend ? (nativeLoadError && nativeLoadError()) || 'native addon not loaded' : 'getNativeBackend not exported by the build';
    }
  } catch (e) {
    errors.native = e.message;
  }
  // The native backend with every call crossing N-API (the default one runs tiny inputs in TypeScript).
  backends.nativeAllSizes = null;
  if (backends.native) {
    try {
      const nat = require(path.join(ROOT, 'dist', 'backend', 'native.js'));
      backends.nativeAllSizes = typeof nat.loadNative === 'function' ? nat.loadNative({ smallCallsInJs: false }) : null;
    } catch (e) {
      errors.nativeAllSizes = e.message;
    }
  }
  return { myelin, backends, errors, setBackend, getBackend };
}

module.exports = { loadMyelin, ROOT };
