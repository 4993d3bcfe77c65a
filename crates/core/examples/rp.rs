fn main() {
    let exps = vec!["1e99999999"; 4].join(",");
    let line = format!("[hostile] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {{\"key\":[{exps}]}}; new key: {{'key': [{exps}]}}");
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let c = crypto_health_core::classify(&line);
        eprintln!("classify {:?} {:?}", t.elapsed(), c.map(|c| c.signature));
        let t = std::time::Instant::now();
        let mut j = crypto_health_core::Journal::new(Default::default());
        j.observe("warn", &line, 1);
        eprintln!("observe {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let mut d = crypto_health_core::Diagnostics::default();
        d.console_installed(Default::default());
        d.console_line("warn", &line, 1);
        eprintln!("diag {:?}", t.elapsed());
    }
}
