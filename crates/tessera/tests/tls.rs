//! HTTPS: a node started with `--tls-cert`/`--tls-key` serves TLS (checked with real curl
//! against the certificate's own CA), sends HSTS, refuses plain HTTP, and on SIGHUP reads a
//! renewed certificate without a restart; a broken renewal keeps the certificate in use.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::Node;

/// A self-signed certificate for 127.0.0.1 and localhost, written as `cert.pem`/`key.pem`
/// into `dir`, and copied to `<name>.pem` for clients to trust.
fn make_certificate(dir: &Path, name: &str) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "{status:?}");
    std::fs::copy(dir.join("cert.pem"), dir.join(format!("{name}.pem"))).unwrap();
}

/// curl trusting only `ca`: the status, the headers, and whether the TLS handshake worked.
fn curl(url: &str, ca: &Path) -> (bool, String) {
    let output = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .expect("curl runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn https_with_hsts_and_a_certificate_renewed_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    make_certificate(dir.path(), "first");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let db = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let node = Node::spawn(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .ready();
    assert!(node.base.starts_with("https://127.0.0.1:"), "{}", node.base);
    let healthz = node.url("/healthz");
    let first = dir.path().join("first.pem");

    let (ok, answer) = curl(&healthz, &first);
    assert!(ok, "{answer}");
    // curl and tessera agree on HTTP/2 through ALPN; HTTP/1.1 works as well.
    assert!(answer.starts_with("HTTP/2 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{answer}"
    );
    let http1 = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--http1.1",
        ])
        .arg("--cacert")
        .arg(&first)
        .arg(&healthz)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&http1.stdout), "1.1 200");
    // The metadata names the HTTPS issuer.
    let (_, metadata) = curl(&node.url("/.well-known/oauth-authorization-server"), &first);
    assert!(
        metadata.contains(&format!("\"issuer\":\"{}\"", node.base)),
        "{metadata}"
    );
    // Plain HTTP on the TLS port gets no answer that curl accepts.
    let plain = healthz.replacen("https://", "http://", 1);
    let (ok, _) = curl(&plain, &first);
    assert!(!ok, "plain HTTP must not be served on the TLS port");

    // A renewal: new files in place, then SIGHUP. The new certificate is served, the old no
    // longer.
    make_certificate(dir.path(), "second");
    let second = dir.path().join("second.pem");
    let hup = |pid: u32| {
        let sent = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    hup(node.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !curl(&healthz, &second).0 {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !curl(&healthz, &first).0,
        "the old certificate is still served"
    );

    // A broken renewal is refused and the certificate in use stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    hup(node.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !node
        .lines()
        .iter()
        .any(|l| l.contains("kept the TLS certificate in use"))
    {
        assert!(Instant::now() < deadline, "{:#?}", node.lines());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        curl(&healthz, &second).0,
        "the node stopped serving after a bad reload"
    );
}

#[test]
fn a_missing_or_unpaired_certificate_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let missing = dir.path().join("missing.pem");
    let run = |args: &[&str]| {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let output = support::tessera(&db, &all).output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let missing = missing.to_str().unwrap();
    let stderr = run(&["--tls-cert", missing, "--tls-key", missing]);
    assert!(
        stderr.contains("cannot use the TLS certificate"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.pem"), "{stderr}");
    let stderr = run(&["--tls-cert", missing]);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
