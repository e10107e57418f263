//! Hearing what other nodes change: PostgreSQL's triggers announce every change to tokens and
//! users (migration 0004) and to clients (0007) on one channel, and each node listens on a
//! connection of its own and hands what it hears to its caches.
//!
//! Announcements sent while the listening connection is down are lost, so every (re)connection
//! is reported as `StoreChange::Unknown` and the caches forget everything. If the connection
//! dies silently, the caches' own lifetime still bounds how stale a check can be.

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::time::Duration;
use tessera_core::{ChangeSink, SecretHash, StoreChange};

/// The channel the triggers of migration 0004 announce on.
pub(crate) const CHANNEL: &str = "tessera_changes";

/// Waits between attempts to reconnect: doubling from the first, up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MOST: Duration = Duration::from_secs(5);
/// How long one attempt to connect and LISTEN may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What an announcement says; `None` for one this version does not know (a newer node's), which
/// the caller treats as "anything may have changed".
pub(crate) fn parse(payload: &str) -> Option<StoreChange> {
    match payload.split_once(':') {
        Some(("token", hex)) => SecretHash::from_hex(hex).map(StoreChange::Token),
        Some(("user", id)) => id.parse().ok().map(StoreChange::User),
        Some(("client", id)) if !id.is_empty() => Some(StoreChange::Client(id.to_owned())),
        None if payload == "all" => Some(StoreChange::Unknown),
        _ => None,
    }
}

/// Listens until the pool is closed or the sink no longer wants changes.
pub(crate) async fn follow(pool: PgPool, sink: ChangeSink) {
    let mut retry = RETRY_FIRST;
    let mut down_since_logged = false;
    while !pool.is_closed() {
        let mut listener = match listen(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                if !down_since_logged {
                    tracing::warn!(%error, "cannot listen for changes from other nodes; retrying");
                    down_since_logged = true;
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MOST);
                continue;
            }
        };
        if down_since_logged {
            tracing::info!("listening for changes from other nodes again");
            down_since_logged = false;
        }
        retry = RETRY_FIRST;
        // Whatever was announced before this connection listened is unknown.
        if !sink(StoreChange::Unknown) {
            return;
        }
        // `None` or an error: the connection was lost; listen again on a new one.
        while let Ok(Some(notification)) = listener.try_recv().await {
            let change = parse(notification.payload()).unwrap_or(StoreChange::Unknown);
            if !sink(change) {
                return;
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, String> {
    let attempt = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(listener)) => Ok(listener),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_name_a_token_a_user_or_everything() {
        let hex = "ab".repeat(32);
        assert_eq!(
            parse(&format!("token:{hex}")),
            Some(StoreChange::Token(SecretHash::from_hex(&hex).unwrap()))
        );
        assert_eq!(parse("user:42"), Some(StoreChange::User(42)));
        assert_eq!(
            parse("client:svc-1"),
            Some(StoreChange::Client("svc-1".into()))
        );
        assert_eq!(parse("all"), Some(StoreChange::Unknown));
        for unknown in [
            "",
            "token:zz",
            "token:ab",
            "user:x",
            "client:",
            "group:1",
            "everything",
        ] {
            assert_eq!(parse(unknown), None, "{unknown}");
        }
    }
}
