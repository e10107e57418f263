//! Token and client secrets: how they are made, how they look, how they are stored.
//!
//! Every secret carries 256 bits from the operating system's CSPRNG (tessera's own are drawn
//! from a ChaCha12 stream keyed with them, fresh for each secret) and is stored only as its
//! SHA-256. A slow hash would add nothing for a secret of that entropy, and a plain hash lets a
//! check be one indexed lookup. tessera's own secrets look like `tsr_<43 base62><6 base62 CRC32>`
//! so that secret scanners can find a leaked one and tell it from random noise; the vendor doors
//! use the shapes their clients expect.

use rand::rngs::{OsRng, StdRng};
use rand::{distributions::Alphanumeric, Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::fmt;

/// The prefix of tessera's own secrets.
pub const TESSERA_PREFIX: &str = "tsr_";
/// 43 base62 characters carry 43 * log2(62) = 256.03 bits.
const BODY_LEN: usize = 43;
/// 62^6 > 2^32, so six base62 characters hold a CRC32.
const CHECKSUM_LEN: usize = 6;
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
            SecretFormat::Tessera => {
                // 256 bits from the OS key a ChaCha stream that the characters are drawn from:
                // drawn from the OS one by one, each character was a system call of its own
                // (about 45 a token, 8 % of a client_credentials grant's time, perf).
                let body: String = StdRng::from_seed(random_bytes())
                    .sample_iter(&Alphanumeric)
                    .take(BODY_LEN)
                    .map(char::from)
                    .collect();
                let checksum = base62_checksum(body.as_bytes());
                Self(format!("{TESSERA_PREFIX}{body}{checksum}"))
            }
            SecretFormat::Base64Url => {
                use base64::Engine;
                let bytes = random_bytes();
                Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
            }
            SecretFormat::Hex => Self(hex(&random_bytes())),
            SecretFormat::Hex128 => Self(hex(&random_bytes()[..16])),
        }
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
        if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return true;
        }
        let (body, checksum) = rest.split_at(BODY_LEN);
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

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn base62_checksum(body: &[u8]) -> String {
    let mut value = crc32fast::hash(body) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The SHA-256 of a secret: all that is ever stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
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
        assert_eq!(secret.expose().len(), 4 + BODY_LEN + CHECKSUM_LEN);
        assert!(!secret.is_malformed_tessera_secret());
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
