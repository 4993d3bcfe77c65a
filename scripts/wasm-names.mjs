// Short names for the wasm module's wasm-bindgen plumbing.
//
// wasm-bindgen names its glue imports and internal exports with a hash
// (`__wbg_tapInstall_7c212d457b28da78`, `wasm_bindgen__convert__closures_____invoke__h88b8…`,
// module `./snippets/crypto-health-2a17d481f6a74a38/js/http.js`). Each name is
// stored twice, in the wasm and in the JS, and hex hashes do not compress:
// about 2 KB of every page view's download. This renames them in both places
// to one or two letters. The public API (`installCryptoDiagLog`, …) and
// `memory` keep their names; internal exports the JS never uses are dropped, so
// that wasm-opt can remove what only they kept alive.
//
//   const plan = shortenWasmNames(wasmBytes, glueText);  // before wasm-opt
//   const js2 = applyNamesToJs(bundledJs, plan);          // after bundling

const INTERNAL_EXPORT = /^(__wbindgen_|__wbg_|__externref_|wasm_bindgen__|__abort_handler$|__instance_terminated$)/;

function* shortIds() {
  const first = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$';
  const rest = `${first}0123456789`;
  for (const c of first) yield c;
  for (const c of first) for (const d of rest) yield c + d;
  throw new Error('wasm-names: ran out of short names');
}

// ---------------------------------------------------------------- binary IO
function readU32(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos.i++];
    result |= (b & 0x7f) << shift;
    if (b < 0x80) return result >>> 0;
    shift += 7;
    if (shift > 28) throw new Error('wasm-names: LEB128 too long');
  }
}

function u32(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function readName(buf, pos) {
  const len = readU32(buf, pos);
  const s = fromUtf8.decode(buf.subarray(pos.i, pos.i + len));
  pos.i += len;
  return s;
}

function name(s) {
  const b = utf8.encode(s);
  return [...u32(b.length), ...b];
}

// Skips one import description (function, table, memory, global, tag).
function skipImportDesc(buf, pos) {
  const start = pos.i;
  const kind = buf[pos.i++];
  const limits = () => {
    const flags = buf[pos.i++];
    readU32(buf, pos);
    if (flags & 1) readU32(buf, pos);
  };
  if (kind === 0x00) readU32(buf, pos);
  else if (kind === 0x01) {
    pos.i++; // reference type (funcref / externref)
    limits();
  } else if (kind === 0x02) limits();
  else if (kind === 0x03) pos.i += 2; // value type, mutability
  else if (kind === 0x04) {
    pos.i++;
    readU32(buf, pos);
  } else throw new Error(`wasm-names: unknown import kind ${kind}`);
  return buf.subarray(start, pos.i);
}

function sections(buf) {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.readUInt32LE(0) !== 0x6d736100 || view.readUInt32LE(4) !== 1) throw new Error('wasm-names: not a wasm module');
  const out = [];
  const pos = { i: 8 };
  while (pos.i < buf.length) {
    const id = buf[pos.i++];
    const size = readU32(buf, pos);
    out.push({ id, body: buf.subarray(pos.i, pos.i + size) });
    pos.i += size;
  }
  return out;
}

// ---------------------------------------------------------------- rename
/**
 * Rename the wasm-bindgen imports/exports of `wasm` (a Uint8Array as
 * wasm-bindgen wrote it). `glue` is the JS that uses the module (the
 * wasm-bindgen glue), read to find internal exports nobody calls.
 * Returns `{ wasm, modules, imports, exports, dropped }` (maps old -> new).
 */
export function shortenWasmNames(wasm, glue) {
  const modules = new Map();
  const imports = new Map(); // `${module}\0${name}` -> new name (only in the glue's own module)
  const exports = new Map();
  const dropped = [];
  const moduleIds = shortIds();
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const s of sections(wasm)) {
    let body = s.body;
    if (s.id === 2) body = renameImports(s.body, modules, moduleIds, imports);
    else if (s.id === 7) body = renameExports(s.body, glue, exports, dropped);
    out.push(s.id, ...u32(body.length));
    for (const b of body) out.push(b);
  }
  return { wasm: Uint8Array.from(out), modules, imports, exports, dropped };
}

function renameImports(body, modules, moduleIds, imports) {
  const pos = { i: 0 };
  const count = readU32(body, pos);
  const fieldIds = shortIds();
  const out = [...u32(count)];
  for (let k = 0; k < count; k++) {
    const mod = readName(body, pos);
    const field = readName(body, pos);
    const desc = skipImportDesc(body, pos);
    if (!modules.has(mod)) modules.set(mod, moduleIds.next().value);
    // Only the glue's own import object is ours to rename: a snippet module's
    // fields are its export names, read from the module namespace.
    let f = field;
    if (mod.endsWith('_bg.js') && /^__wb/.test(field)) {
      f = imports.get(`${mod}\0${field}`) ?? fieldIds.next().value;
      imports.set(`${mod}\0${field}`, f);
    }
    out.push(...name(modules.get(mod)), ...name(f), ...desc);
  }
  return Uint8Array.from(out);
}

function renameExports(body, glue, exports, dropped) {
  const pos = { i: 0 };
  const count = readU32(body, pos);
  const ids = shortIds();
  const kept = [];
  for (let k = 0; k < count; k++) {
    const n = readName(body, pos);
    const kind = body[pos.i++];
    const index = readU32(body, pos);
    let m = n;
    if (INTERNAL_EXPORT.test(n)) {
      if (!new RegExp(`\\b${n}\\b`).test(glue)) {
        dropped.push(n);
        continue;
      }
      m = ids.next().value;
      exports.set(n, m);
    }
    kept.push([...name(m), kind, ...u32(index)]);
  }
  return Uint8Array.from([...u32(kept.length), ...kept.flat()]);
}

/** Apply the renames to the bundled JS; throws if an old name survives. */
export function applyNamesToJs(js, plan) {
  let out = js;
  for (const [mod, m] of plan.modules) {
    const quoted = JSON.stringify(mod);
    if (!out.includes(quoted)) throw new Error(`wasm-names: import module ${quoted} not found in the JS`);
    out = out.split(quoted).join(JSON.stringify(m));
  }
  const words = [...[...plan.imports].map(([k, v]) => [k.split('\0')[1], v]), ...plan.exports];
  for (const [old, neu] of words) {
    const re = new RegExp(`\\b${old}\\b`, 'g');
    if (!re.test(out)) throw new Error(`wasm-names: ${old} not found in the JS`);
    out = out.replace(re, neu);
  }
  return out;
}
