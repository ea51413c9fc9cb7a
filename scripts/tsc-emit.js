#!/usr/bin/env node
// Step 2 of build-ts.js: compiles lib/ with tsconfig.json in one TypeScript program (one type check): the
// JavaScript without comments (as `tsc --removeComments --declaration false`), then the declarations with their
// doc comments (as `tsc --emitDeclarationOnly`). The two emits differ only in removeComments, an emit-time
// option the printer reads from the program's options; everything else (diagnostics, resolution) is shared.
//   node scripts/tsc-emit.js [outDir]     (default: tsconfig.json's, dist/)
// Prints the diagnostics like tsc and exits 1 when there are any.
'use strict';
const path = require('path');
const ts = require('typescript');

const root = path.join(__dirname, '..');

function fail(diagnostics) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  console.error(`tsc-emit: ${diagnostics.length} error(s)`);
  process.exit(1);
}

const overrides = { declaration: true, removeComments: false };
if (process.argv[2]) overrides.outDir = path.resolve(process.argv[2]);
const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), overrides, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => fail([d]),
});
if (parsed.errors.length > 0) fail(parsed.errors);
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
const pre = ts.getPreEmitDiagnostics(program);
if (pre.some((d) => d.category === ts.DiagnosticCategory.Error)) fail(pre);

const options = program.getCompilerOptions();
// The JavaScript: no comments, and only the .js files of this emit are written (its declarations would lack them).
options.removeComments = true;
const js = program.emit(undefined, (file, text, bom) => {
  if (!file.endsWith('.d.ts')) ts.sys.writeFile(file, text, bom);
});
// The declarations, with their comments.
options.removeComments = false;
const dts = program.emit(undefined, undefined, undefined, true);
const emitted = [...js.diagnostics, ...dts.diagnostics];
if (js.emitSkipped || dts.emitSkipped || emitted.length > 0) fail(emitted);
