//! Token and client secrets: how they are made, how they look, how they are stored.
//!
//! Every secret carries 256 bits from the operating system's CSPRNG (tessera's own are drawn
//! from a ChaCha12 stream keyed with them, fresh for each secret) and is stored only as its
//! SHA-256. A slow hash would add nothing for a secret of that entropy, and a plain hash lets a
//! check be one indexed lookup. tessera's own secrets look like
//! `tsr_<8 base62 issue time><43 base62><6 base62 CRC32>` so that secret scanners can find a
//! leaked one and tell it from random noise; the vendor doors use the shapes their clients expect.
//!
//! The issue time is there for the database, not for the reader: a hash is random, so each new
//! token's index entry landed on a page of its own, and that was most of the cost of issuing one
//! (BENCHMARKS.md). The stored key of a `tsr_` secret that carries its issue time is that time
//! (6 bytes) followed by the first 26 bytes (208 bits) of the secret's SHA-256, so new keys land
//! at the end of the index, one page for many. Older `tsr_` secrets, without the time, and the
//! vendor formats keep their whole SHA-256 as their key.

use crate::cache::unix_millis;
use rand::rngs::{OsRng, StdRng};
use rand::{distributions::Alphanumeric, Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::fmt;
use time::OffsetDateTime;

/// The prefix of tessera's own secrets.
pub const TESSERA_PREFIX: &str = "tsr_";
/// 43 base62 characters carry 43 * log2(62) = 256.03 bits.
const BODY_LEN: usize = 43;
/// 62^6 > 2^32, so six base62 characters hold a CRC32.
const CHECKSUM_LEN: usize = 6;
/// Eight base62 characters hold milliseconds since 1970 into the year 8889, and fit in 48 bits.
const TIME_LEN: usize = 8;
/// Bytes of an issue time at the head of a key.
const TIME_BYTES: usize = 6;
/// Characters after `tsr_` of a secret that carries its issue time.
const TIMED_LEN: usize = TIME_LEN + BODY_LEN + CHECKSUM_LEN;
/// Characters after `tsr_` of a secret issued before 2026-12-05, without an issue time.
const UNTIMED_LEN: usize = BODY_LEN + CHECKSUM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The shape of a freshly generated secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// `tsr_` + base62 + checksum: OAuth tokens and client secrets.
    Tessera,
    /// 32 bytes as unpadded base64url, 43 characters (ExtraView, OWIN).
    Base64Url,
    /// 32 bytes as 64 lowercase hex digits (Zabbix API tokens).
    Hex,
    /// 16 bytes as 32 lowercase hex digits: Zabbix session ids have that shape. 128 bits is
    /// beyond guessing; sessions also end when idle.
    Hex128,
}

/// A secret in clear text. It exists only between its generation and the response that shows
/// it once; its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate(format: SecretFormat) -> Self {
        match format {
            SecretFormat::Tessera => Self::tessera_issued_at(now_millis()),
            SecretFormat::Base64Url => {
                use base64::Engine;
                let bytes = random_bytes();
                Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
            }
            SecretFormat::Hex => Self(hex(&random_bytes())),
            SecretFormat::Hex128 => Self(hex(&random_bytes()[..16])),
        }
    }

    fn tessera_issued_at(millis: u64) -> Self {
        let mut body = base62_fixed(millis, TIME_LEN);
        // 256 bits from the OS key a ChaCha stream that the characters are drawn from: drawn
        // from the OS one by one, each character was a system call of its own (about 45 a
        // token, 8 % of a client_credentials grant's time, perf).
        body.extend(
            StdRng::from_seed(random_bytes())
                .sample_iter(&Alphanumeric)
                .take(BODY_LEN)
                .map(char::from),
        );
        let checksum = base62_checksum(body.as_bytes());
        Self(format!("{TESSERA_PREFIX}{body}{checksum}"))
    }

    /// Wraps a secret a client presented.
    pub fn from_presented(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    /// A `tsr_` secret whose checksum does not match was never issued by tessera (a typo or a
    /// forgery), so it can be refused without asking the database.
    pub fn is_malformed_tessera_secret(&self) -> bool {
        let Some(rest) = self.0.strip_prefix(TESSERA_PREFIX) else {
            return false;
        };
        if ![TIMED_LEN, UNTIMED_LEN].contains(&rest.len())
            || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return true;
        }
        let (body, checksum) = rest.split_at(rest.len() - CHECKSUM_LEN);
        base62_checksum(body.as_bytes()) != checksum
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_millis() -> u64 {
    u64::try_from(unix_millis(OffsetDateTime::now_utc())).unwrap_or(0)
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn base62_checksum(body: &[u8]) -> String {
    base62_fixed(crc32fast::hash(body).into(), CHECKSUM_LEN)
}

/// `value` in `width` base62 digits, most significant first (its low digits if it is larger).
fn base62_fixed(mut value: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(out).expect("base62 digits are ASCII")
}

/// The issue time a `tsr_` secret carries, if `secret` has that shape.
fn issue_time_of(secret: &str) -> Option<u64> {
    let rest = secret.strip_prefix(TESSERA_PREFIX)?;
    if rest.len() != TIMED_LEN {
        return None;
    }
    rest.bytes().take(TIME_LEN).try_fold(0u64, |value, digit| {
        let digit = BASE62.iter().position(|&b| b == digit)?;
        Some(value * 62 + digit as u64)
    })
}

/// What is stored of a secret, and the key it is found by: its SHA-256, or for a `tsr_` secret
/// that carries its issue time, that time and the first 26 bytes of its SHA-256 (module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let Some(millis) = issue_time_of(secret) else {
            return Self(digest);
        };
        let mut key = [0u8; 32];
        key[..TIME_BYTES].copy_from_slice(&millis.to_be_bytes()[8 - TIME_BYTES..]);
        key[TIME_BYTES..].copy_from_slice(&digest[..32 - TIME_BYTES]);
        Self(key)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }

    /// Compares in constant time, for the one place a hash is compared rather than looked up
    /// (a client secret, found by client id).
    pub fn matches(&self, other: &SecretHash) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tessera_secrets_carry_a_prefix_and_a_valid_checksum() {
        let secret = TokenSecret::generate(SecretFormat::Tessera);
        assert!(secret.expose().starts_with("tsr_"));
        assert_eq!(secret.expose().len(), 4 + TIMED_LEN);
        assert!(!secret.is_malformed_tessera_secret());
    }

    #[test]
    fn secrets_issued_before_the_issue_time_are_still_well_formed() {
        let body = "x".repeat(BODY_LEN);
        let secret = format!("tsr_{body}{}", base62_checksum(body.as_bytes()));
        let untimed = TokenSecret::from_presented(secret.clone());
        assert!(!untimed.is_malformed_tessera_secret());
        assert_eq!(
            untimed.hash().0,
            <[u8; 32]>::from(Sha256::digest(secret.as_bytes()))
        );
    }

    #[test]
    fn keys_of_timed_secrets_lead_with_the_issue_time_and_sort_by_it() {
        let millis = 1_796_000_000_123;
        let earlier = TokenSecret::tessera_issued_at(millis);
        let later = TokenSecret::tessera_issued_at(millis + 1);
        assert_eq!(issue_time_of(earlier.expose()), Some(millis));
        let key = earlier.hash().0;
        assert_eq!(key[..TIME_BYTES], millis.to_be_bytes()[2..]);
        let digest = Sha256::digest(earlier.expose().as_bytes());
        assert_eq!(key[TIME_BYTES..], digest[..32 - TIME_BYTES]);
        assert!(earlier.hash().0 < later.hash().0);
        // The largest time eight digits can write still fits the key's six bytes.
        let last = TokenSecret::tessera_issued_at(62u64.pow(TIME_LEN as u32) - 1);
        assert_eq!(
            issue_time_of(last.expose()),
            Some(62u64.pow(TIME_LEN as u32) - 1)
        );
        assert!(62u64.pow(TIME_LEN as u32) <= 1 << (8 * TIME_BYTES));
    }

    #[test]
    fn a_changed_issue_time_changes_the_key_and_breaks_the_checksum() {
        let secret = TokenSecret::tessera_issued_at(1_796_000_000_000);
        let mut forged = secret.expose().to_owned();
        forged.replace_range(4..5, if &forged[4..5] == "0" { "1" } else { "0" });
        let forged = TokenSecret::from_presented(forged);
        assert!(forged.is_malformed_tessera_secret());
        assert_ne!(forged.hash(), secret.hash());
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let secret = TokenSecret::generate(SecretFormat::Tessera);
        let mut bytes = secret.expose().as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let tampered = TokenSecret::from_presented(String::from_utf8(bytes).unwrap());
        assert!(tampered.is_malformed_tessera_secret());
    }

    #[test]
    fn vendor_formats_have_their_documented_shapes() {
        let b64 = TokenSecret::generate(SecretFormat::Base64Url);
        assert_eq!(b64.expose().len(), 43);
        assert!(b64
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let session = TokenSecret::generate(SecretFormat::Hex128);
        assert_eq!(session.expose().len(), 32);
        assert!(session.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        let hex = TokenSecret::generate(SecretFormat::Hex);
        assert_eq!(hex.expose().len(), 64);
        assert!(hex.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!hex.is_malformed_tessera_secret());
    }

    #[test]
    fn secrets_never_repeat_and_debug_hides_them() {
        let a = TokenSecret::generate(SecretFormat::Tessera);
        let b = TokenSecret::generate(SecretFormat::Tessera);
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn hash_round_trips_through_hex() {
        let hash = SecretHash::of("hello");
        assert_eq!(
            hash.to_hex(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(SecretHash::from_hex(&hash.to_hex()), Some(hash));
        assert!(hash.matches(&SecretHash::of("hello")));
        assert!(!hash.matches(&SecretHash::of("hello!")));
    }
}
