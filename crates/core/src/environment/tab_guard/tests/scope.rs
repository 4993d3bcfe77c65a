//! Lock names of a scope.

use crate::environment::tab_guard::*;

#[test]
fn every_tab_of_an_origin_takes_the_origin_lock_first() {
    let before_login = Scope::new("http://127.0.0.1:8080", None, None);
    let after_login = Scope::new("http://127.0.0.1:8080", Some("@a:hs"), Some("DEV"));
    assert_eq!(before_login.names(), ["crypto-health:tab-guard:http://127.0.0.1:8080||"]);
    assert_eq!(after_login.lock_name, "crypto-health:tab-guard:http://127.0.0.1:8080|@a:hs|DEV");
    assert_eq!(
        after_login.names(),
        ["crypto-health:tab-guard:http://127.0.0.1:8080||", "crypto-health:tab-guard:http://127.0.0.1:8080|@a:hs|DEV"]
    );
    // Whatever the login state, the first lock two tabs of one origin take is the same one.
    assert_eq!(before_login.names()[0], after_login.names()[0]);
    assert_ne!(Scope::new("http://localhost:8080", None, None).names()[0], before_login.names()[0]);
}
