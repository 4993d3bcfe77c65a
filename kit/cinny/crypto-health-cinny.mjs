#!/usr/bin/env node
// crypto-health-cinny: integrates crypto-health into a Cinny-family tree (upstream Cinny and its
// forks) by meaning, not by context lines. It parses the tree's sources with the tree's own
// TypeScript compiler API and finds:
//   - the app entry (index.html's module script), where crypto-health starts;
//   - the component rendering <MatrixClientProvider value={…}> (the client root, ClientRoot in
//     Cinny): the recovery prompt is mounted inside the provider with the live client;
//   - the element rendering that component with children (the router): it is renamed to the
//     gated component (the tab guard holds the client root; no subtree is re-indented);
//   - the Developer Tools page (the component reading the `developerTools` setting): the card;
//   - the Vite config (.js or .ts): `optimizeDeps.exclude` for the package;
// and writes the glue into ONE new file beside the app's features. All or nothing: a missing
// anchor changes no file. See docs/INTEGRATION.md of crypto-health.
//
//   npx crypto-health-cinny [tree] [--dry-run] [--check] [--no-install] [--no-format] [--package <spec>]
//
// Exit codes: 0 done (or nothing to do), 1 --check found the tree not integrated,
// 2 an anchor is missing or the tree cannot be read (nothing changed).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PKG = 'crypto-health';
const GUIDE = 'docs/INTEGRATION.md of crypto-health';
const GLUE_DIR = ['src', 'app', 'features', 'crypto-health'];
const GLUE_NAME = 'index.ts';
const MARK = 'written by crypto-health-cinny';

class Missing extends Error {
  constructor(what, where, step) {
    super(`missing anchor: ${what}\n  looked in: ${where}\n  manual step: ${GUIDE}, "${step}"`);
  }
}

// ------------------------------------------------------------------ arguments
function parseArgs(argv) {
  const o = { tree: process.cwd(), dryRun: false, check: false, install: true, format: true, pkg: null, quiet: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--dry-run') o.dryRun = true;
    else if (a === '--check') o.check = true;
    else if (a === '--no-install') o.install = false;
    else if (a === '--no-format') o.format = false;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--package') o.pkg = argv[++i];
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a} (see --help)`);
    else o.tree = path.resolve(a);
  }
  return o;
}

const HELP = `crypto-health-cinny [tree] [options]: integrate crypto-health into a Cinny-family tree

  --dry-run        print the diff, change nothing
  --check          exit 1 when the tree is not (or no longer) integrated; change nothing
  --package <spec> what the tree's package manager adds when ${PKG} is not a dependency yet
                   (default: ${PKG}); e.g. ./vendor/crypto-health-0.1.0.tgz
  --no-install     do not add the package (the dependency is left as it is)
  --no-format      do not run the tree's formatter (prettier or oxfmt) on the touched files

A second run changes nothing. See ${GUIDE}.`;

// ------------------------------------------------------------------ the tree's TypeScript
function loadTypeScript(tree) {
  try {
    return createRequire(path.join(tree, 'package.json'))('typescript');
  } catch {
    throw new Error(`the tree's own TypeScript was not found (${path.join(tree, 'node_modules', 'typescript')}): install the tree's dependencies first`);
  }
}

const posix = (p) => p.split(path.sep).join('/');
function relImport(fromFile, toFile) {
  let r = posix(path.relative(path.dirname(fromFile), toFile)).replace(/\.(tsx?|jsx?)$/, '').replace(/\/index$/, '');
  if (!r.startsWith('.')) r = `./${r}`;
  return r;
}

function sourceFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const file = path.join(dir, name);
    const st = statSync(file);
    if (st.isDirectory()) sourceFiles(file, out);
    else if (/\.(tsx?|jsx?)$/.test(name) && !/\.(test|spec|stories)\.[jt]sx?$/.test(name) && !name.endsWith('.d.ts')) out.push(file);
  }
  return out;
}

// ------------------------------------------------------------------ edits on one file
// Insertions at offsets of the original text, applied from the end so offsets stay valid.
class FileEdit {
  constructor(file, text) {
    this.file = file;
    this.text = text;
    this.ops = [];
  }
  insert(at, s) {
    this.ops.push({ at, end: at, s });
  }
  replace(at, end, s) {
    this.ops.push({ at, end, s });
  }
  result() {
    let t = this.text;
    // From the end; at one offset the later insertion first, so they read in the order made.
    const ops = this.ops.map((op, i) => ({ ...op, i })).sort((a, b) => b.at - a.at || b.i - a.i);
    for (const op of ops) t = t.slice(0, op.at) + op.s + t.slice(op.end);
    return t;
  }
}

function lineStart(text, pos) {
  return text.lastIndexOf('\n', pos - 1) + 1;
}
function indentAt(text, pos) {
  const s = lineStart(text, pos);
  return /^[ \t]*/.exec(text.slice(s))[0];
}

// ------------------------------------------------------------------ analysis
function parse(ts, file, text) {
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : file.endsWith('.jsx') ? ts.ScriptKind.JSX : file.endsWith('.js') || file.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
}

function walk(ts, node, fn) {
  const visit = (n) => {
    if (fn(n) === false) return;
    ts.forEachChild(n, visit);
  };
  visit(node);
}

function tagName(ts, el) {
  const open = ts.isJsxElement(el) ? el.openingElement : el;
  return open.tagName.getText();
}

/** The name of the component (function or const) enclosing `node`. */
function enclosingComponent(ts, node) {
  for (let n = node.parent; n; n = n.parent) {
    if (ts.isFunctionDeclaration(n) && n.name && /^[A-Z]/.test(n.name.text)) return n;
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && /^[A-Z]/.test(n.name.text)) return n;
  }
  return null;
}

function lastImportEnd(ts, sf) {
  let end = null;
  for (const st of sf.statements) if (ts.isImportDeclaration(st)) end = st.getEnd();
  return end;
}

/** Is `name` imported from a module specifier resolving to the glue? */
function importsFromGlue(ts, sf, file, glue, name) {
  const spec = relImport(file, glue);
  return sf.statements.some(
    (st) =>
      ts.isImportDeclaration(st) &&
      st.moduleSpecifier.text === spec &&
      st.importClause?.namedBindings &&
      ts.isNamedImports(st.importClause.namedBindings) &&
      st.importClause.namedBindings.elements.some((e) => e.name.text === name),
  );
}

function addImport(ts, edit, sf, names) {
  const end = lastImportEnd(ts, sf);
  const line = `import { ${names.join(', ')} } from '${relImport(edit.file, edit.glue)}';`;
  if (end === null) edit.insert(0, `${line}\n`);
  else edit.insert(end, `\n${line}`);
}

function findEntry(tree) {
  const html = path.join(tree, 'index.html');
  if (!existsSync(html)) throw new Missing('index.html (the app entry page)', tree, 'The app entry');
  const m = /<script[^>]*type=["']module["'][^>]*src=["']([^"']+)["']/i.exec(readFileSync(html, 'utf8'));
  if (!m) throw new Missing('a <script type="module" src="…"> in index.html', html, 'The app entry');
  const file = path.join(tree, m[1].replace(/^\.?\//, ''));
  if (!existsSync(file)) throw new Missing(`the entry module ${m[1]}`, html, 'The app entry');
  return file;
}

function plan(ts, tree) {
  const src = path.join(tree, 'src');
  if (!existsSync(src)) throw new Missing('a src/ folder', tree, 'The app entry');
  const glue = path.join(tree, ...GLUE_DIR, GLUE_NAME);
  const files = sourceFiles(src);
  const cache = new Map();
  const read = (f) => {
    if (!cache.has(f)) {
      const text = readFileSync(f, 'utf8');
      cache.set(f, { text, sf: null });
    }
    const c = cache.get(f);
    return { text: c.text, get sf() { if (!c.sf) c.sf = parse(ts, f, c.text); return c.sf; } };
  };
  const edits = [];
  const newEdit = (file) => {
    const e = new FileEdit(file, read(file).text);
    e.glue = glue;
    edits.push(e);
    return e;
  };

  // ---- 1. the client root: the component rendering <MatrixClientProvider value={…}>
  const providers = [];
  for (const f of files) {
    const { text } = read(f);
    if (!text.includes('MatrixClientProvider')) continue;
    walk(ts, read(f).sf, (n) => {
      if (ts.isJsxElement(n) && tagName(ts, n) === 'MatrixClientProvider') {
        const value = n.openingElement.attributes.properties.find((p) => ts.isJsxAttribute(p) && p.name.getText() === 'value');
        const comp = enclosingComponent(ts, n);
        if (value && value.initializer && ts.isJsxExpression(value.initializer) && comp) providers.push({ file: f, el: n, value: value.initializer.expression.getText(), comp: comp.name.text });
      }
    });
  }
  // The root is the one another file renders with children (the router); Cinny's is ClientRoot.
  const usages = [];
  for (const p of providers) {
    for (const f of files) {
      const gated = `CryptoHealth${p.comp}`;
      if (f === p.file || !(read(f).text.includes(`<${p.comp}`) || read(f).text.includes(`<${gated}`))) continue;
      walk(ts, read(f).sf, (n) => {
        if (ts.isJsxElement(n) && (tagName(ts, n) === p.comp || tagName(ts, n) === gated)) usages.push({ file: f, el: n, provider: p, gated: tagName(ts, n) === gated });
      });
    }
  }
  if (providers.length === 0) throw new Missing('<MatrixClientProvider value={…}> rendered by a component (the client root)', `${posix(path.relative(tree, src))}/**`, 'Recovery prompt inside the client root');
  if (usages.length !== 1) {
    throw new Missing(
      `exactly one element rendering the client root (${providers.map((p) => p.comp).join(', ')}) with children; found ${usages.length}`,
      usages.map((u) => posix(path.relative(tree, u.file))).join(', ') || `${posix(path.relative(tree, src))}/**`,
      'The gate around the client root',
    );
  }
  const root = usages[0];
  const provider = root.provider;
  const done = [];
  const todo = [];

  // The recovery prompt (and the decryption watcher) inside the provider, with the live client.
  {
    const { sf } = read(provider.file);
    const has = provider.el.children.some((c) => ts.isJsxSelfClosingElement(c) && c.tagName.getText() === 'CryptoHealthRecovery');
    if (has && importsFromGlue(ts, sf, provider.file, glue, 'CryptoHealthRecovery')) done.push('recovery prompt in the client root');
    else {
      const e = newEdit(provider.file);
      if (!importsFromGlue(ts, sf, provider.file, glue, 'CryptoHealthRecovery')) addImport(ts, e, sf, ['CryptoHealthRecovery']);
      if (!has) {
        const first = provider.el.children.find((c) => c.getText().trim() !== '');
        const indent = first ? indentAt(e.text, first.getStart()) : `${indentAt(e.text, provider.el.getStart())}  `;
        e.insert(provider.el.openingElement.getEnd(), `\n${indent}<CryptoHealthRecovery mx={${provider.value}} />`);
      }
      todo.push(`recovery prompt inside <MatrixClientProvider> in ${posix(path.relative(tree, provider.file))}`);
    }
  }

  // The gate: the element rendering the client root becomes the gated component (same subtree).
  {
    const { sf } = read(root.file);
    const gated = `CryptoHealth${provider.comp}`;
    const declared = sf.statements.some((st) => ts.isVariableStatement(st) && st.declarationList.declarations.some((d) => d.name.getText() === gated));
    const imported = importsFromGlue(ts, sf, root.file, glue, 'withCryptoHealthGate');
    if (root.gated && declared && imported) done.push(`gate around <${provider.comp}>`);
    else {
      const e = newEdit(root.file);
      // The element renders the plain component: rename its two tags (the subtree stays as it is).
      if (!root.gated) {
        const open = root.el.openingElement.tagName;
        const close = root.el.closingElement.tagName;
        e.replace(close.getStart(), close.getEnd(), gated);
        e.replace(open.getStart(), open.getEnd(), gated);
      }
      if (!imported) addImport(ts, e, sf, ['withCryptoHealthGate']);
      if (!declared) {
        const end = lastImportEnd(ts, sf);
        e.insert(end ?? 0, `\n\n// The tab guard holds the client root until this tab's role is known (crypto-health).\nconst ${gated} = withCryptoHealthGate(${provider.comp});`);
      }
      todo.push(`<${provider.comp}> gated (rendered as <${gated}>) in ${posix(path.relative(tree, root.file))}`);
    }
  }

  // ---- 2. the entry: start crypto-health as the entry runs
  {
    const entry = findEntry(tree);
    const { sf } = read(entry);
    const imported = importsFromGlue(ts, sf, entry, glue, 'startCryptoHealth');
    let called = false;
    for (const st of sf.statements) {
      if (ts.isExpressionStatement(st) && ts.isCallExpression(st.expression) && st.expression.expression.getText() === 'startCryptoHealth') called = true;
    }
    if (imported && called) done.push('start at the app entry');
    else {
      const e = newEdit(entry);
      if (!imported) addImport(ts, e, sf, ['startCryptoHealth']);
      if (!called) {
        const end = lastImportEnd(ts, sf) ?? 0;
        e.insert(end, `\n\n// Not awaited: crypto-health keeps its evidence from here on; only a second tab's client waits.\nstartCryptoHealth();`);
      }
      todo.push(`start in the entry ${posix(path.relative(tree, entry))}`);
    }
  }

  // ---- 3. Developer Tools: the component reading the `developerTools` setting
  {
    const pages = [];
    for (const f of files) {
      const { text } = read(f);
      if (!f.endsWith('.tsx') || !text.includes('developerTools') || !/Developer Tools/.test(text)) continue;
      const { sf } = read(f);
      walk(ts, sf, (n) => {
        if (ts.isVariableDeclaration(n) && ts.isArrayBindingPattern(n.name) && n.initializer && ts.isCallExpression(n.initializer) && n.initializer.arguments.some((a) => ts.isStringLiteral(a) && a.text === 'developerTools')) {
          const first = n.name.elements[0];
          if (first && ts.isBindingElement(first) && ts.isIdentifier(first.name)) pages.push({ file: f, flag: first.name.text, decl: n });
        }
      });
    }
    // The account's page, not a room's (Cinny has both): its component reads no room (useRoom).
    const readsRoom = (p) => {
      let found = false;
      walk(ts, enclosingComponent(ts, p.decl) ?? read(p.file).sf, (n) => {
        if (ts.isCallExpression(n) && n.expression.getText() === 'useRoom') found = true;
      });
      return found;
    };
    const page = pages.find((p) => !readsRoom(p));
    if (!page) throw new Missing('the Developer Tools page (a component reading the `developerTools` setting)', `${posix(path.relative(tree, src))}/**/*.tsx`, 'The card in Developer Tools');
    const { sf, text } = read(page.file);
    const comp = enclosingComponent(ts, page.decl);
    // The sections shown when developer tools are on: `{flag && …}`; the shallowest come first.
    const sections = [];
    let mx = null;
    walk(ts, comp ?? sf, (n) => {
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && ts.isCallExpression(n.initializer) && n.initializer.expression.getText() === 'useMatrixClient') mx = n.name.text;
      if (ts.isJsxExpression(n) && n.expression && ts.isBinaryExpression(n.expression) && n.expression.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken && n.expression.left.getText() === page.flag) {
        let depth = 0;
        for (let p = n.parent; p; p = p.parent) if (ts.isJsxElement(p)) depth += 1;
        sections.push({ n, depth });
      }
    });
    const mounted = sections.some((s) => /<CryptoHealthCard\b/.test(s.n.getText()));
    if (mounted && importsFromGlue(ts, sf, page.file, glue, 'CryptoHealthCard')) done.push('card in Developer Tools');
    else {
      if (sections.length === 0) throw new Missing(`a section shown when developer tools are on ({${page.flag} && …})`, posix(path.relative(tree, page.file)), 'The card in Developer Tools');
      const min = Math.min(...sections.map((s) => s.depth));
      const at = sections.find((s) => s.depth === min).n;
      const e = newEdit(page.file);
      if (!importsFromGlue(ts, sf, page.file, glue, 'CryptoHealthCard')) addImport(ts, e, sf, ['CryptoHealthCard']);
      if (!mounted) {
        const indent = indentAt(text, at.getStart());
        e.insert(lineStart(text, at.getStart()), `${indent}{${page.flag} && <CryptoHealthCard${mx ? ` mx={${mx}}` : ''} />}\n`);
      }
      todo.push(`card in Developer Tools ${posix(path.relative(tree, page.file))}`);
    }
  }

  // ---- 4. the Vite config: optimizeDeps.exclude
  {
    const cfg = ['vite.config.ts', 'vite.config.js', 'vite.config.mts', 'vite.config.mjs'].map((n) => path.join(tree, n)).find(existsSync);
    if (!cfg) throw new Missing('vite.config.(ts|js|mts|mjs)', tree, 'The Vite config');
    const { sf } = read(cfg);
    let obj = null;
    walk(ts, sf, (n) => {
      if (!obj && ts.isCallExpression(n) && n.expression.getText() === 'defineConfig' && n.arguments[0]) {
        let a = n.arguments[0];
        // defineConfig(({ mode }) => ({ … })) or defineConfig(() => { return { … } })
        if (ts.isArrowFunction(a) || ts.isFunctionExpression(a)) {
          let body = a.body;
          while (body && ts.isParenthesizedExpression(body)) body = body.expression;
          if (body && ts.isBlock(body)) {
            const ret = [...body.statements].reverse().find((s) => ts.isReturnStatement(s));
            body = ret?.expression;
            while (body && ts.isParenthesizedExpression(body)) body = body.expression;
          }
          a = body;
        }
        if (a && ts.isObjectLiteralExpression(a)) obj = a;
      }
    });
    if (!obj) {
      for (const st of sf.statements) if (ts.isExportAssignment(st) && ts.isObjectLiteralExpression(st.expression)) obj = st.expression;
    }
    if (!obj) throw new Missing('the config object (export default defineConfig({ … }))', posix(path.relative(tree, cfg)), 'The Vite config');
    const prop = (o, name) => o.properties.find((p) => ts.isPropertyAssignment(p) && p.name.getText().replace(/['"]/g, '') === name);
    const od = prop(obj, 'optimizeDeps');
    const ex = od && ts.isObjectLiteralExpression(od.initializer) ? prop(od.initializer, 'exclude') : null;
    const listed = ex && ts.isArrayLiteralExpression(ex.initializer) && ex.initializer.elements.some((x) => ts.isStringLiteral(x) && x.text === PKG);
    if (listed) done.push('optimizeDeps.exclude in the Vite config');
    else {
      const e = newEdit(cfg);
      const text = e.text;
      const why = '// crypto-health finds its .wasm beside its own module: not pre-bundled in dev.';
      if (ex) {
        if (!ts.isArrayLiteralExpression(ex.initializer)) throw new Missing('optimizeDeps.exclude as an array literal', posix(path.relative(tree, cfg)), 'The Vite config');
        const els = ex.initializer.elements;
        if (els.length === 0) e.insert(ex.initializer.getStart() + 1, `'${PKG}'`);
        else e.insert(els[els.length - 1].getEnd(), `, '${PKG}'`);
      } else if (od) {
        if (!ts.isObjectLiteralExpression(od.initializer)) throw new Missing('optimizeDeps as an object literal', posix(path.relative(tree, cfg)), 'The Vite config');
        const first = od.initializer.properties[0];
        if (first) {
          const indent = indentAt(text, first.getStart());
          e.insert(lineStartOfLeadingComments(text, first), `${indent}${why}\n${indent}exclude: ['${PKG}'],\n`);
        } else e.insert(od.initializer.getStart() + 1, ` exclude: ['${PKG}'] `);
      } else {
        const first = obj.properties[0];
        const indent = first ? indentAt(text, first.getStart()) : '  ';
        e.insert(first ? lineStartOfLeadingComments(text, first) : obj.getStart() + 1, `${indent}${why}\n${indent}optimizeDeps: { exclude: ['${PKG}'] },\n`);
      }
      todo.push(`optimizeDeps.exclude in ${posix(path.relative(tree, cfg))}`);
    }
  }

  // ---- 5. the glue file
  const logout = findExport(ts, files, read, 'logoutClient');
  const appVersion = appVersionSource(tree, glue);
  const glueText = glueSource({ logout: logout ? relImport(glue, logout) : null, appVersion, tree });
  // Written before (the formatter may have touched it since): kept as it is.
  if (existsSync(glue) && readFileSync(glue, 'utf8').includes(MARK)) done.push('glue file');
  else {
    if (existsSync(glue)) throw new Missing(`a free path for the glue (${posix(path.relative(tree, glue))} exists and was not written by crypto-health-cinny)`, posix(path.relative(tree, glue)), 'The glue file');
    const e = new FileEdit(glue, existsSync(glue) ? readFileSync(glue, 'utf8') : '');
    e.replace(0, e.text.length, glueText);
    e.created = !existsSync(glue);
    edits.push(e);
    todo.push(`glue ${posix(path.relative(tree, glue))}`);
  }

  // Merge the edits per file (one file may hold several anchors).
  const byFile = new Map();
  for (const e of edits) {
    if (!byFile.has(e.file)) byFile.set(e.file, e);
    else byFile.get(e.file).ops.push(...e.ops);
  }
  const changes = [...byFile.values()].map((e) => ({ file: e.file, before: existsSync(e.file) ? readFileSync(e.file, 'utf8') : null, after: e.result() })).filter((c) => c.before !== c.after);
  return { changes, done, todo: changes.length ? todo : [] };
}

/** Start of the line where a node's leading comments begin (an insertion goes above them). */
function lineStartOfLeadingComments(text, node) {
  const full = node.getFullStart();
  const lead = node.getFullText();
  const skip = lead.length - lead.replace(/^\s*/, '').length;
  return lineStart(text, full + skip);
}

function findExport(ts, files, read, name) {
  for (const f of files) {
    const { text } = read(f);
    if (!text.includes(name)) continue;
    const { sf } = read(f);
    for (const st of sf.statements) {
      const exported = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (!exported) continue;
      if (ts.isFunctionDeclaration(st) && st.name?.text === name) return f;
      if (ts.isVariableStatement(st) && st.declarationList.declarations.some((d) => d.name.getText() === name)) return f;
    }
  }
  return null;
}

function appVersionSource(tree, glue) {
  const pkg = JSON.parse(readFileSync(path.join(tree, 'package.json'), 'utf8'));
  let tsconfig = '';
  try {
    tsconfig = readFileSync(path.join(tree, 'tsconfig.json'), 'utf8');
  } catch {
    tsconfig = '';
  }
  const name = String(pkg.name || 'cinny').replace(/[^A-Za-z0-9@/._-]/g, '');
  if (/"resolveJsonModule"\s*:\s*true/.test(tsconfig)) return { import: relImport(glue, path.join(tree, 'package.json')), name };
  return { import: null, name, version: String(pkg.version || '') };
}

function glueSource({ logout, appVersion }) {
  const lines = [
    `// crypto-health in this Cinny-family app, ${MARK} (the crypto-health package's`,
    '// integrator; see its docs/INTEGRATION.md). All of the glue is here: the app\'s own files only',
    '// import and mount what this file exports.',
    '//',
    '// The kit and the package load as their own chunk (dynamic import), so the entry chunk and the',
    '// first render do not carry them; if the chunk cannot load, the app runs as before.',
    "import { Suspense, createElement, lazy } from 'react';",
    "import type { ComponentType, ReactElement, ReactNode } from 'react';",
    "import type * as KitModule from 'crypto-health/react';",
  ];
  if (appVersion.import) lines.push(`import { version } from '${appVersion.import}';`);
  if (logout) lines.push(`import { logoutClient } from '${logout}';`);
  lines.push('');
  lines.push(appVersion.import ? `const APP_VERSION = \`${appVersion.name} \${version}\`;` : `const APP_VERSION = '${appVersion.name} ${appVersion.version}';`);
  lines.push(
    logout
      ? "\n// The app's client type, taken from its own logout function (no new import of the SDK).\ntype Client = Parameters<typeof logoutClient>[0];"
      : '\ntype Client = unknown;',
  );
  lines.push(`
type Kit = typeof KitModule;
let kit: Promise<Kit | null> | null = null;
const loadKit = (): Promise<Kit | null> => {
  if (!kit) kit = import('crypto-health/react').catch(() => null);
  return kit;
};

/**
 * At the app entry, not awaited. From the package's import on, console lines and the IndexedDB
 * list are kept; a tab alone on the origin starts its client at once and loads the wasm once
 * the live client is up, any other waits for the tab guard, which needs the wasm.
 */
export function startCryptoHealth() {
  loadKit().then((k) => k?.bootCryptoHealth({ capacity: 200 }));
}

// React renders any node a component returns; the JSX types want an element.
function PassThrough({ children }: { children?: ReactNode }) {
  return (children ?? null) as ReactElement | null;
}
function Nothing() {
  return null;
}

const Gate = lazy<ComponentType<KitModule.TabGuardGateProps>>(() =>
  loadKit().then((k) => ({ default: k ? k.TabGuardGate : PassThrough })),
);
const Recovery = lazy<ComponentType<KitModule.RecoveryPromptHostProps>>(() =>
  loadKit().then((k) => ({ default: k ? k.RecoveryPromptHost : Nothing })),
);
const Card = lazy<ComponentType<KitModule.CryptoDiagnosticsCardProps>>(() =>
  loadKit().then((k) => ({ default: k ? k.CryptoDiagnosticsCard : Nothing })),
);

/** The client root, started only in the tab that holds the tab guard. */
export function withCryptoHealthGate<P extends object>(Root: ComponentType<P>) {
  function CryptoHealthGated(props: P) {
    const root = createElement(Root as ComponentType<object>, props);
    return createElement(Suspense, { fallback: null }, createElement(Gate, { appName: 'Cinny' }, root));
  }
  return CryptoHealthGated;
}

/** Inside MatrixClientProvider: the recovery prompt on a KE-1 upload storm, and the live client's
 * decryption results watched (why messages fail to decrypt). */
export function CryptoHealthRecovery({ mx }: { mx: Client }) {
  return createElement(
    Suspense,
    { fallback: null },
    createElement(Recovery, {
      mx,
      ${logout ? 'onLogout: () => logoutClient(mx),' : ''}
      appVersion: APP_VERSION,
      backupSettings: 'Settings → Devices',
      detailsAt: 'Settings → Developer Tools → Crypto Diagnostics',
    }),
  );
}

/** In Developer Tools: the Crypto Diagnostics card. */
export function CryptoHealthCard({ mx }: { mx?: Client }) {
  return createElement(Suspense, { fallback: null }, createElement(Card, { mx, appVersion: APP_VERSION }));
}
`);
  return lines.join('\n').replace(/\n {6}\n/g, '\n');
}

// ------------------------------------------------------------------ output
function unifiedDiff(tree, changes) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'crypto-health-cinny-'));
  let out = '';
  try {
    for (const c of changes) {
      const rel = posix(path.relative(tree, c.file));
      const a = path.join(tmp, 'a');
      const b = path.join(tmp, 'b');
      writeFileSync(a, c.before ?? '');
      writeFileSync(b, c.after);
      const r = spawnSync('diff', ['-u', '--label', c.before === null ? '/dev/null' : `a/${rel}`, '--label', `b/${rel}`, a, b], { encoding: 'utf8' });
      if (r.error) out += `--- a/${rel}\n+++ b/${rel}\n(diff not available: ${r.error.message})\n`;
      else out += `diff --git a/${rel} b/${rel}\n${c.before === null ? 'new file mode 100644\n' : ''}${r.stdout}`;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

function packageManager(tree) {
  if (existsSync(path.join(tree, 'pnpm-lock.yaml'))) return 'pnpm';
  if (existsSync(path.join(tree, 'yarn.lock'))) return 'yarn';
  return 'npm';
}

function hasDependency(tree) {
  const pkg = JSON.parse(readFileSync(path.join(tree, 'package.json'), 'utf8'));
  return !!(pkg.dependencies?.[PKG] || pkg.devDependencies?.[PKG]);
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
}

function install(tree, spec, say) {
  const pm = packageManager(tree);
  const args = pm === 'pnpm' ? ['add', '--save-exact', spec] : pm === 'yarn' ? ['add', '--exact', spec] : ['install', '--save-exact', '--no-audit', '--no-fund', spec];
  say(`adding ${spec} with ${pm} (${pm} ${args.join(' ')})`);
  run(pm, args, tree);
}

/**
 * A TypeScript config file (oxfmt.config.ts, oxlint.config.ts) as JSON in a temporary file in the
 * tree, for Node versions that cannot load .ts configs (before 22.18): transpiled with the tree's
 * TypeScript and evaluated as a module in the tree (its imports resolve there). Returns the JSON
 * file's path (the caller removes it), or null when there is no such config.
 */
export async function tsConfigAsJson(tree, base) {
  const src = ['ts', 'mts'].map((e) => path.join(tree, `${base}.config.${e}`)).find(existsSync);
  if (!src) return null;
  const ts = loadTypeScript(tree);
  const js = ts.transpileModule(readFileSync(src, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const mod = path.join(tree, `.crypto-health-${base}.config.mjs`);
  const out = path.join(tree, `.crypto-health-${base}.json`);
  writeFileSync(mod, js);
  try {
    const { default: config } = await import(`${pathToFileURL(mod).href}?t=${Date.now()}`);
    writeFileSync(out, JSON.stringify(config));
  } finally {
    rmSync(mod, { force: true });
  }
  return out;
}

/** The tree's own formatter on the touched files: prettier or oxfmt, when the tree has one. */
async function format(tree, files, say) {
  const bin = (n) => path.join(tree, 'node_modules', '.bin', n);
  const rel = files.map((f) => path.relative(tree, f));
  if (existsSync(bin('oxfmt'))) {
    say(`formatting with the tree's oxfmt: ${rel.join(', ')}`);
    const r = spawnSync(bin('oxfmt'), rel, { cwd: tree, encoding: 'utf8' });
    if (r.status === 0) return;
    // This Node cannot load the tree's oxfmt.config.ts: the same config as JSON.
    const json = await tsConfigAsJson(tree, 'oxfmt');
    if (!json) throw new Error(`oxfmt failed: ${r.stderr || r.stdout}`);
    try {
      say(`(this Node cannot load oxfmt.config.ts: the same config passed as JSON)`);
      run(bin('oxfmt'), ['-c', json, ...rel], tree);
    } finally {
      rmSync(json, { force: true });
    }
  } else if (existsSync(bin('prettier'))) {
    say(`formatting with the tree's prettier: ${rel.join(', ')}`);
    run(bin('prettier'), ['--write', ...rel], tree);
  } else say('no prettier or oxfmt in the tree: files left as written');
}

export async function integrate(argv) {
  const o = parseArgs(argv);
  const say = (s) => {
    if (!o.quiet) console.log(`crypto-health-cinny: ${s}`);
  };
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (!existsSync(path.join(o.tree, 'package.json'))) {
    console.error(`crypto-health-cinny: no package.json in ${o.tree}: run it in the app's tree (or name the tree)`);
    return 2;
  }
  let p;
  try {
    p = plan(loadTypeScript(o.tree), o.tree);
  } catch (e) {
    console.error(`crypto-health-cinny: ${e.message}\nNothing was changed.`);
    return 2;
  }
  const depMissing = !hasDependency(o.tree);
  if (o.check) {
    if (p.changes.length === 0 && !depMissing) {
      say(`integrated: ${p.done.join('; ')}`);
      return 0;
    }
    console.error(`crypto-health-cinny: not integrated:${depMissing ? `\n  - ${PKG} is not a dependency` : ''}${p.todo.map((t) => `\n  - missing: ${t}`).join('')}`);
    return 1;
  }
  if (p.changes.length === 0) {
    say(`already integrated, nothing to change (${p.done.join('; ')})`);
    if (depMissing && o.install && !o.dryRun) install(o.tree, o.pkg ?? PKG, say);
    return 0;
  }
  if (o.dryRun) {
    process.stdout.write(unifiedDiff(o.tree, p.changes));
    say(`dry run: ${p.changes.length} file(s) would change; nothing written`);
    return 0;
  }
  if (depMissing && o.install) install(o.tree, o.pkg ?? PKG, say);
  for (const c of p.changes) {
    mkdirSync(path.dirname(c.file), { recursive: true });
    writeFileSync(c.file, c.after);
  }
  for (const t of p.todo) say(`added ${t}`);
  if (o.format) {
    try {
      await format(o.tree, p.changes.map((c) => c.file), say);
    } catch (e) {
      console.error(`crypto-health-cinny: the tree's formatter failed (${e.message.split('\n')[0]}); the files are integrated but left as written: run the formatter`);
    }
  }
  say(`done: ${p.changes.length} file(s) changed; run it again to check (nothing changes), --check in CI`);
  return 0;
}

// Run as a command (also through node_modules/.bin's link), not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  integrate(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(`crypto-health-cinny: ${e?.message ?? e}`);
      process.exitCode = 2;
    },
  );
}
