//! Browser tests of the multi-tab guard's API (headless Chromium). The other
//! "tabs" are played by this page itself: Web Locks and BroadcastChannel are
//! shared by every context of an origin, a page included. Each test uses its
//! own user id, so its own lock name, and releases the guard at the end.
//! The real multi-tab proof (separate pages, close, crash) is tests/tabs/.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's panic is its failure report")]

use crypto_health::*;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(code: &str, arg: &JsValue) -> JsValue {
    Function::new_with_args("arg", code).call1(&JsValue::NULL, arg).expect(code)
}

async fn js_async(code: &str, arg: &JsValue) -> JsValue {
    let p: Promise = js(code, arg).dyn_into().expect("a promise");
    JsFuture::from(p).await.expect(code)
}

async fn settle(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn s(v: &JsValue, k: &str) -> Option<String> {
    get(v, k).as_string()
}

fn n(v: &JsValue, k: &str) -> f64 {
    get(v, k).as_f64().unwrap_or(f64::NAN)
}

async fn sleep(ms: u32) {
    js_async("return new Promise((r) => setTimeout(r, arg));", &ms.into()).await;
}

/// Options `{ userId, deviceId: 'DEV', ...extra }` with recording callbacks:
/// every call lands in `window.__guardCalls` as `[name, cause, role]`.
fn options(user: &str, extra: &str) -> JsValue {
    js(
        &format!(
            "window.__guardCalls = [];
             const rec = (name) => (c) => window.__guardCalls.push([name, c.cause, c.role]);
             return Object.assign({{ userId: arg, deviceId: 'DEV', onPrimary: rec('onPrimary'), onSecondary: rec('onSecondary'),
               onStolen: rec('onStolen'), onPrimaryGone: rec('onPrimaryGone') }}, {extra});"
        ),
        &user.into(),
    )
}

fn calls() -> String {
    js("return JSON.stringify(window.__guardCalls || []);", &JsValue::NULL).as_string().unwrap()
}

fn lock_name(user: &str) -> String {
    js("return 'crypto-health:tab-guard:' + location.origin + '|' + arg + '|DEV';", &user.into()).as_string().unwrap()
}

/// Another "tab" holding the lock: resolves once held; `window.__other` has
/// `release()` and `lost` (set when the hold ended by a steal).
async fn other_tab_holds(name: &str) {
    js_async(
        "return new Promise((held) => {
           const o = window.__other = { lost: false };
           navigator.locks.request(arg, () => { held(); return new Promise((r) => { o.release = r; }); })
             .catch(() => { o.lost = true; });
         });",
        &name.into(),
    )
    .await;
}

async fn wait_role(role: &str, ms: u32) -> bool {
    for _ in 0..(ms / 20) {
        if s(&get_tab_guard_state(), "role").as_deref() == Some(role) {
            return true;
        }
        sleep(20).await;
    }
    false
}

fn without(apis: &str) {
    // `locks`: a browser without Web Locks; `storage`: no usable localStorage.
    js(
        "window.__savedLs = Object.getOwnPropertyDescriptor(window, 'localStorage');
         if (arg.includes('locks')) Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true });
         if (arg.includes('storage')) Object.defineProperty(window, 'localStorage', { configurable: true, get() { throw new DOMException('denied', 'SecurityError'); } });",
        &apis.into(),
    );
}

fn restore_apis() {
    js(
        "delete navigator.locks;
         if (window.__savedLs) Object.defineProperty(window, 'localStorage', window.__savedLs); else delete window.localStorage;",
        &JsValue::NULL,
    );
    assert!(js("return !!navigator.locks && !!window.localStorage;", &JsValue::NULL).as_bool().unwrap());
}

/// Tests share one page: start from no guard whatever an earlier test left.
fn fresh() {
    release_tab_guard();
}

async fn lock_free(name: &str) -> bool {
    for _ in 0..25 {
        let free = js_async("return navigator.locks.request(arg, { ifAvailable: true }, (l) => l !== null);", &name.into()).await;
        if free.as_bool() == Some(true) {
            return true;
        }
        sleep(20).await;
    }
    false
}

#[wasm_bindgen_test]
async fn web_locks_primary_state_report_and_release() {
    fresh();
    let early = settle(take_over_tab_guard()).await;
    assert!(early.is_err(), "takeOverTabGuard before acquireTabGuard rejects");
    assert_eq!(s(&early.unwrap_err(), "code").as_deref(), Some("TAB_GUARD_NOT_ACQUIRED"), "a stable code beside the message");

    let role = settle(acquire_tab_guard(options("@shape:hs", "{}"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("primary"));
    let st = get_tab_guard_state();
    assert_eq!(s(&st, "mechanism").as_deref(), Some("web-locks"));
    assert_eq!(s(&st, "role").as_deref(), Some("primary"));
    assert_eq!(s(&st, "lockName"), Some(lock_name("@shape:hs")), "scoped by origin + user + device");
    assert!(s(&st, "tabId").is_some());
    assert!(n(&st, "since") > 1.7e12, "since is Unix ms");

    // Idempotent: a second acquire answers the current role; taking over what we hold is a no-op.
    let again = settle(acquire_tab_guard(JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(again.as_string().as_deref(), Some("primary"));
    let taken = settle(take_over_tab_guard()).await.unwrap();
    assert_eq!(taken.as_string().as_deref(), Some("primary"));

    // The lock is really held: another holder cannot get it now.
    let free =
        js_async("return navigator.locks.request(arg, { ifAvailable: true }, (l) => l !== null);", &lock_name("@shape:hs").into()).await;
    assert_eq!(free.as_bool(), Some(false));

    let report: serde_json::Value =
        serde_json::from_str(&build_crypto_diag_report(JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap()).unwrap();
    assert_eq!(report["tabGuard"]["role"], "primary");
    assert_eq!(report["tabGuard"]["mechanism"], "web-locks");
    assert_eq!(report["tabGuard"]["events"][0]["cause"], "acquired");

    assert!(release_tab_guard());
    assert!(!release_tab_guard(), "second release is a no-op");
    assert_eq!(s(&get_tab_guard_state(), "role").as_deref(), Some("released"));
    assert!(lock_free(&lock_name("@shape:hs")).await, "released lock is free");
    assert!(settle(take_over_tab_guard()).await.is_err(), "takeOverTabGuard after release rejects");
}

#[wasm_bindgen_test]
async fn secondary_takes_over_when_the_holder_goes_then_sees_a_steal() {
    fresh();
    let before = get_tab_guard_state();
    let name = lock_name("@auto:hs");
    other_tab_holds(&name).await;
    let role = settle(acquire_tab_guard(options("@auto:hs", "{ autoTakeover: true }"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("secondary"));
    assert_eq!(calls(), r#"[["onSecondary","acquired","secondary"]]"#);

    // The holder goes away: the queued request is granted at once.
    js("window.__other.release();", &JsValue::NULL);
    assert!(wait_role("primary", 2000).await, "auto takeover");
    let st = get_tab_guard_state();
    assert_eq!(n(&st, "takeovers") - n(&before, "takeovers"), 1.0, "counters are the page's totals");
    assert!(calls().contains(r#"["onPrimary","takeover","primary"]"#), "{}", calls());

    // Another tab steals: onStolen, role secondary.
    js_async(
        "return new Promise((held) => {
           const o = window.__thief = {};
           navigator.locks.request(arg, { steal: true }, () => { held(); return new Promise((r) => { o.release = r; }); });
         });",
        &name.into(),
    )
    .await;
    assert!(wait_role("secondary", 2000).await, "stolen");
    assert!(calls().contains(r#"["onStolen","stolen","secondary"]"#), "{}", calls());
    assert_eq!(n(&get_tab_guard_state(), "stolen") - n(&before, "stolen"), 1.0);

    // autoTakeover: when the thief leaves, this tab is primary again.
    js("window.__thief.release();", &JsValue::NULL);
    assert!(wait_role("primary", 2000).await);
    assert_eq!(n(&get_tab_guard_state(), "takeovers") - n(&before, "takeovers"), 2.0);
    assert!(release_tab_guard());
}

#[wasm_bindgen_test]
async fn take_over_steals_and_a_waiting_tab_hears_the_primary_is_gone() {
    fresh();
    let name = lock_name("@steal:hs");
    other_tab_holds(&name).await;
    let role = settle(acquire_tab_guard(options("@steal:hs", "{}"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("secondary"));
    let taken = settle(take_over_tab_guard()).await.unwrap();
    assert_eq!(taken.as_string().as_deref(), Some("primary"));
    sleep(20).await;
    assert_eq!(js("return window.__other.lost;", &JsValue::NULL).as_bool(), Some(true), "the old holder's lock promise rejected");
    assert!(calls().contains(r#"["onPrimary","steal","primary"]"#), "{}", calls());
    assert!(release_tab_guard());

    // Without autoTakeover a secondary does not take the lock, it is told the primary left.
    other_tab_holds(&name).await;
    let role = settle(acquire_tab_guard(options("@steal:hs", "{}"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("secondary"));
    js("window.__other.release();", &JsValue::NULL);
    for _ in 0..50 {
        if get(&get_tab_guard_state(), "primaryGone").as_bool() == Some(true) {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(get(&get_tab_guard_state(), "primaryGone").as_bool(), Some(true));
    assert_eq!(s(&get_tab_guard_state(), "role").as_deref(), Some("secondary"));
    assert!(calls().contains(r#"["onPrimaryGone","primary-gone","secondary"]"#), "{}", calls());
    assert!(lock_free(&name).await, "a secondary without autoTakeover does not keep the lock");
    assert!(release_tab_guard());
}

#[wasm_bindgen_test]
async fn lease_fallback_without_web_locks() {
    fresh();
    without("locks");
    let name = lock_name("@lease:hs");
    let role = settle(acquire_tab_guard(options("@lease:hs", "{}"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("primary"));
    let st = get_tab_guard_state();
    assert_eq!(s(&st, "mechanism").as_deref(), Some("local-storage"));
    let notes = js("return JSON.stringify(arg.notes);", &st).as_string().unwrap();
    assert!(notes.contains("localStorage lease"), "{notes}");
    let lease = js("return JSON.parse(localStorage.getItem(arg));", &name.clone().into());
    assert_eq!(s(&lease, "owner"), s(&st, "tabId"), "the lease names this tab");
    assert!(release_tab_guard());
    assert!(js("return localStorage.getItem(arg) === null;", &name.clone().into()).as_bool().unwrap(), "release clears the lease");

    // A lease left by a crashed tab: nobody answers the ping, so it is taken.
    js("localStorage.setItem(arg, JSON.stringify({ owner: 'ghost', beat: 9, ts: Date.now() + 3600e3 }));", &name.clone().into());
    let role = settle(acquire_tab_guard(options("@lease:hs", "{}"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("primary"), "a dead lease (even dated an hour ahead) is taken");
    assert!(release_tab_guard());

    // A live holder (played by a BroadcastChannel in this page) answers pings: this tab is secondary,
    // and stays so while the holder answers though its lease does not change (throttled timers).
    let holder = js(
        "const c = new BroadcastChannel(arg); const h = { c, answer: true };
         localStorage.setItem(arg, JSON.stringify({ owner: 'live', beat: 1, ts: 0 }));
         c.onmessage = (e) => { if (h.answer && e.data.type === 'ping') c.postMessage({ v: 1, from: 'live', ts: Date.now(), type: 'pong' }); };
         return h;",
        &name.clone().into(),
    );
    let role = settle(acquire_tab_guard(options("@lease:hs", "{ autoTakeover: true }"))).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("secondary"));
    sleep(2600).await;
    assert_eq!(s(&get_tab_guard_state(), "role").as_deref(), Some("secondary"), "a holder that answers keeps its lease");
    // The holder dies (stops answering): taken after the suspect time + ping timeout.
    js("arg.answer = false;", &holder);
    let before = n(&get_tab_guard_state(), "takeovers");
    assert!(wait_role("primary", 5000).await, "dead holder replaced");
    assert_eq!(n(&get_tab_guard_state(), "takeovers") - before, 1.0);
    js("arg.c.close();", &holder);
    assert!(release_tab_guard());
    restore_apis();
}

#[wasm_bindgen_test]
async fn unsupported_without_web_locks_and_local_storage_never_throws() {
    fresh();
    without("locks storage");
    let role = settle(acquire_tab_guard(options("@none:hs", "{}"))).await;
    let st = get_tab_guard_state();
    let taken = settle(take_over_tab_guard()).await;
    let report = build_crypto_diag_report(JsValue::UNDEFINED, JsValue::UNDEFINED);
    let released = release_tab_guard();
    restore_apis();
    assert_eq!(role.unwrap().as_string().as_deref(), Some("unsupported"));
    assert_eq!(s(&st, "mechanism").as_deref(), Some("none"));
    assert_eq!(s(&st, "role").as_deref(), Some("unsupported"));
    assert_eq!(taken.unwrap().as_string().as_deref(), Some("unsupported"));
    let report: serde_json::Value = serde_json::from_str(&report.unwrap()).unwrap();
    assert_eq!(report["tabGuard"]["role"], "unsupported");
    assert!(report["tabGuard"]["notes"][0].as_str().unwrap().contains("neither Web Locks"));
    assert!(released);
}

#[wasm_bindgen_test]
async fn bad_options_reject_with_errors_and_throwing_callbacks_are_contained() {
    fresh();
    for bad in ["'primary'", "{ userId: 5 }", "{ onStolen: 'no' }", "{ timeoutMs: -1 }", "{ autoTakeover: 'yes' }"] {
        let opts = js(&format!("return {bad};"), &JsValue::NULL);
        let r = settle(acquire_tab_guard(opts)).await;
        let err = r.expect_err(bad);
        assert!(err.is_instance_of::<js_sys::Error>(), "{bad}: a real Error");
        assert_eq!(s(&err, "code").as_deref(), Some("INVALID_ARGUMENT"), "{bad}: a stable code beside the message");
        assert!(s(&err, "message").is_some_and(|m| m.starts_with("acquireTabGuard: ")), "{bad}");
    }
    assert_eq!(s(&get_tab_guard_state(), "role").as_deref().map(|r| r == "idle" || r == "released"), Some(true), "nothing acquired");

    let name = lock_name("@throw:hs");
    other_tab_holds(&name).await;
    let opts = js("return { userId: '@throw:hs', deviceId: 'DEV', onSecondary() { throw new Error('app bug'); } };", &JsValue::NULL);
    let role = settle(acquire_tab_guard(opts)).await.unwrap();
    assert_eq!(role.as_string().as_deref(), Some("secondary"));
    let notes = js("return JSON.stringify(arg.notes);", &get_tab_guard_state()).as_string().unwrap();
    assert!(notes.contains("callback threw: app bug"), "{notes}");
    assert!(release_tab_guard());
    js("window.__other.release();", &JsValue::NULL);
}
