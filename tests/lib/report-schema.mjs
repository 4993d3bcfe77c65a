// One validator for schema/report.schema.json (JSON Schema 2020-12 with formats), shared by the
// browser tests that check a report the package produced.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema', 'report.schema.json');

/** `(report) => { ok, errors }`; `errors` is ajv's text, empty when valid. */
export function reportValidator() {
  const ajv = new Ajv2020({ allErrors: true, strict: 'log' });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
  return (report) => {
    const ok = validate(report);
    return { ok, errors: ok ? '' : ajv.errorsText(validate.errors, { separator: '\n  ' }) };
  };
}
