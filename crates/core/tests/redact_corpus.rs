//! A corpus of the forms real software prints (matrix-js-sdk, matrix-rust-sdk
//! tracing, Synapse, MAS, Element Call, HAR, localStorage dumps of Cinny and
//! Element, shells and config files): each secret line must come out without
//! its secret, each identifier line unchanged. The figures are printed
//! (`cargo test -p crypto-health-core --test redact_corpus -- --nocapture`).

use crypto_health_core::evidence::redact::{redact, RedactionCounts};

/// (line, the secrets in it). Tokens and keys here are made up.
const SECRET_LINES: &[(&str, &[&str])] = &[
    // localStorage dumps (Cinny, Element)
    (
        r#"{"cinny_access_token":"Tq0vB3kLm9aZ","cinny_device_id":"ABCDEFGHIJ","cinny_hs_base_url":"https://matrix.example.org"}"#,
        &["Tq0vB3kLm9aZ"],
    ),
    (r#"localStorage: mx_access_token = "hunter2tokenvalue", mx_user_id = "@alice:example.org""#, &["hunter2tokenvalue"]),
    ("mx_refresh_token=abcdefabcdef123", &["abcdefabcdef123"]),
    ("MATRIX_ACCESS_TOKEN=plainlowercasetoken", &["plainlowercasetoken"]),
    (r#"config = { botAccessToken: "bot-secret-value", homeserver: "https://hs" }"#, &["bot-secret-value"]),
    (r#"{"newPasswordConfirm":"Tr0ub4dor&3"}"#, &["Tr0ub4dor&3"]),
    ("smtp_pass: correcthorse", &["correcthorse"]),
    ("turn_shared_secret: n0t-so-secret", &["n0t-so-secret"]),
    ("admin_token = 'adm1n-t0k3n'", &["adm1n-t0k3n"]),
    ("LIVEKIT_SECRET=lk_secret_value_here", &["lk_secret_value_here"]),
    ("recaptcha_private_key: 6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe", &["6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe"]),
    // E2EE private material under ordinary names
    (
        r#"{"master_key":"c2VjcmV0bWFzdGVya2V5Ynl0ZXM","self_signing_key":"shortkeyA","user_signing_key":"shortkeyB"}"#,
        &["c2VjcmV0bWFzdGVya2V5Ynl0ZXM", "shortkeyA", "shortkeyB"],
    ),
    (r#"{"m.megolm_backup.v1":"YmFja3VwIGtleSBieXRlcw"}"#, &["YmFja3VwIGtleSBieXRlcw"]),
    ("private_key: [183, 12, 99, 4, 200, 17, 3, 250, 81, 66]", &["183, 12, 99, 4, 200"]),
    (r#"{"privateKey":{"0":183,"1":12,"2":99,"3":4,"4":200,"5":17,"6":3,"7":250,"8":81}}"#, &["\"0\":183", "\"4\":200"]),
    (
        r#"{"file":{"key":{"alg":"A256CTR","k":"qcHVMSgYg-71CauWBezXI5qkaRb0LuIy-Wx5kIaHMIA"},"iv":"X85+XgHN+HEAAAAAAAAAAA"}}"#,
        &["qcHVMSgYg-71CauWBezXI5qkaRb0LuIy-Wx5kIaHMIA"],
    ),
    (
        r#"{"api":"fromWidget","action":"send_to_device","data":{"type":"io.element.call.encryption_keys","messages":{"@b:hs":{"DEV":{"keys":[{"index":0,"key":"dGhpcyBpcyBhIGNhbGwga2V5"}]}}}}}"#,
        &["dGhpcyBpcyBhIGNhbGwga2V5"],
    ),
    ("pickle_key=pk_s3cr3t", &["pk_s3cr3t"]),
    ("session_key: AQAAAABk7vL9a8cY2pQ1rX5tW3nK0mH4jF6gD9sB2vC1xZ0", &["AQAAAABk7vL9a8cY2pQ1rX5tW3nK0mH4jF6gD9sB2vC1xZ0"]),
    ("b'\\xb7\\x0c\\x63\\x04\\xc8\\x11\\x03\\xfa\\x51\\x42'", &["\\xb7\\x0c\\x63\\x04"]),
    // key and value apart
    (r#"{"name":"access_token","value":"harTokenValue1"}"#, &["harTokenValue1"]),
    (r#"{"name": "password", "value": "har pass phrase"}"#, &["har pass phrase"]),
    ("('password', 'tuple-secret')", &["tuple-secret"]),
    ("{:password => 'ruby secret'}", &["ruby secret"]),
    ("$password => 'perlsecret'", &["perlsecret"]),
    (r#"AccessToken("rust-tuple-token")"#, &["rust-tuple-token"]),
    ("{&quot;password&quot;:&quot;html-escaped&quot;}", &["html-escaped"]),
    ("my password is swordfish", &["swordfish"]),
    // tokens without a keyword
    ("GET /sso?jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl", &["eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiJhbGljZSJ9"]),
    ("logout?id_token_hint=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig", &["eyJhbGciOiJSUzI1NiJ9"]),
    ("client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjbGllbnQifQ.c2ln", &["eyJpc3MiOiJjbGllbnQifQ"]),
    (
        "Set-Cookie: oidc_session=MDAxOGxvY2F0aW9uIGV4YW1wbGUub3JnCjAwMWZpZGVudGlmaWVy; Path=/; HttpOnly",
        &["MDAxOGxvY2F0aW9uIGV4YW1wbGUub3Jn"],
    ),
    ("authorization=Bearer+syt_YWxpY2U_aBcDeFgHiJkLmNoPqRsT_1a2B3c", &["syt_YWxpY2U_aBcDeFgHiJkLmNoPqRsT_1a2B3c", "aBcDeFgHiJkL"]),
    ("redirect: https://app/callback code=Splx10BeZQQYbYS6WxSbIA&state=xyz", &["Splx10BeZQQYbYS6WxSbIA"]),
    (r#"{"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}"#, &["dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"]),
    ("device_code=GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS", &["GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"]),
    ("database: postgres://synapse_user:pgpass123@db.internal:5432/synapse", &["pgpass123"]),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----",
        &["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"],
    ),
    // values cut short
    ("password: 'it''s a s3cret phrase'", &["s a s3cret phrase", "s3cret"]),
    ("level=info password=correct horse battery staple user=@alice:example.org", &["correct", "horse", "battery", "staple"]),
    ("password: it's a secret", &["it's a secret"]),
    // matrix-js-sdk
    (
        "FetchHttpApi: --> POST https://hs/_matrix/client/v3/login {\"type\":\"m.login.password\",\"password\":\"js sdk pw\"}",
        &["js sdk pw"],
    ),
    ("MatrixClient: refreshToken returned mar_AbCdEfGhIjKlMnOpQrStUvWxYz0123_a1B2c3", &["mar_AbCdEfGhIjKlMnOpQrStUvWxYz0123_a1B2c3"]),
    // matrix-rust-sdk tracing
    (
        "2026-06-30T20:01:02Z DEBUG matrix_sdk::http_client: Sending request access_token=\"syt_Ym9i_QwErTyUiOpAsDfGh_0a1b2c\"",
        &["syt_Ym9i_QwErTyUiOpAsDfGh_0a1b2c"],
    ),
    ("SessionTokens { access_token: \"rust-debug-tok\", refresh_token: Some(\"rust-debug-ref\") }", &["rust-debug-tok", "rust-debug-ref"]),
    // Synapse
    (
        "synapse.access.http.8008 - 10.0.0.1 - GET /_matrix/client/v3/sync?access_token=synapseQueryTok&since=s1 HTTP/1.1",
        &["synapseQueryTok"],
    ),
    ("registration_shared_secret: \"regsecretvalue\"", &["regsecretvalue"]),
    ("macaroon_secret_key: macaroonsecretvalue", &["macaroonsecretvalue"]),
    ("form_secret: \"formsecretvalue\"", &["formsecretvalue"]),
    // MAS
    ("mas_cli::server: issued mat_0123456789abcdefABCDEFghijkl_aB3dE5 for session", &["mat_0123456789abcdefABCDEFghijkl_aB3dE5"]),
    ("client_secret: mas-client-secret-value", &["mas-client-secret-value"]),
    // Element Call / LiveKit
    ("livekit jwt: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ2aWRlbyI6eyJyb29tIjoiIX0fQ.Zm9vYmFy", &["eyJ2aWRlbyI6eyJyb29tIjoiIX0fQ"]),
    // recovery keys, random material, headers
    ("Recovery key: EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d", &["EsTc LW2K", "ZJV8 Q9fu"]),
    ("key EsTcLW2KPGiFwKEA3As5g5c4BXwkqeeJZJV8Q9fugUMNUE4d ok", &["EsTcLW2KPGiFwKEA3As5g5c4BXwkqeeJZJV8Q9fugUMNUE4d"]),
    ("Authorization: Bearer opaqueHomeserverToken42", &["opaqueHomeserverToken42"]),
    ("retrying with Bearer x9Y8z7", &["x9Y8z7"]),
    ("hex secret 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", &["9f86d081884c7d659a2feaa0c55ad015"]),
    ("conduit token 3kq0fz8t2wqj5hx1c7nv9m4b6dyr0p2s", &["3kq0fz8t2wqj5hx1c7nv9m4b6dyr0p2s"]),
    ("{\"msg\":\"failed\\npassword=escaped-newline-pw\"}", &["escaped-newline-pw"]),
    ("next=https%3A%2F%2Fhs%2Fx%3Faccess%5Ftoken%3Dencodedtok123%26b%3D2", &["encodedtok123"]),
    ("{\"password\": 123456}", &["123456"]),
    ("X-Auth-Token: xauthvalue", &["xauthvalue"]),
    ("Cookie: session=cookiesessionvalue; theme=dark", &["cookiesessionvalue"]),
    ("secret: rotated-secret-value", &["rotated-secret-value"]),
];

/// Lines that hold no secret; they must come out unchanged.
const ID_LINES: &[&str] = &[
    "@alice:example.org joined !OGEhHVWSdvArJzumhm:matrix.org",
    "#password:example.org is a room alias",
    "#syl_lounge_chat:example.org",
    "@syt_notifications:example.org",
    "$Xw7eKxqfT8xQ-Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4",
    "One time key signed_curve25519:AAAAAAAAAA0 already exists",
    "ed25519:ABCDEFGHIJ",
    "sender_key=curve25519:Xw7eKxqfT8xQ+Yk7gWOo1r9wQtH6D6yYxGX3GMkkHi4",
    "device_id=ABCDEFGHIJ user_id=@bob:example.org",
    "FetchHttpApi: --> GET https://hs/_matrix/client/v3/sync?filter=0&timeout=30000",
    "FetchHttpApi: <-- POST https://hs/_matrix/client/v3/keys/upload [65ms 400]",
    "GET /_matrix/client/v3/rooms/!abc:hs/messages?dir=b&from=t47409-4357353_219380_26003_2265",
    "token=t47409-4357353_219380_26003_2265",
    "since=s72594_4483_1934",
    "mxc://example.org/AbCdEfGhIjKlMnOpQrStUvWx",
    "MissingKey: missing key at index 3 for participant @bob:example.org:BOBDEVICE",
    "Error decrypting event (id=$ev1 type=m.room.encrypted sender=@b:hs): DecryptionError[msg: missing field `algorithm` at line 1 column 12]",
    "[MembershipManager] Reached maximum (10) retries cause by: Error: POST https://hs/_matrix/client/v3/delayed_events failed",
    "Sync connection lost, retrying in 5s",
    "2026-06-30T20:01:02.123Z WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event sender=\"@bob:example.org\"",
    "synapse.http.server - 123 - INFO - POST-42 - <XForwardedForRequest at 0x7f method='POST' uri='/_matrix/client/v3/keys/upload' clientproto='HTTP/1.1' site='8008'>",
    "{\"errcode\":\"M_UNKNOWN_TOKEN\",\"error\":\"Invalid access token passed.\",\"soft_logout\":false}",
    "{\"level\":\"INFO\",\"msg\":\"it's fine\",\"n\":1.5,\"ok\":true}",
    "widget 3f2b6c1e-8a4d-4c2e-9b1a-7d5e6f8a9b0c requestId 550e8400-e29b-41d4-a716-446655440000",
    "io.element.call.encryption_keys org.matrix.msc3401.call.member",
    "the token was rejected: M_UNKNOWN_TOKEN",
    "Bearer tokens are required",
    "{\"session_id\":\"sess1\",\"room_id\":\"!r:hs\",\"algorithm\":\"m.megolm.v1.aes-sha2\"}",
    "{\"errcode\":\"M_FORBIDDEN\",\"status_code\":403}",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.0 Safari/537.36",
    "Rust SDK 0.16.0 (abc), Vodozemac 0.9.0",
    "{\"key_id\":\"AAAAAAAAAA0\",\"counter\":13,\"key_id_scheme\":\"base64_u32\"}",
    "EncryptionKeysReceivedForParticipantMembership",
    "matrix_sdk_crypto::session_manager::sessions: Collected user/device pairs that are missing an Olm session",
    "password reset link sent",
    "{\"cinny_device_id\":\"ABCDEFGHIJ\",\"cinny_user_id\":\"@alice:example.org\"}",
    "code: 400",
    "POST https://hs/_matrix/client/v3/keys/query took 120ms",
    "m.room_key_request from @alice:example.org device ABCDEFGHIJ",
    "[Symbol(Symbol.toStringTag)]: 'Uint8Array' [1, 2, 3]",
    // Room version 12: a room id is `!` and 43 base64url characters, no server (Synapse's access log).
    "{@bob:localhost} Processed request: 0.132sec/0.001sec 58B 200 \"POST /_matrix/client/v3/join/!cO__p13jGwYoQ5DnwDMgWqcD7owxXLwK7AUMs0g_J74 HTTP/1.1\" \"node\"",
    "PUT /_matrix/client/v3/rooms/!C3p1Kd5Tu7-1uREf1etfkyNHclT_iaiXhi4w68Yb2xQ/send/m.room.message/m1765",
    "room_id=!C3p1Kd5Tu7-1uREf1etfkyNHclT_iaiXhi4w68Yb2xQ sender=@alice:example.org",
];

/// Every corpus secret is gone; every identifier line is unchanged. Prints
/// the figures for the record.
#[test]
fn corpus_secrets_go_and_identifiers_stay() {
    let mut leaked = Vec::new();
    let mut shapes = 0;
    for (line, secrets) in SECRET_LINES {
        let out = redact(line, &mut RedactionCounts::with_key([7; 16]));
        shapes += 1;
        if secrets.iter().any(|s| out.contains(s)) {
            leaked.push(format!("{line}\n   -> {out}"));
        }
    }
    let mut over = Vec::new();
    for line in ID_LINES {
        let out = redact(line, &mut RedactionCounts::with_key([7; 16]));
        if out != *line {
            over.push(format!("{line}\n   -> {out}"));
        }
    }
    println!(
        "redaction corpus: secret shapes tried {shapes} / leaked {}; identifier lines tried {} / over-redacted {}",
        leaked.len(),
        ID_LINES.len(),
        over.len()
    );
    assert!(leaked.is_empty() && over.is_empty(), "leaked:\n{}\nover-redacted:\n{}", leaked.join("\n"), over.join("\n"));
}
