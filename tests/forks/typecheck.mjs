// The tree's own type check on the files the integrator touched, with the tree's TypeScript and
// tsconfig: one program over the whole tree (as `tsc --noEmit` builds it), diagnostics asked for
// the named files only, so a tree's own errors elsewhere (upstream Cinny has ~790) neither count
// nor cost the time of checking everything. Run as a child process: node typecheck.mjs <tree> <file>...
// prints a JSON array of position-free keys (`file: TSnnnn message`).
import { createRequire } from 'node:module';
import path from 'node:path';

const [tree, ...files] = process.argv.slice(2);
const ts = createRequire(path.join(tree, 'package.json'))('typescript');
const configFile = ts.findConfigFile(tree, ts.sys.fileExists, 'tsconfig.json');
const parsed = ts.getParsedCommandLineOfConfigFile(configFile, { noEmit: true }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
const keys = [];
for (const f of files) {
  const sf = program.getSourceFile(path.resolve(tree, f));
  if (!sf) {
    keys.push(`${f}: not in the tree's program (tsconfig include)`);
    continue;
  }
  for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
    // Paths in messages name the tree's folder: the same error reads the same in both trees.
    keys.push(`${f}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ').replaceAll(path.resolve(tree), '<tree>')}`);
  }
}
console.log(JSON.stringify(keys));
