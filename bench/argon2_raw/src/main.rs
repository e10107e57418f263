//! Raw Argon2id password verifications per second on N threads, with no server around them.
//!
//!   argon2_raw [--threads N] [--seconds S] [--m KIB] [--t ITER] [--p LANES]
//!
//! Defaults: N = number of CPUs (tessera's default `--password-workers`), S = 10, and tessera's
//! default cost m=19456 KiB, t=2, p=1. One PHC hash is made first; then every thread parses it
//! and verifies the right password against it, as tessera's `PasswordHasher::verify` does
//! (`PasswordHash::new` + `Argon2::default().verify_password`), until the time is up.
//! Prints one JSON line: {"threads":..,"seconds":..,"verifications":..,"per_second":..,...}.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut seconds = 10.0f64;
    let (mut m, mut t, mut p) = (19456u32, 2u32, 1u32);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).unwrap_or_else(|| panic!("{} needs a value", args[i]));
        match args[i].as_str() {
            "--threads" => threads = value.parse().expect("--threads N"),
            "--seconds" => seconds = value.parse().expect("--seconds S"),
            "--m" => m = value.parse().expect("--m KIB"),
            "--t" => t = value.parse().expect("--t ITER"),
            "--p" => p = value.parse().expect("--p LANES"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }

    let password = b"bench-password-argon2-raw";
    let params = Params::new(m, t, p, None).expect("Argon2 parameters");
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password, &salt)
        .expect("hash")
        .to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, count, phc) = (stop.clone(), count.clone(), phc.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let parsed = PasswordHash::new(&phc).expect("PHC string");
                    let ok = Argon2::default().verify_password(password, &parsed).is_ok();
                    assert!(ok, "the right password did not verify");
                    // Only verifications that finished inside the window count.
                    if !stop.load(Ordering::Relaxed) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for w in workers {
        w.join().expect("worker");
    }
    let n = count.load(Ordering::Relaxed);
    println!(
        "{{\"threads\":{threads},\"seconds\":{elapsed:.3},\"verifications\":{n},\"per_second\":{:.2},\"m_kib\":{m},\"t\":{t},\"p\":{p},\"phc_prefix\":\"{}\"}}",
        n as f64 / elapsed,
        phc.split('$').take(4).collect::<Vec<_>>().join("$")
    );
}
