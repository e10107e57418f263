//! Passwords, which people choose, are hashed with Argon2id.
//!
//! Hashing is deliberately slow, so it runs on threads of its own, `password_workers` of them at
//! a lower priority ([`hash_threads`]), with a bounded queue in front: a flood of logins waits
//! or is turned away, while token checks (which never hash) keep running on the async workers. A login for an unknown user is
//! verified against a dummy hash of the same cost, so it takes as long as a wrong password.
//!
//! Each verification needs `memory_kib` of working memory (19 MiB by default). It is taken from
//! a pool of buffers, one per worker: allocating it afresh for every sign-in left the allocator
//! holding hundreds of MiB after a burst of logins. Buffers nobody used for a while are given
//! back ([`PasswordHasher::release_idle_buffers`]), so that an idle server stays small.

mod hash_threads;

use crate::error::CoreError;
use crate::settings::Argon2Settings;
use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher as _, Version};
use hash_threads::HashThreads;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

/// The longest password accepted: long enough for any passphrase, short enough that hashing it
/// costs nothing extra.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password in clear text, as a user typed it. Its `Debug` never prints it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Result<Self, CoreError> {
        let value = value.into();
        if value.is_empty() {
            return Err(CoreError::InvalidInput("the password is empty".into()));
        }
        if value.len() > MAX_PASSWORD_BYTES {
            return Err(CoreError::InvalidInput(format!(
                "the password is longer than {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        Ok(Self(value))
    }

    /// A new random password of 24 alphanumeric characters (about 143 bits).
    pub fn generate() -> Self {
        use rand::{distributions::Alphanumeric, Rng};
        Self(
            rand::rngs::OsRng
                .sample_iter(&Alphanumeric)
                .take(24)
                .map(char::from)
                .collect(),
        )
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    permits: Semaphore,
    waiting: AtomicUsize,
    queue_limit: usize,
    /// A PHC string with the current cost, verified for unknown users.
    dummy_hash: String,
    /// Working memory for verifications, reused (at most one buffer per worker is ever out).
    buffers: Arc<Mutex<Buffers>>,
    threads: HashThreads,
}

#[derive(Default)]
struct Buffers {
    free: Vec<Vec<Block>>,
    /// When a buffer was last given back.
    last_returned: Option<Instant>,
}

impl PasswordHasher {
    pub fn new(
        settings: Argon2Settings,
        workers: usize,
        queue_limit: usize,
    ) -> Result<Self, CoreError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| CoreError::InvalidInput(format!("invalid Argon2 settings: {e}")))?;
        let dummy_hash = dummy_phc(&params)?;
        let workers = workers.max(1);
        let threads = HashThreads::start(workers).map_err(|e| {
            CoreError::Internal(format!("could not start the password hashing threads: {e}"))
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                permits: Semaphore::new(workers),
                waiting: AtomicUsize::new(0),
                queue_limit,
                dummy_hash,
                buffers: Arc::default(),
                threads,
            }),
        })
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=...`).
    pub async fn hash(&self, password: &Password) -> Result<String, CoreError> {
        let params = self.inner.params.clone();
        let password = password.clone();
        self.run(move || hash_with(&params, password.expose()))
            .await?
    }

    /// Verifies a password against a stored PHC string, or against the dummy hash when there
    /// is none (unknown user), so both cases cost the same. Returns whether it matched.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<bool, CoreError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or(&self.inner.dummy_hash).to_owned();
        let password = password.clone();
        let buffers = self.inner.buffers.clone();
        let matched = self
            .run(move || verify_with(&buffers, &phc, password.expose().as_bytes()))
            .await?;
        Ok(known && matched)
    }

    /// Frees the pooled working memory if no verification has finished for `idle`; answers
    /// how many bytes went. The next sign-in allocates again.
    pub fn release_idle_buffers(&self, idle: Duration) -> usize {
        let mut buffers = lock(&self.inner.buffers);
        if buffers.last_returned.is_none_or(|at| at.elapsed() < idle) {
            return 0;
        }
        let freed = buffers
            .free
            .drain(..)
            .map(|buffer| buffer.capacity() * std::mem::size_of::<Block>())
            .sum();
        buffers.free.shrink_to_fit();
        freed
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        let inner = &self.inner;
        if inner.waiting.fetch_add(1, Ordering::AcqRel)
            >= inner.queue_limit + inner.permits.available_permits().max(1)
        {
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(CoreError::Busy);
        }
        let permit = inner.permits.acquire().await;
        inner.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(|_| CoreError::Busy)?;
        inner
            .threads
            .run(work)
            .await
            .map_err(|_| CoreError::Internal("a password hashing thread failed".into()))
    }
}

/// Verifies a password against a PHC string with working memory from the pool; the hash is
/// compared in constant time. A malformed PHC string never matches.
fn verify_with(buffers: &Mutex<Buffers>, phc: &str, password: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks_needed = params.block_count();
    let mut memory = lock(buffers).free.pop().unwrap_or_default();
    if memory.len() < blocks_needed {
        memory.resize(blocks_needed, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks_needed])
        .is_ok();
    {
        let mut buffers = lock(buffers);
        buffers.free.push(memory);
        buffers.last_returned = Some(Instant::now());
    }
    hashed && bool::from(out.ct_eq(expected.as_bytes()))
}

/// A PHC string with the current cost, a random salt and a random output: verifying a password
/// against it is one real verification that never matches. It is made up rather than computed
/// so that start-up does not spend a hash on it.
fn dummy_phc(params: &Params) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut output = [0u8; 32];
    OsRng.fill_bytes(&mut output);
    let output = Output::new(&output)
        .map_err(|e| CoreError::Internal(format!("making the dummy password hash failed: {e}")))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${output}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str(),
    ))
}

fn lock(buffers: &Mutex<Buffers>) -> std::sync::MutexGuard<'_, Buffers> {
    buffers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn hash_with(params: &Params, password: &str) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(
            Argon2Settings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            2,
            8,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = cheap();
        let password = Password::new("correct horse").unwrap();
        let phc = hasher.hash(&password).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify(&password, Some(&phc)).await.unwrap());
        let wrong = Password::new("battery staple").unwrap();
        assert!(!hasher.verify(&wrong, Some(&phc)).await.unwrap());
    }

    /// The pooled verification agrees with the argon2 crate's own, for hashes made with other
    /// costs (a user hashed before the settings changed), and refuses malformed strings.
    #[tokio::test]
    async fn hashes_of_any_cost_verify_with_the_pooled_memory() {
        let hasher = cheap();
        let password = Password::new("correct horse").unwrap();
        for (m, t, p) in [(128, 1, 1), (64, 2, 2), (256, 1, 1), (64, 1, 1)] {
            let params = Params::new(m, t, p, None).unwrap();
            let phc = hash_with(&params, password.expose()).unwrap();
            let parsed = PasswordHash::new(&phc).unwrap();
            assert!(argon2::PasswordVerifier::verify_password(
                &Argon2::default(),
                password.expose().as_bytes(),
                &parsed
            )
            .is_ok());
            assert!(hasher.verify(&password, Some(&phc)).await.unwrap(), "{phc}");
            let wrong = Password::new("correct horsf").unwrap();
            assert!(!hasher.verify(&wrong, Some(&phc)).await.unwrap(), "{phc}");
        }
        for broken in [
            "",
            "$argon2id$",
            "not a hash",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
        ] {
            assert!(
                !hasher.verify(&password, Some(broken)).await.unwrap(),
                "{broken}"
            );
        }
        assert!(
            hasher.inner.buffers.lock().unwrap().free.len() <= 2,
            "one buffer per worker"
        );
    }

    #[tokio::test]
    async fn pooled_memory_is_freed_after_an_idle_time_only() {
        let hasher = cheap();
        let password = Password::new("correct horse").unwrap();
        assert_eq!(
            hasher.release_idle_buffers(Duration::ZERO),
            0,
            "nothing yet"
        );
        let stored = hasher.hash(&password).await.unwrap();
        assert!(hasher.verify(&password, Some(&stored)).await.unwrap());
        assert_eq!(
            hasher.release_idle_buffers(Duration::from_secs(60)),
            0,
            "just used: kept"
        );
        assert_eq!(hasher.release_idle_buffers(Duration::ZERO), 64 * 1024);
        assert_eq!(
            hasher.release_idle_buffers(Duration::ZERO),
            0,
            "already freed"
        );
        assert!(
            hasher.verify(&password, Some(&stored)).await.unwrap(),
            "and the next sign-in allocates again"
        );
    }

    #[test]
    fn the_dummy_hash_has_the_current_cost_and_a_fresh_salt() {
        let params = Params::new(64, 3, 1, None).unwrap();
        let (first, second) = (dummy_phc(&params).unwrap(), dummy_phc(&params).unwrap());
        assert_ne!(first, second);
        let parsed = PasswordHash::new(&first).unwrap();
        assert_eq!(
            Algorithm::try_from(parsed.algorithm),
            Ok(Algorithm::Argon2id)
        );
        let read = Params::try_from(&parsed).unwrap();
        assert_eq!((read.m_cost(), read.t_cost(), read.p_cost()), (64, 3, 1));
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
        let buffers = Mutex::default();
        assert!(!verify_with(&buffers, &first, b"anything"));
        assert_eq!(
            lock(&buffers).free.len(),
            1,
            "verifying against it ran a real hash"
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = cheap();
        let password = Password::new("anything").unwrap();
        assert!(!hasher.verify(&password, None).await.unwrap());
    }

    #[test]
    fn passwords_are_bounded_and_hidden_from_debug() {
        assert!(Password::new("").is_err());
        assert!(Password::new("x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        let password = Password::new("hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn the_default_cost_is_owasps() {
        let s = Argon2Settings::default();
        assert_eq!((s.memory_kib, s.iterations, s.parallelism), (19456, 2, 1));
    }
}
