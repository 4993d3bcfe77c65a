//! Browser tests (headless Chromium via `wasm-pack test --headless --chrome`).
//! They run in one page and share the library's global state, so each test
//! leaves the console and the journal as it found them.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's panic is its failure report")]

use crypto_health::*;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const KE1: &str = "Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"KEYONE\",\"signatures\":{}}; new key: {'key': 'KEYTWO', 'signatures': {}} (http://localhost:8008/_matrix/client/v3/keys/upload?access_token=syt_YWxpY2U_abcdefghijklmnop_0a1b2c)";

/// Run JS in the page; `arg` is available as `arg`.
fn js(code: &str, arg: &JsValue) -> JsValue {
    Function::new_with_args("arg", code).call1(&JsValue::NULL, arg).expect(code)
}

async fn js_async(code: &str, arg: &JsValue) -> JsValue {
    let p: Promise = js(code, arg).dyn_into().expect("a promise");
    JsFuture::from(p).await.expect(code)
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

/// Replace console[level] with a counter recording each call's `this` and args.
fn counting(level: &str) -> JsValue {
    js(
        "const rec = { calls: [], prev: console[arg] };
         console[arg] = function () { rec.calls.push({ self: this, args: Array.from(arguments) }); return 'ret'; };
         rec.fn = console[arg];
         return rec;",
        &level.into(),
    )
}

fn restore(level: &str, rec: &JsValue) {
    js("console[arg.level] = arg.rec.prev;", &js("return { level: arg[0], rec: arg[1] };", &js_sys::Array::of2(&level.into(), rec)));
}

fn calls(rec: &JsValue) -> u32 {
    js_sys::Array::from(&get(rec, "calls")).length()
}

fn reset() {
    uninstall_crypto_diag_log();
    clear_crypto_diag_entries();
}

fn entries() -> js_sys::Array {
    js_sys::Array::from(&get_crypto_diag_entries())
}

#[wasm_bindgen_test]
fn passes_through_exactly_once_and_captures_ke1() {
    reset();
    let rec = counting("warn");
    assert!(install_crypto_diag_log(JsValue::UNDEFINED).unwrap());
    let obj = js("return { marker: 1 };", &JsValue::NULL);
    let ret = js("return console.warn(arg[0], arg[1]);", &js_sys::Array::of2(&KE1.into(), &obj));
    assert_eq!(ret.as_string().as_deref(), Some("ret"), "the original's return value passes through");
    assert_eq!(calls(&rec), 1);
    let call = js_sys::Array::from(&get(&rec, "calls")).get(0);
    let args = js_sys::Array::from(&get(&call, "args"));
    assert_eq!(args.length(), 2);
    assert_eq!(args.get(0).as_string().as_deref(), Some(KE1), "arguments are not altered");
    assert!(Object::is(&args.get(1), &obj), "object arguments are passed by identity");
    assert!(Object::is(&get(&call, "self"), &js("return console;", &JsValue::NULL)), "`this` is console");

    let e = entries();
    assert_eq!(e.length(), 1);
    let first = e.get(0);
    assert_eq!(get(&first, "ke").as_string().as_deref(), Some("KE-1"));
    assert_eq!(get(&first, "level").as_string().as_deref(), Some("warn"));
    let fields = get(&first, "fields");
    assert_eq!(get(&fields, "key_id").as_string().as_deref(), Some("AAAAAAAAAA0"));
    assert_eq!(get(&fields, "counter").as_f64(), Some(13.0));
    assert_eq!(get(&fields, "diverged").as_bool(), Some(true));
    let msg = get(&first, "message").as_string().unwrap();
    assert!(!msg.contains("syt_YWxpY2U"), "token redacted before storage: {msg}");

    // Non-matching lines reach the original and are not stored.
    js("console.warn('Sync connection lost; retrying');", &JsValue::NULL);
    assert_eq!(calls(&rec), 2);
    assert_eq!(entries().length(), 1);
    uninstall_crypto_diag_log();
    restore("warn", &rec);
    reset();
}

#[wasm_bindgen_test]
fn install_is_idempotent_and_uninstall_restores() {
    reset();
    let before: Vec<JsValue> =
        ["debug", "log", "info", "warn", "error"].iter().map(|l| get(&js("return console;", &JsValue::NULL), l)).collect();
    assert!(install_crypto_diag_log(JsValue::UNDEFINED).unwrap());
    let wrapped = get(&js("return console;", &JsValue::NULL), "warn");
    assert!(!Object::is(&wrapped, &before[3]));
    assert!(!install_crypto_diag_log(JsValue::UNDEFINED).unwrap(), "second install is a no-op");
    assert!(Object::is(&get(&js("return console;", &JsValue::NULL), "warn"), &wrapped), "not wrapped twice");
    assert!(uninstall_crypto_diag_log());
    assert!(!uninstall_crypto_diag_log());
    for (i, l) in ["debug", "log", "info", "warn", "error"].iter().enumerate() {
        assert!(Object::is(&get(&js("return console;", &JsValue::NULL), l), &before[i]), "{l} restored");
    }
    assert!(install_crypto_diag_log(JsValue::from_str("nonsense")).is_err(), "bad options are a JsError");
    reset();
}

#[wasm_bindgen_test]
fn odd_arguments_never_throw_and_still_pass_through() {
    reset();
    let rec = counting("error");
    install_crypto_diag_log(JsValue::UNDEFINED).unwrap();
    let n = js(
        r#"
        const cyclic = { a: 1 }; cyclic.self = cyclic;
        const throwing = { get boom() { throw new Error('getter'); } };
        const badJson = { toJSON() { throw new Error('toJSON'); } };
        const { proxy, revoke } = Proxy.revocable({}, {}); revoke();
        const nullProto = Object.create(null);
        const big = 'x'.repeat(1 << 20) + ' missing key at index 1 for participant @b:hs:D';
        const odd = [cyclic, throwing, badJson, proxy, nullProto, 10n, Symbol('s'), () => 1, undefined, null, NaN,
                     new Error('plain'), Object.defineProperty(new Error('x'), 'message', { get() { throw new Error('m'); } }),
                     new Uint8Array(4), new Map([[1, 2]]), big];
        for (const a of odd) console.error(a);
        console.error(...odd);
        console.error();
        return odd.length + 2;
        "#,
        &JsValue::NULL,
    );
    assert_eq!(calls(&rec) as f64, n.as_f64().unwrap(), "the original ran once per call");
    // The 1 MiB line matched (KE-2 text at its end is past the render cap, so it must not have been found
    // by reading the whole string); what matters is that nothing threw and entries are bounded.
    for e in entries().iter() {
        assert!(get(&e, "message").as_string().unwrap().len() <= 4096 + 64);
    }
    uninstall_crypto_diag_log();
    restore("error", &rec);
    reset();
}

#[wasm_bindgen_test]
fn logging_from_inside_capture_does_not_recurse() {
    reset();
    let rec = counting("warn");
    install_crypto_diag_log(JsValue::UNDEFINED).unwrap();
    // Rendering this argument logs again: the tap runs no app code (no toJSON,
    // no getters), but reading an own property descriptor still reaches a
    // Proxy's trap. The inner call must go straight to the original.
    js(
        "let once = true;
         const sneaky = new Proxy({}, { getOwnPropertyDescriptor(t, k) {
           if (once) { once = false; console.warn('inner ' + arg); }
           return Reflect.getOwnPropertyDescriptor(t, k);
         } });
         console.warn(arg, sneaky);",
        &KE1.into(),
    );
    assert_eq!(calls(&rec), 2, "outer and inner call each reached the original once");
    assert_eq!(entries().length(), 1, "only the outer call was captured");
    uninstall_crypto_diag_log();
    restore("warn", &rec);
    reset();
}

#[wasm_bindgen_test]
fn ring_buffer_is_bounded_and_counts_survive() {
    reset();
    let rec = counting("warn");
    let opts = js("return { capacity: 5 };", &JsValue::NULL);
    install_crypto_diag_log(opts).unwrap();
    js("for (let i = 0; i < 50; i++) console.warn(`missing key at index ${i} for participant @b:hs:DEV`);", &JsValue::NULL);
    assert_eq!(entries().length(), 5);
    let counts = get_crypto_diag_counts();
    assert_eq!(get(&get(&counts, "KE-2"), "count").as_f64(), Some(50.0));
    assert_eq!(get(&get(&entries().get(0), "fields"), "index").as_f64(), Some(45.0));
    uninstall_crypto_diag_log();
    restore("warn", &rec);
    reset();
}

#[wasm_bindgen_test]
fn window_errors_and_rejections_are_recorded() {
    reset();
    install_crypto_diag_log(JsValue::UNDEFINED).unwrap();
    js(
        "window.dispatchEvent(new ErrorEvent('error', { error: new Error('Error decrypting event (id=$ev1 type=m.room.encrypted): DecryptionError[msg: missing field `algorithm` at line 1 column 138]'), message: 'x' }));
         window.dispatchEvent(new PromiseRejectionEvent('unhandledrejection', { promise: Promise.resolve(), reason: new Error('AbortError: Restart delayed event timed out before the HS responded') }));",
        &JsValue::NULL,
    );
    let e = entries();
    assert_eq!(e.length(), 2);
    assert_eq!(get(&e.get(0), "level").as_string().as_deref(), Some("uncaught"));
    assert_eq!(get(&e.get(0), "ke").as_string().as_deref(), Some("KE-3"));
    assert_eq!(get(&get(&e.get(0), "fields"), "event_id").as_string().as_deref(), Some("$ev1"));
    assert_eq!(get(&e.get(1), "level").as_string().as_deref(), Some("unhandledrejection"));
    assert_eq!(get(&e.get(1), "ke").as_string().as_deref(), Some("KE-4"));
    uninstall_crypto_diag_log();
    reset();
}

#[wasm_bindgen_test]
fn report_is_complete_and_has_no_secrets() {
    reset();
    let rec = counting("warn");
    install_crypto_diag_log(JsValue::UNDEFINED).unwrap();
    js("console.warn(arg);", &KE1.into());
    let mx = js(
        "return { getUserId: () => '@alice:localhost', getDeviceId: () => 'DEVICEID', getSyncState: () => 'SYNCING',
                  getHomeserverUrl: () => 'http://localhost:8008', getCrypto: () => ({ getVersion: () => 'Rust SDK 0.16.0 (abc), Vodozemac 0.9.0' }) };",
        &JsValue::NULL,
    );
    let extra = js("return { appVersion: '4.12.1', sdkVersion: '41.7.0', note: 'password: \"hunter2\"', access_token: 'syt_abc_defghijklmnop_123456' };", &JsValue::NULL);
    let text = build_crypto_diag_report(mx, extra).unwrap();
    assert!(!text.contains("syt_"), "no token in the report");
    assert!(!text.contains("hunter2"), "no password in the report");
    let r = js_sys::JSON::parse(&text).unwrap();
    assert_eq!(get(&r, "schemaVersion").as_f64(), Some(1.0));
    assert_eq!(get(&get(&r, "session"), "userId").as_string().as_deref(), Some("@alice:localhost"));
    assert_eq!(get(&get(&r, "session"), "deviceId").as_string().as_deref(), Some("DEVICEID"));
    assert_eq!(get(&r, "syncState").as_string().as_deref(), Some("SYNCING"));
    assert_eq!(get(&r, "cryptoReady").as_bool(), Some(true));
    assert!(get(&get(&r, "versions"), "crypto").as_string().unwrap().contains("Vodozemac"));
    assert_eq!(get(&get(&get(&r, "counts"), "KE-1"), "count").as_f64(), Some(1.0));
    assert_eq!(js_sys::Array::from(&get(&r, "entries")).length(), 1);
    assert!(get(&get(&r, "redaction"), "total").as_f64().unwrap() >= 3.0);
    assert!(get(&get(&r, "capture"), "linesSeen").as_f64().unwrap() >= 1.0);
    // Odd inputs: a non-object mx is ignored, a non-object extra is a JsError.
    assert!(build_crypto_diag_report(JsValue::from(42), JsValue::UNDEFINED).is_ok());
    assert!(build_crypto_diag_report(JsValue::UNDEFINED, JsValue::from_str("x")).is_err());
    uninstall_crypto_diag_log();
    restore("warn", &rec);
    reset();
}

/// The app's `extra` is read from its own data properties: no getter, `toJSON`
/// or `toString` of the app runs, a cycle and a BigInt do not break the report.
#[wasm_bindgen_test]
fn report_extra_runs_no_app_code() {
    reset();
    let extra = js(
        "window.__ran = [];
         const inner = { level: 2, toJSON() { window.__ran.push('inner toJSON'); return {}; } };
         const e = { appVersion: '4.12.6', nested: inner, list: [1, 'two', null, inner], big: 10n, f() {}, toString() { window.__ran.push('toString'); return ''; } };
         Object.defineProperty(e, 'secretGetter', { get() { window.__ran.push('getter'); return 'x'; }, enumerable: true });
         e.self = e;
         e.toJSON = function () { window.__ran.push('toJSON'); return {}; };
         return e;",
        &JsValue::NULL,
    );
    let text = build_crypto_diag_report(JsValue::UNDEFINED, extra).unwrap();
    let ran = js("return window.__ran;", &JsValue::NULL);
    assert_eq!(js_sys::Array::from(&ran).length(), 0, "app code ran: {:?}", js_sys::JSON::stringify(&ran).ok());
    let r = js_sys::JSON::parse(&text).unwrap();
    let x = get(&r, "extra");
    assert_eq!(get(&get(&r, "versions"), "app").as_string().as_deref(), Some("4.12.6"));
    assert_eq!(get(&get(&x, "nested"), "level").as_f64(), Some(2.0));
    assert_eq!(js_sys::Array::from(&get(&x, "list")).length(), 4);
    assert!(get(&x, "secretGetter").is_undefined() && get(&x, "big").is_undefined() && get(&x, "f").is_undefined());
    reset();
}

#[wasm_bindgen_test]
async fn persistent_storage_with_and_without_the_api() {
    let r = request_persistent_storage().await;
    let status = get(&r, "status").as_string().unwrap();
    assert!(status == "persisted" || status == "not_persisted", "{status}");
    assert!(get(&get(&r, "estimate"), "quota").as_f64().unwrap() > 0.0);

    js("Object.defineProperty(navigator, 'storage', { value: undefined, configurable: true });", &JsValue::NULL);
    let r = request_persistent_storage().await;
    js("delete navigator.storage;", &JsValue::NULL);
    assert_eq!(get(&r, "status").as_string().as_deref(), Some("unsupported"));
    assert!(get(&r, "persisted").is_null());
    assert!(js_sys::Array::from(&get(&r, "notes")).length() >= 1);
    // The API is back.
    assert!(js("return typeof navigator.storage.persisted;", &JsValue::NULL).as_string().as_deref() == Some("function"));
}

const OPEN_DB: &str = "return new Promise((ok, err) => { const r = indexedDB.open(arg); r.onsuccess = () => { r.result.close(); ok(true); }; r.onerror = () => err(r.error); });";
const DELETE_DB: &str = "return new Promise((ok) => { const r = indexedDB.deleteDatabase(arg); r.onsuccess = () => ok(true); r.onerror = () => ok(false); r.onblocked = () => ok(false); });";

#[wasm_bindgen_test]
async fn crypto_store_consistency_detects_eviction() {
    reset();
    js(
        "localStorage.setItem('cinny_access_token', 'syt_x'); localStorage.setItem('cinny_device_id', 'EVICTDEV');
         localStorage.setItem('cinny_user_id', '@evict:localhost');
         ['seen','prefix','evicted'].forEach(k => localStorage.removeItem(`crypto-health:store-${k}:@evict:localhost|EVICTDEV`));",
        &JsValue::NULL,
    );
    let main = JsValue::from_str("matrix-js-sdk::matrix-sdk-crypto");
    let meta = JsValue::from_str("matrix-js-sdk::matrix-sdk-crypto-meta");
    js_async(DELETE_DB, &main).await;
    js_async(DELETE_DB, &meta).await;

    // Session, no store, never seen: a warning naming the store.
    let f = check_crypto_store_consistency().await;
    assert_eq!(get(&f, "id").as_string().as_deref(), Some("crypto_store_missing"));
    assert_eq!(get(&f, "level").as_string().as_deref(), Some("warning"));
    assert!(get(&f, "detail").as_string().unwrap().contains("matrix-js-sdk::matrix-sdk-crypto"));

    // Store present: consistent, and remembered.
    js_async(OPEN_DB, &main).await;
    js_async(OPEN_DB, &meta).await;
    assert!(check_crypto_store_consistency().await.is_null());

    // Store gone after we saw it: eviction, critical.
    js_async(DELETE_DB, &main).await;
    let f = check_crypto_store_consistency().await;
    assert_eq!(get(&f, "level").as_string().as_deref(), Some("critical"));
    assert_eq!(get(&f, "title").as_string().as_deref(), Some("crypto store evicted: KE-1 will follow"));

    // The report carries the finding and the store state.
    let r = js_sys::JSON::parse(&build_crypto_diag_report(JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap()).unwrap();
    assert_eq!(js_sys::Array::from(&get(&r, "findings")).length(), 1);
    assert_eq!(get(&get(&get(&r, "storage"), "cryptoStore"), "present").as_bool(), Some(false));
    assert_eq!(get(&get(&r, "session"), "deviceId").as_string().as_deref(), Some("EVICTDEV"));

    js_async(DELETE_DB, &meta).await;
    js("['cinny_access_token','cinny_device_id','cinny_user_id'].concat(['seen','prefix','evicted'].map(k => `crypto-health:store-${k}:@evict:localhost|EVICTDEV`)).forEach(k => localStorage.removeItem(k));", &JsValue::NULL);
    reset();
}

#[wasm_bindgen_test]
async fn a_forks_session_list_and_own_store_name_are_followed_through_an_eviction() {
    // Sable's layout: the session in `matrixSessions` (the active one named by
    // `matrixActiveSession`), the rust crypto store under its own prefix `sync<userId>`.
    reset();
    js(
        "['cinny_access_token','cinny_device_id','cinny_user_id'].forEach(k => localStorage.removeItem(k));
         localStorage.setItem('matrixSessions', JSON.stringify([{ baseUrl: 'http://hs', userId: '@other:localhost', deviceId: 'OTHER', accessToken: 'syt_a' },
           { baseUrl: 'http://hs', userId: '@fork:localhost', deviceId: 'FORKDEV', accessToken: 'syt_b' }]));
         localStorage.setItem('matrixActiveSession', JSON.stringify('@fork:localhost'));",
        &JsValue::NULL,
    );
    let own = JsValue::from_str("sync@fork:localhost::matrix-sdk-crypto");
    js_async(OPEN_DB, &own).await;
    assert!(check_crypto_store_consistency().await.is_null(), "present under the fork's own name");
    let stored = js("return localStorage.getItem('crypto-health:store-prefix:@fork:localhost|FORKDEV');", &JsValue::NULL);
    assert_eq!(stored.as_string().as_deref(), Some("sync@fork:localhost"), "the name is remembered for the session");

    js_async(DELETE_DB, &own).await;
    let f = check_crypto_store_consistency().await;
    assert_eq!(get(&f, "level").as_string().as_deref(), Some("critical"), "seen, then gone: eviction");
    assert!(get(&f, "detail").as_string().unwrap().contains("@fork:localhost (device FORKDEV)"));
    let r = js_sys::JSON::parse(&build_crypto_diag_report(JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap()).unwrap();
    let store = get(&get(&r, "storage"), "cryptoStore");
    assert_eq!(get(&store, "name").as_string().as_deref(), Some("sync@fork:localhost::matrix-sdk-crypto"));
    assert_eq!(get(&get(&r, "session"), "deviceId").as_string().as_deref(), Some("FORKDEV"));
    assert!(!js_sys::JSON::stringify(&r).unwrap().as_string().unwrap().contains("syt_b"));

    // The next page load (fresh state): rust crypto has re-created the store under the same
    // device. The check finds it present, and the report still carries the eviction.
    reset();
    js_async(OPEN_DB, &own).await;
    assert!(check_crypto_store_consistency().await.is_null(), "present again");
    let r = js_sys::JSON::parse(&build_crypto_diag_report(JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap()).unwrap();
    let findings = js_sys::Array::from(&get(&r, "findings"));
    let f = findings.iter().find(|f| get(f, "id").as_string().as_deref() == Some("crypto_store_missing"));
    let f = f.expect("the eviction an earlier page load found is still in the report");
    assert_eq!(get(&f, "level").as_string().as_deref(), Some("critical"));
    assert_eq!(get(&get(&get(&f, "evidence"), "presentAgain"), "sameDevice").as_bool(), Some(true));
    js_async(DELETE_DB, &own).await;

    js("['matrixSessions','matrixActiveSession'].concat(['seen','prefix','evicted'].map(k => `crypto-health:store-${k}:@fork:localhost|FORKDEV`)).forEach(k => localStorage.removeItem(k));", &JsValue::NULL);
    reset();
}

/// A client started before the wasm was loaded re-creates an evicted store before the first
/// check: that check judges the list the page had at import, then today's, which adds to it.
#[wasm_bindgen_test]
async fn the_first_check_judges_the_databases_listed_at_import() {
    reset();
    crypto_health::js::tap_uninstall();
    js(
        "['matrixSessions','matrixActiveSession'].forEach(k => localStorage.removeItem(k));
         localStorage.setItem('cinny_access_token', 'syt_x'); localStorage.setItem('cinny_device_id', 'IMPORTDEV');
         localStorage.setItem('cinny_user_id', '@import:localhost');
         ['seen','prefix','evicted'].forEach(k => localStorage.removeItem(`crypto-health:store-${k}:@import:localhost|IMPORTDEV`));",
        &JsValue::NULL,
    );
    let main = JsValue::from_str("matrix-js-sdk::matrix-sdk-crypto");
    js_async(OPEN_DB, &main).await;
    assert!(crypto_health::js::tap_early());
    assert!(check_crypto_store_consistency().await.is_null(), "present at import and now: consistent, and seen");
    crypto_health::js::tap_uninstall();

    // The next page load: the store is gone when the package is imported; the client then
    // re-creates it under the same device before the wasm's first check.
    reset();
    js_async(DELETE_DB, &main).await;
    assert!(crypto_health::js::tap_early());
    js_async(OPEN_DB, &main).await;
    let f = check_crypto_store_consistency().await;
    assert_eq!(
        get(&f, "id").as_string().as_deref(),
        Some("crypto_store_missing"),
        "gone at import: {:?}",
        js_sys::JSON::stringify(&f).ok()
    );
    assert_eq!(get(&f, "level").as_string().as_deref(), Some("critical"));
    let r = js_sys::JSON::parse(&build_crypto_diag_report(JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap()).unwrap();
    assert_eq!(get(&get(&get(&r, "storage"), "cryptoStore"), "present").as_bool(), Some(true), "today's list follows");
    let findings = js_sys::Array::from(&get(&r, "findings"));
    let f = findings
        .iter()
        .find(|f| get(f, "id").as_string().as_deref() == Some("crypto_store_missing"))
        .expect("the finding is in the report");
    assert_eq!(get(&get(&get(&f, "evidence"), "presentAgain"), "sameDevice").as_bool(), Some(true));
    // The import-time list is judged once: a later check is about now.
    assert!(check_crypto_store_consistency().await.is_null());
    crypto_health::js::tap_uninstall();

    // A login since the import (no store seen for the new device): the list of import time, which
    // predates its store, is not judged.
    reset();
    js("localStorage.setItem('cinny_device_id', 'NEWLOGIN');", &JsValue::NULL);
    js_async(DELETE_DB, &main).await;
    assert!(crypto_health::js::tap_early());
    js_async(OPEN_DB, &main).await;
    assert!(check_crypto_store_consistency().await.is_null(), "a new login's store, created after the import");
    crypto_health::js::tap_uninstall();

    // The same login, its store seen by another tab after this page's import (found by stage
    // forks: a second tab opened right after a fresh login checks first): still not judged.
    reset();
    js("localStorage.setItem('cinny_device_id', 'LATERSEEN'); localStorage.removeItem('crypto-health:store-seen:@import:localhost|LATERSEEN');", &JsValue::NULL);
    js_async(DELETE_DB, &main).await;
    assert!(crypto_health::js::tap_early());
    js_async("return new Promise((ok) => setTimeout(ok, 5));", &JsValue::NULL).await;
    js_async(OPEN_DB, &main).await;
    js("localStorage.setItem('crypto-health:store-seen:@import:localhost|LATERSEEN', String(Date.now()));", &JsValue::NULL);
    assert!(check_crypto_store_consistency().await.is_null(), "a store first seen after this page's import");
    crypto_health::js::tap_uninstall();

    js_async(DELETE_DB, &main).await;
    js("['cinny_access_token','cinny_device_id','cinny_user_id'].concat(['IMPORTDEV','NEWLOGIN','LATERSEEN'].flatMap(d => ['seen','prefix','evicted'].map(k => `crypto-health:store-${k}:@import:localhost|${d}`))).forEach(k => localStorage.removeItem(k));", &JsValue::NULL);
    reset();
}

#[wasm_bindgen_test]
fn classify_message_is_exposed() {
    assert!(classify_message("hello").is_null());
    let c = classify_message("key set not found for @b:hs:DEV at index 2");
    assert_eq!(get(&c, "signature").as_string().as_deref(), Some("ke2.key_set_not_found"));
}

use crypto_health::js::{tap_install, tap_stats, tap_uninstall};

/// A sink that throws (as a trapped wasm instance does after a panic) must not
/// take the page's logging down: the original still runs, the tap stops feeding it.
#[wasm_bindgen_test]
fn a_throwing_sink_does_not_break_logging() {
    reset();
    let rec = counting("warn");
    let sink = js("return () => { throw new WebAssembly.RuntimeError('unreachable'); };", &JsValue::NULL);
    assert!(tap_install(&sink, vec!["One time key ".into()], false, false));
    js("console.warn(arg); console.warn(arg); console.warn('plain');", &KE1.into());
    assert_eq!(calls(&rec), 3);
    let st = tap_stats();
    assert_eq!(get(&st, "sinkBroken").as_bool(), Some(true));
    assert_eq!(get(&st, "errors").as_f64(), Some(1.0));
    assert_eq!(get(&st, "dropped").as_f64(), Some(1.0));
    assert!(tap_uninstall());
    restore("warn", &rec);
    reset();
}

/// Widget messages count only from a frame the tap adopted: the host posting
/// a widget-shaped message to itself (any foreign sender) is ignored and
/// counted, one posted by an adopted frame reaches the sink.
#[wasm_bindgen_test]
async fn widget_messages_from_foreign_senders_are_ignored() {
    reset();
    let seen = js(
        "window.__widgetSeen = []; return (level, text) => { if (level === 'widget') window.__widgetSeen.push(text); };",
        &JsValue::NULL,
    );
    assert!(tap_install(&seen, vec!["One time key ".into()], false, true));
    let msg = "{api: 'fromWidget', widgetId: 'w1', requestId: 'r1', action: 'send_event', data: {type: 'm.room.message'}}";
    let code = format!(
        "window.postMessage({msg}, '*');
         const f = document.createElement('iframe');
         f.srcdoc = \"<script>parent.postMessage({{api: 'fromWidget', widgetId: 'w1', requestId: 'r2', action: 'send_event', data: {{}}}}, '*')</script>\";
         document.body.appendChild(f);
         window.__widgetFrame = f;
         return new Promise((r) => setTimeout(r, 500));"
    );
    js_async(&code, &JsValue::NULL).await;
    let st = tap_stats();
    let seen = js("return window.__widgetSeen;", &JsValue::NULL);
    let texts: Vec<String> = js_sys::Array::from(&seen).iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(texts.len(), 1, "only the adopted frame's message: {texts:?}");
    assert!(texts[0].contains("\"r2\""), "{texts:?}");
    assert_eq!(get(&st, "widgetForeign").as_f64(), Some(1.0), "the host's own message is foreign");
    js("window.__widgetFrame.remove();", &JsValue::NULL);
    assert!(tap_uninstall());
    reset();
}
