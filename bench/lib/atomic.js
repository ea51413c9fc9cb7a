// Atomic file writes for benchmark output: temp file in the same directory, fsync, rename.
'use strict';
const fs = require('fs');
const path = require('path');

function writeFileAtomic(target, contents) {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, contents);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
}

module.exports = { writeFileAtomic };
