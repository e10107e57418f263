//! Two-factor sign-in with time-based one-time passwords (RFC 6238): 6 digits, 30-second steps,
//! HMAC-SHA1, the parameters every authenticator app uses. A code is accepted one step early
//! or late (clock drift) and never twice: the step it matched is recorded, and a code from that
//! step or an earlier one is refused.
//!
//! The secret has to be kept in a form that can compute codes, so unlike passwords and tokens
//! it is stored as it is (base32), in the users table.

use crate::error::CoreError;
use rand::{rngs::OsRng, RngCore};
use time::OffsetDateTime;
use totp_rs::{Builder, Secret, Totp};

const ISSUER: &str = "tessera";

/// A new secret: 160 random bits (RFC 4226 §4's recommended length), as base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    Secret::new_stack(bytes).to_base32()
}

fn totp(secret_base32: &str, account: &str) -> Result<Totp, CoreError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|_| CoreError::Internal("a stored TOTP secret is not base32".into()))?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| CoreError::InvalidInput(format!("cannot set up TOTP for {account:?}: {e}")))
}

/// The `otpauth://totp/...` URI an authenticator app reads (as text or QR code).
pub fn otpauth_uri(secret_base32: &str, account: &str) -> Result<String, CoreError> {
    totp(secret_base32, account)?
        .to_url()
        .map_err(|e| CoreError::InvalidInput(format!("cannot write the otpauth URI: {e}")))
}

/// The time step a code belongs to, if it is valid at `now` give or take one step.
pub fn matching_step(secret_base32: &str, code: &str, now: OffsetDateTime) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = u64::try_from(now.unix_timestamp()).ok()?;
    let totp = totp(secret_base32, "check").ok()?;
    totp.check(code, seconds)
        .and_then(|step| i64::try_from(step).ok())
}

/// The code for `at`: for tests, and for the CLI to show that enrolment worked.
pub fn code_at(secret_base32: &str, at: OffsetDateTime) -> Result<String, CoreError> {
    let seconds = u64::try_from(at.unix_timestamp())
        .map_err(|_| CoreError::InvalidInput("a time before 1970".into()))?;
    Ok(totp(secret_base32, "code")?.generate(seconds).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 Appendix B, SHA-1, T = 59 s: 94287082 (8 digits); its last 6 are 287082.
        let secret = Secret::new(b"12345678901234567890".to_vec().into_boxed_slice()).to_base32();
        let at = datetime!(1970-01-01 00:00:59 UTC);
        assert_eq!(code_at(&secret, at).unwrap(), "287082");
        assert_eq!(matching_step(&secret, "287082", at), Some(1));
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_no_further() {
        let secret = new_secret();
        let now = datetime!(2026-11-23 12:00:00 UTC);
        let code = code_at(&secret, now).unwrap();
        let step = 30 * time::Duration::SECOND;
        assert!(matching_step(&secret, &code, now + step).is_some());
        assert!(matching_step(&secret, &code, now - step).is_some());
        assert!(matching_step(&secret, &code, now + 2 * step).is_none());
        assert!(matching_step(&secret, "12345", now).is_none());
        assert!(matching_step(&secret, "abcdef", now).is_none());
    }

    #[test]
    fn the_uri_names_tessera_and_the_account() {
        let uri = otpauth_uri(&new_secret(), "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/tessera:alice?"), "{uri}");
        assert!(uri.contains("issuer=tessera"));
    }
}
