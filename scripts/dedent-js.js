#!/usr/bin/env node
// Step 2b of build-ts.js: removes the indentation of the compiled JavaScript in dist/ (the package's installed
// footprint; the code is readable in lib/ and the declarations keep their doc comments). Every line keeps its
// number, so stack traces still point at the right line. Lines that begin inside a template literal keep their
// whitespace (it is part of the string): the spans of template literals come from TypeScript's own parser.
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

/** [start, end) offsets of every template literal piece (and multi-line string) in a JavaScript source. */
function stringSpans(file, text) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const spans = [];
  const visit = (node) => {
    switch (node.kind) {
      case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
      case ts.SyntaxKind.TemplateHead:
      case ts.SyntaxKind.TemplateMiddle:
      case ts.SyntaxKind.TemplateTail:
      case ts.SyntaxKind.StringLiteral:
        spans.push([node.getStart(sf), node.end]);
        break;
      default:
        break;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (sf.parseDiagnostics && sf.parseDiagnostics.length > 0) {
    throw new Error(`${file}: does not parse as JavaScript (${ts.flattenDiagnosticMessageText(sf.parseDiagnostics[0].messageText, ' ')})`);
  }
  return spans.sort((a, b) => a[0] - b[0]);
}

/** The text with the leading spaces/tabs of every line removed, except lines that start inside a string. */
function dedent(file, text) {
  const spans = stringSpans(file, text);
  let out = '';
  let pos = 0;
  let s = 0;
  while (pos < text.length) {
    const eol = text.indexOf('\n', pos);
    const end = eol === -1 ? text.length : eol + 1;
    while (s < spans.length && spans[s][1] <= pos) s++;
    const inside = s < spans.length && spans[s][0] < pos && pos < spans[s][1];
    let from = pos;
    if (!inside) while (from < end && (text[from] === ' ' || text[from] === '\t')) from++;
    out += text.slice(from, end);
    pos = end;
  }
  return out;
}

function walk(dir, files = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, files);
    else if (entry.name.endsWith('.js')) files.push(p);
  }
  return files;
}

function main(distDir) {
  let before = 0;
  let after = 0;
  for (const file of walk(distDir)) {
    const text = fs.readFileSync(file, 'utf8');
    const out = dedent(file, text);
    before += text.length;
    after += out.length;
    if (out !== text) {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, out);
      fs.renameSync(tmp, file);
    }
  }
  return { before, after };
}

module.exports = { dedent };

if (require.main === module) {
  const dist = path.resolve(process.argv[2] || path.join(__dirname, '..', 'dist'));
  const { before, after } = main(dist);
  console.log(`dedent-js: ${Math.round(before / 1024)} -> ${Math.round(after / 1024)} KiB of JavaScript in ${path.relative(process.cwd(), dist) || dist}`);
}
