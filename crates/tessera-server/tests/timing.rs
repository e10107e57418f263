//! Timing: a sign-in for an unknown user, with a wrong password, for a disabled user and for a
//! locked account must take the same time, or the clock tells an attacker which names exist
//! and which accounts are locked. Each costs one Argon2 verification (a dummy hash where
//! there is no usable one); this compares the distributions of many attempts of each kind,
//! sent interleaved so that the machine's noise falls on all of them alike.
//!
//! This is not a speed test: it asserts that four kinds of refusal cost the same, whatever the
//! machine's speed. Skipping the hash for one of them would make its median a fraction of the
//! others'. It is a test binary of its own so that no other test runs beside it and skews one
//! kind of attempt more than another.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::{spawn_app_with, TestApp};
use std::time::{Duration, Instant};
use tessera_core::{Argon2Settings, Door, LockoutPolicy, Origin, Role, Settings};

const PASSWORD: &str = "Looking-Glass-1";
const ROUNDS: usize = 25;

async fn timed(app: &TestApp, user: &str, password: &str) -> Duration {
    let started = Instant::now();
    let response = app.password_grant(user, password).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 400, "{user} should be refused");
    took
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_wrong_disabled_and_locked_sign_ins_take_the_same_time() {
    let settings = Settings {
        // Costly enough that a skipped hash would stand out from a database lookup.
        argon2: Argon2Settings {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        },
        account_lockout: LockoutPolicy {
            threshold: 5,
            ..Settings::default().account_lockout
        },
        // Every attempt comes from 127.0.0.1: the address must not lock out the test itself.
        source_lockout: LockoutPolicy {
            threshold: 0,
            ..Settings::default().source_lockout
        },
        // One hashing thread: two would take turns, and each kind would always meet the same
        // one, whose speed may differ from the other's.
        password_workers: 1,
        ..Settings::default()
    };
    let app = spawn_app_with(settings).await;
    // Wrong passwords rotate over seven users, four failures each at most, so none locks.
    for i in 0..7 {
        app.create_user(&format!("wrong{i}"), PASSWORD, Role::User)
            .await;
    }
    let disabled = app.create_user("disabled", PASSWORD, Role::User).await;
    app.authority
        .set_user_enabled(disabled.id, false, &Origin::new(Door::Cli))
        .await
        .unwrap();
    app.create_user("locked", PASSWORD, Role::User).await;
    for _ in 0..5 {
        timed(&app, "locked", "not-it").await;
    }

    let (mut unknown, mut wrong, mut off, mut locked) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        // The order turns each round, so that no kind always follows the same one.
        for kind in (0..4).map(|k| (k + round) % 4) {
            match kind {
                0 => unknown.push(timed(&app, &format!("nobody{round}"), PASSWORD).await),
                1 => wrong.push(timed(&app, &format!("wrong{}", round % 7), "not-it").await),
                2 => off.push(timed(&app, "disabled", PASSWORD).await),
                _ => locked.push(timed(&app, "locked", PASSWORD).await),
            }
        }
    }
    // The time of one attempt is bimodal here (an 8 MiB hash sometimes pays its page faults,
    // sometimes not), and CI machines are shared and noisy. A kind that skipped the hash would
    // be about ten times faster on both counts, so the bounds are loose enough for the noise
    // (medians within 2.5×, the fastest attempts, which all pay for the hash alone, within 2×)
    // and still far from a skipped hash.
    let kinds = [
        ("unknown user", unknown),
        ("wrong password", wrong),
        ("disabled user", off),
        ("locked account", locked),
    ];
    let spread = |statistic: fn(Vec<Duration>) -> Duration| {
        let values: Vec<(&str, Duration)> = kinds
            .iter()
            .map(|(name, samples)| (*name, statistic(samples.clone())))
            .collect();
        let fastest = values.iter().map(|(_, v)| *v).min().unwrap();
        let slowest = values.iter().map(|(_, v)| *v).max().unwrap();
        (slowest.as_secs_f64() / fastest.as_secs_f64(), values)
    };
    let (ratio, medians) = spread(median);
    assert!(
        ratio < 2.5,
        "the medians differ by more than 2.5×: {medians:?}"
    );
    let (ratio, minimums) = spread(|samples| samples.into_iter().min().unwrap());
    assert!(
        ratio < 2.0,
        "the fastest attempts differ by more than 2×: {minimums:?}"
    );
}
