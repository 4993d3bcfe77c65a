// Live demo of the package: the same calls a Cinny fork makes at app entry.
import { startCryptoHealth } from '/pkg/index.js';

// Recorded real texts (REFERENCE §1–§5), one per KE class.
const SAMPLES = {
  'KE-1 keys/upload 400': ['error', "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4\",\"signatures\":{\"@alice:localhost\":{\"ed25519:ABCDEFGHIJ\":\"c2lnMQ\"}}}; new key: {'key': 'bq0KZ2mXj7QvUqk1cfF8eWm5cJmWl3gNn7sHh1Rk9Gk', 'signatures': {'@alice:localhost': {'ed25519:ABCDEFGHIJ': 'c2lnMg'}}} (http://localhost:8008/_matrix/client/v3/keys/upload)"],
  'KE-2 MissingKey': ['warn', 'MissingKey: missing key at index 3 for participant @bob:localhost:BOBDEVICE'],
  'KE-2 key delivered (info)': ['warn', 'WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event sender="@bob:localhost" event_type="io.element.call.encryption_keys"'],
  'KE-3 missing algorithm': ['warn', 'Error decrypting event (id=$SASBBzoqjAbCdEf type=m.room.encrypted sender=@bob:localhost room=!room:localhost): DecryptionError[msg: missing field `algorithm` at line 1 column 138]'],
  'KE-4 delayed event timeout': ['warn', '[MembershipManager] Network local timeout error while sending event, immediate retry ((3/10)) AbortError: Restart delayed event timed out before the HS responded'],
  'not a KE (alias exists)': ['warn', 'Room alias #general:localhost already exists'],
};

const $ = (id) => document.getElementById(id);

function render(api) {
  const counts = api.getCryptoDiagCounts();
  $('counts').innerHTML = '';
  for (const ke of ['KE-1', 'KE-2', 'KE-3', 'KE-4']) {
    const s = document.createElement('span');
    const c = counts[ke];
    s.textContent = `${ke}: ${c.count}`;
    if (c.failures > 0) s.className = 'hot';
    $('counts').append(s);
  }
  $('entries').textContent = JSON.stringify(api.getCryptoDiagEntries(), null, 2);
}

const { api, storage, finding } = await startCryptoHealth();
$('storage').textContent = `${storage.status}${storage.requested ? ' (asked)' : ''}` +
  (storage.estimate && storage.estimate.quota ? ` — ${(storage.estimate.usage / 1e6).toFixed(1)} MB of ${(storage.estimate.quota / 1e9).toFixed(1)} GB` : '') +
  (storage.notes.length ? ` — ${storage.notes.join('; ')}` : '');
if (finding) {
  const d = document.createElement('div');
  d.className = `finding ${finding.level}`;
  d.innerHTML = `<strong></strong><p></p>`;
  d.querySelector('strong').textContent = finding.title;
  d.querySelector('p').textContent = finding.detail;
  $('findings').append(d);
}
for (const [label, [level, line]] of Object.entries(SAMPLES)) {
  const b = document.createElement('button');
  b.textContent = label;
  b.onclick = () => { console[level](line); render(api); };
  $('replay').append(b);
}
$('download').onclick = () => api.downloadCryptoDiagReport(undefined, { appVersion: 'crypto-health demo' });
$('clear').onclick = () => { api.clearCryptoDiagEntries(); render(api); };
render(api);
globalThis.cryptoHealth = api; // for poking from DevTools
document.body.dataset.ready = 'true';
