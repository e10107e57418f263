//! The audit trail keeps events for the retention setting, then the pruning deletes them.

use crate::helpers::{cheap_settings, spawn_app_with};
use std::time::Duration;
use tessera_core::{AuditQuery, Settings};

#[tokio::test]
async fn events_past_their_retention_are_pruned_and_newer_ones_kept() {
    let settings = Settings {
        audit_retention: Some(Duration::from_secs(30 * 86400)),
        ..cheap_settings()
    };
    let app = spawn_app_with(settings).await;
    let all = || AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    };
    app.sign_in("Admin", crate::helpers::ADMIN_PASSWORD).await;
    let old = app.authority.audit_events(&all()).await.unwrap().len();
    assert!(old > 0);
    assert_eq!(
        app.authority.prune_audit().await.unwrap(),
        0,
        "nothing is old yet"
    );

    app.clock.advance(time::Duration::days(31));
    app.sign_in("Admin", crate::helpers::ADMIN_PASSWORD).await;
    let before = app.authority.audit_events(&all()).await.unwrap().len();
    assert_eq!(app.authority.prune_audit().await.unwrap(), old as u64);
    let after = app.authority.audit_events(&all()).await.unwrap();
    assert_eq!(after.len(), before - old);
    assert!(after
        .iter()
        .all(|e| e.event.at > app.authority.now() - time::Duration::days(30)));

    // Without a retention nothing is ever pruned.
    let keep = spawn_app_with(Settings {
        audit_retention: None,
        ..cheap_settings()
    })
    .await;
    keep.sign_in("Admin", crate::helpers::ADMIN_PASSWORD).await;
    keep.clock.advance(time::Duration::days(10_000));
    assert_eq!(keep.authority.prune_audit().await.unwrap(), 0);
}
