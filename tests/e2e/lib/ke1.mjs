// KE-1 on a real Synapse over its client-server API, the way an evicted crypto store causes it:
// a device publishes device keys and one-time keys signed by its Ed25519 identity; then a fresh
// identity (a new crypto account, the store gone) under the SAME device id publishes its own
// device keys and a new batch of one-time keys numbered from 0 again (vodozemac's key ids: the
// unpadded base64 of the 8-byte big-endian counter). Synapse stores the new device keys, then
// answers 400 "One time key signed_curve25519:<id> already exists" for every retry.
// Real Ed25519 signatures over Matrix canonical JSON (node:crypto), so triage's forensics can
// tell which identity signed what.
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';

const b64 = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '');

/** Matrix canonical JSON: sorted keys, no whitespace. */
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** vodozemac's id for counter n. */
export function keyId(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b64(b);
}

function rawPublic(key) {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

/** A crypto identity: an Ed25519 signing key and a Curve25519 identity key (both serialisable). */
export function newIdentity() {
  const ed = generateKeyPairSync('ed25519');
  const cu = generateKeyPairSync('x25519');
  return {
    edPem: ed.privateKey.export({ format: 'pem', type: 'pkcs8' }),
    ed25519: b64(rawPublic(ed.publicKey)),
    curve25519: b64(rawPublic(cu.publicKey)),
  };
}

function signed(identity, userId, deviceId, obj) {
  const { signatures, unsigned, ...rest } = obj;
  const sig = b64(sign(null, Buffer.from(canonical(rest)), createPrivateKey(identity.edPem)));
  return { ...rest, signatures: { [userId]: { [`ed25519:${deviceId}`]: sig } } };
}

/** The body of a keys/upload: device keys (optional), one-time keys for counters [from, from+n). */
export function uploadBody(identity, userId, deviceId, { from = 0, n = 5, deviceKeys = true, fallback = false } = {}) {
  const body = { one_time_keys: {} };
  if (deviceKeys) {
    body.device_keys = signed(identity, userId, deviceId, {
      user_id: userId,
      device_id: deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${deviceId}`]: identity.curve25519, [`ed25519:${deviceId}`]: identity.ed25519 },
    });
  }
  for (let i = from; i < from + n; i++) {
    const key = b64(rawPublic(generateKeyPairSync('x25519').publicKey));
    body.one_time_keys[`signed_curve25519:${keyId(i)}`] = signed(identity, userId, deviceId, { key });
  }
  if (fallback) {
    const key = b64(rawPublic(generateKeyPairSync('x25519').publicKey));
    body.fallback_keys = { [`signed_curve25519:${keyId(from + n)}`]: signed(identity, userId, deviceId, { key, fallback: true }) };
  }
  return body;
}

/** POST keys/upload; { status, body } for 2xx and 4xx alike. */
export async function upload(baseUrl, token, body) {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/keys/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * Reproduce KE-1 for one logged-in device: first life (identity A, `n` keys), then a second life
 * (identity B, same device id) whose upload is retried `storm` times. Returns the ids, both
 * identities and the key id Synapse names. `first`/`second` may be given to replay the same
 * keys on another server.
 */
export async function reproduce(baseUrl, { userId, deviceId, accessToken }, { n = 5, storm = 3, first, second } = {}) {
  const a = first?.identity ?? newIdentity();
  const firstBody = first?.body ?? uploadBody(a, userId, deviceId, { n });
  const ok = await upload(baseUrl, accessToken, firstBody);
  if (ok.status !== 200) throw new Error(`first life keys/upload: ${ok.status} ${JSON.stringify(ok.body)}`);
  const b = second?.identity ?? newIdentity();
  const secondBody = second?.body ?? uploadBody(b, userId, deviceId, { n });
  const answers = [];
  for (let i = 0; i < storm; i++) answers.push(await upload(baseUrl, accessToken, secondBody));
  const bad = answers.filter((r) => r.status === 400 && /already exists/.test(r.body?.error ?? ''));
  if (bad.length !== storm) throw new Error(`expected ${storm} KE-1 400s, got ${answers.map((r) => r.status)}: ${JSON.stringify(answers[0]?.body)}`);
  const m = bad[0].body.error.match(/One time key (\S+?):(\S+) already exists/);
  return {
    userId, deviceId,
    algorithm: m[1], keyId: m[2],
    first: { identity: a, body: firstBody },
    second: { identity: b, body: secondBody },
    rejections: bad.length,
  };
}
