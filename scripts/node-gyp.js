// Where node-gyp and Node's headers are, for scripts/install.js (shipped in the package) and
// scripts/cross-arm64.sh. `node scripts/node-gyp.js` prints the node-gyp script path and the nodedir.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

/** node-gyp's JS entry: npm's copy (npm_config_node_gyp), a local install, or npm's copy beside node; else null. */
function nodeGypScript() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return fromNpm;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    // npm's own copy next to this node (outside an npm run, e.g. `node scripts/install.js`).
    const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules',
      'node-gyp', 'bin', 'node-gyp.js');
    return fs.existsSync(bundled) ? bundled : null;
  }
}

/** How to run node-gyp: [node, script] when the script is found, else the `node-gyp` on PATH. */
function nodeGypCommand() {
  const script = nodeGypScript();
  return script === null ? ['node-gyp'] : [process.execPath, script];
}

/**
 * The Node headers directory to build against: the configured one (npm_config_nodedir), else node's own
 * prefix when it ships the headers (Debian's and NodeSource's node have /usr/include/node), so a build needs
 * no header download; null when neither (node-gyp then downloads them).
 */
function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

module.exports = { nodeGypScript, nodeGypCommand, nodedir };

if (require.main === module) {
  process.stdout.write(`${nodeGypScript() ?? 'node-gyp'}\n${nodedir() ?? ''}\n`);
}
