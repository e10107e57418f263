//! One suite for every store: each check takes a `dyn Store`, and each backend runs them all on
//! a fresh database: SQLite in a temporary directory, PostgreSQL in a database created for the
//! test on the server `TESSERA_TEST_POSTGRES_URL` names (default
//! `postgres://postgres@127.0.0.1:5432`) and dropped after it. Without that variable and
//! without a server there, the PostgreSQL checks say so once and pass; with it, a missing
//! server fails them.

use std::io::Write as _;
use std::sync::{Arc, Once};
use tessera_core::{
    AuditKind, AuditQuery, Binding, Client, Door, FieldValue, GrantType, NewAuditEvent, NewToken,
    NewUser, Permission, Role, Scope, SecretHash, SortOrder, Store, StoreChange, StoreError,
    TokenChanges, TokenField, TokenKind, TokenQuery, TokenSearch, TokenStatus, Username,
};
use tessera_store::scratch::{test_server, ScratchDatabase, ScratchError, TestServer};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = tessera_store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    (store, dir)
}

/// A new, empty database on the test PostgreSQL server, or `None` when there is no server and
/// none was required.
async fn postgres_database() -> Option<ScratchDatabase> {
    static SKIPPING: Once = Once::new();
    let TestServer {
        url: server,
        required,
    } = test_server();
    match ScratchDatabase::create(&server, "tessera_test").await {
        Ok(database) => Some(database),
        Err(ScratchError::Unreachable { .. }) if !required => {
            // Straight to stderr, past the test harness's capture, so that it is seen.
            SKIPPING.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping PostgreSQL store tests: no server at {server}; \
                     set TESSERA_TEST_POSTGRES_URL to require them"
                );
            });
            None
        }
        Err(error) => panic!("the PostgreSQL store tests need their server: {error}"),
    }
}

/// A migrated store on a fresh PostgreSQL database, dropped with the returned guard.
async fn postgres() -> Option<(ScratchDatabase, Arc<dyn Store>)> {
    let database = postgres_database().await?;
    let store = tessera_store::connect(database.url()).await.unwrap();
    Some((database, store))
}

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap()
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        uuid: Uuid::new_v4(),
        username: Username::parse(name).unwrap(),
        display_name: format!("{name} display"),
        role,
        permissions: vec![Permission::Exclude2fa],
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        created_at: now(),
    }
}

/// Inserts `count` session tokens whose secrets are `{prefix}-0`, `{prefix}-1`, …; their ids.
async fn insert_tokens(store: &dyn Store, prefix: &str, count: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let token = store
            .insert_token(&new_token(None, &format!("{prefix}-{i}"), None))
            .await
            .unwrap();
        ids.push(token.id);
    }
    ids
}

fn new_token(user_id: Option<i64>, secret: &str, family: Option<Uuid>) -> NewToken {
    NewToken {
        hash: SecretHash::of(secret),
        kind: TokenKind::Session,
        door: Door::OAuth,
        user_id,
        client_id: None,
        name: "name".into(),
        description: "description".into(),
        scope: Scope::parse("read write").unwrap(),
        created_at: now(),
        expires_at: Some(now() + Duration::hours(1)),
        creator_id: user_id,
        binding: Binding::Ip("127.0.0.2".parse().unwrap()),
        family,
        idle_timeout: None,
    }
}

async fn users_round_trip_and_names_are_unique_ignoring_case(store: &dyn Store) {
    let alice = store
        .insert_user(&new_user("Alice", Role::Admin))
        .await
        .unwrap();
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.role, Role::Admin);
    assert!(alice.enabled);
    assert_eq!(alice.permissions, vec![Permission::Exclude2fa]);
    let (found, hash) = store.user_by_username("alice").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert!(hash.starts_with("$argon2id$"));
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert!(matches!(
        store.insert_user(&new_user("ALICE", Role::User)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.set_user_enabled(alice.id, false).await.unwrap());
    assert!(!store.user_by_id(alice.id).await.unwrap().unwrap().enabled);
    assert!(store
        .set_password_hash(alice.id, "$argon2id$new")
        .await
        .unwrap());
    assert_eq!(
        store.user_by_username("Alice").await.unwrap().unwrap().1,
        "$argon2id$new"
    );
    assert!(!store.set_user_enabled(9999, false).await.unwrap());
}

async fn super_admins_are_counted_when_enabled(store: &dyn Store) {
    assert_eq!(store.count_super_admins().await.unwrap(), 0);
    let root = store
        .insert_user(&new_user("root", Role::SuperAdmin))
        .await
        .unwrap();
    store
        .insert_user(&new_user("plain", Role::User))
        .await
        .unwrap();
    assert_eq!(store.count_super_admins().await.unwrap(), 1);
    store.set_user_enabled(root.id, false).await.unwrap();
    assert_eq!(store.count_super_admins().await.unwrap(), 0);
}

async fn tokens_are_found_by_hash_and_round_trip(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("bob", Role::User))
        .await
        .unwrap();
    let family = Uuid::new_v4();
    let stored = store
        .insert_token(&new_token(Some(user.id), "secret-1", Some(family)))
        .await
        .unwrap();
    assert_eq!(stored.status, TokenStatus::Active);
    assert_eq!(stored.binding, Binding::Ip("127.0.0.2".parse().unwrap()));
    assert_eq!(stored.family, Some(family));
    assert_eq!(
        store
            .token_by_hash(&SecretHash::of("secret-1"))
            .await
            .unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.token_by_id(stored.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.token_by_hash(&SecretHash::of("other")).await.unwrap(),
        None
    );
}

async fn transitions_are_compare_and_set(store: &dyn Store) {
    let token = store
        .insert_token(&new_token(None, "s", None))
        .await
        .unwrap();
    assert!(store
        .transition_token(token.id, TokenStatus::Active, TokenStatus::Rotated)
        .await
        .unwrap());
    assert!(!store
        .transition_token(token.id, TokenStatus::Active, TokenStatus::Rotated)
        .await
        .unwrap());
    assert_eq!(
        store.token_by_id(token.id).await.unwrap().unwrap().status,
        TokenStatus::Rotated
    );
}

async fn a_family_is_revoked_together(store: &dyn Store) {
    let family = Uuid::new_v4();
    let a = store
        .insert_token(&new_token(None, "a", Some(family)))
        .await
        .unwrap();
    let b = store
        .insert_token(&new_token(None, "b", Some(family)))
        .await
        .unwrap();
    let outsider = store
        .insert_token(&new_token(None, "c", None))
        .await
        .unwrap();
    store
        .transition_token(a.id, TokenStatus::Active, TokenStatus::Rotated)
        .await
        .unwrap();
    let mut revoked = store.revoke_family(family).await.unwrap();
    revoked.sort_by_key(|(id, _)| *id);
    assert_eq!(revoked, vec![(a.id, a.hash), (b.id, b.hash)]);
    assert_eq!(
        store.token_by_id(a.id).await.unwrap().unwrap().status,
        TokenStatus::Revoked,
        "a spent refresh token reads revoked once its family is"
    );
    assert!(store.revoke_family(family).await.unwrap().is_empty());
    assert_eq!(
        store
            .token_by_id(outsider.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        TokenStatus::Active
    );
}

async fn a_users_sole_door_token_revokes_the_earlier_ones(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("owen", Role::User))
        .await
        .unwrap();
    let old = store
        .insert_token(&new_token(Some(user.id), "old", None))
        .await
        .unwrap();
    let mut disabled = new_token(Some(user.id), "disabled", None);
    disabled.name = "disabled".into();
    let disabled = store.insert_token(&disabled).await.unwrap();
    store
        .transition_token(disabled.id, TokenStatus::Active, TokenStatus::Disabled)
        .await
        .unwrap();
    let mut other_door = new_token(Some(user.id), "cli", None);
    other_door.door = Door::Cli;
    let other_door = store.insert_token(&other_door).await.unwrap();
    let someone = store
        .insert_user(&new_user("someone", Role::User))
        .await
        .unwrap();
    let someone_elses = store
        .insert_token(&new_token(Some(someone.id), "someone", None))
        .await
        .unwrap();

    let (sole, revoked) = store
        .insert_sole_door_token(
            &new_token(Some(user.id), "sole", None),
            &event(AuditKind::TokenIssued, "sole issued"),
            &|id, newer| {
                event(
                    AuditKind::TokenRevoked,
                    &format!("{id} discarded by {newer}"),
                )
            },
        )
        .await
        .unwrap();
    assert_eq!(sole.status, TokenStatus::Active);
    assert_eq!(sole.hash, SecretHash::of("sole"));
    assert_eq!(
        revoked,
        vec![(old.id, old.hash), (disabled.id, disabled.hash)]
    );
    for (id, status) in [
        (old.id, TokenStatus::Revoked),
        (disabled.id, TokenStatus::Revoked),
        (sole.id, TokenStatus::Active),
        (other_door.id, TokenStatus::Active),
        (someone_elses.id, TokenStatus::Active),
    ] {
        assert_eq!(store.token_by_id(id).await.unwrap().unwrap().status, status);
    }

    // The issue and each revoke are audited in the same transaction, naming their tokens.
    let events: Vec<(AuditKind, Option<i64>, String)> = store
        .list_audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.kind, e.event.token_id, e.event.detail))
        .collect();
    assert_eq!(
        events.len(),
        3,
        "one issue and two revokes, nothing else: {events:?}"
    );
    for expected in [
        (
            AuditKind::TokenIssued,
            Some(sole.id),
            "sole issued".to_owned(),
        ),
        (
            AuditKind::TokenRevoked,
            None,
            format!("{} discarded by {}", old.id, sole.id),
        ),
        (
            AuditKind::TokenRevoked,
            None,
            format!("{} discarded by {}", disabled.id, sole.id),
        ),
    ] {
        assert!(events.contains(&expected), "{expected:?} in {events:?}");
    }
}

async fn last_access_only_moves_forward(store: &dyn Store) {
    let token = store
        .insert_token(&new_token(None, "t", None))
        .await
        .unwrap();
    let later = now() + Duration::minutes(5);
    store
        .record_last_access(&[(token.id, later)])
        .await
        .unwrap();
    store
        .record_last_access(&[(token.id, now())])
        .await
        .unwrap();
    assert_eq!(
        store
            .token_by_id(token.id)
            .await
            .unwrap()
            .unwrap()
            .last_access,
        Some(later)
    );
}

async fn deleting_a_user_deletes_their_tokens(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("carol", Role::User))
        .await
        .unwrap();
    let token = store
        .insert_token(&new_token(Some(user.id), "x", None))
        .await
        .unwrap();
    assert!(store.delete_user(user.id).await.unwrap());
    assert_eq!(store.token_by_id(token.id).await.unwrap(), None);
    assert!(!store.delete_user(user.id).await.unwrap());
}

async fn token_lists_filter_and_page(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("dave", Role::User))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let token = store
            .insert_token(&new_token(Some(user.id), &format!("p{i}"), None))
            .await
            .unwrap();
        ids.push(token.id);
    }
    store
        .insert_token(&new_token(None, "someone else", None))
        .await
        .unwrap();
    let page = |after, limit| TokenQuery {
        user_id: Some(user.id),
        after_id: after,
        limit,
        ..TokenQuery::default()
    };
    let first = store.list_tokens(&page(None, 2)).await.unwrap();
    assert_eq!(first.iter().map(|t| t.id).collect::<Vec<_>>(), ids[..2]);
    let rest = store.list_tokens(&page(Some(ids[1]), 10)).await.unwrap();
    assert_eq!(rest.iter().map(|t| t.id).collect::<Vec<_>>(), ids[2..]);
    store
        .transition_token(ids[0], TokenStatus::Active, TokenStatus::Revoked)
        .await
        .unwrap();
    let revoked = store
        .list_tokens(&TokenQuery {
            status: Some(TokenStatus::Revoked),
            limit: 10,
            ..TokenQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1);
}

async fn clients_round_trip_and_take_their_tokens_along(store: &dyn Store) {
    let client = Client {
        id: "svc".into(),
        name: "Service".into(),
        secret_hash: SecretHash::of("client-secret"),
        grants: vec![GrantType::Password, GrantType::ClientCredentials],
        scope: Scope::parse("read").unwrap(),
        created_at: now(),
    };
    store.insert_client(&client).await.unwrap();
    assert!(matches!(
        store.insert_client(&client).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.client_by_id("svc").await.unwrap(),
        Some(client.clone())
    );
    assert_eq!(store.list_clients().await.unwrap(), vec![client]);
    let mut token = new_token(None, "client token", None);
    token.client_id = Some("svc".into());
    let token = store.insert_token(&token).await.unwrap();
    assert!(store.delete_client("svc").await.unwrap());
    assert_eq!(store.token_by_id(token.id).await.unwrap(), None);
    assert_eq!(store.client_by_id("svc").await.unwrap(), None);
}

/// Issues made at once are written in batches; each gets its own token and its own event, and
/// one that cannot be stored (its user is gone) fails alone.
async fn issued_tokens_are_written_with_their_events(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("issuer", Role::User))
        .await
        .unwrap();
    let issue = |i: usize| {
        let user_id = if i == 7 { 999_999 } else { user.id };
        let token = new_token(Some(user_id), &format!("issued-{i}"), None);
        let event = NewAuditEvent {
            at: now(),
            kind: AuditKind::TokenIssued,
            door: Door::OAuth,
            actor_user_id: None,
            subject_user_id: Some(user_id),
            token_id: None,
            client_id: None,
            source_ip: None,
            detail: format!("issue {i}"),
        };
        async move { store.insert_issued_token(&token, &event).await }
    };
    let answers = futures_util::future::join_all((0..40).map(issue)).await;
    let events = store
        .list_audit(&AuditQuery {
            kind: Some(AuditKind::TokenIssued),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 39, "one event for each stored token");
    for (i, answer) in answers.into_iter().enumerate() {
        if i == 7 {
            assert!(answer.is_err(), "a token of a missing user is not stored");
            continue;
        }
        let token = answer.unwrap();
        assert_eq!(token.hash, SecretHash::of(&format!("issued-{i}")));
        assert_eq!(
            store.token_by_hash(&token.hash).await.unwrap(),
            Some(token.clone())
        );
        let event = events
            .iter()
            .find(|e| e.event.detail == format!("issue {i}"))
            .unwrap();
        assert_eq!(
            event.event.token_id,
            Some(token.id),
            "the event names its token"
        );
    }
}

async fn audit_events_are_listed_newest_first_and_filtered(store: &dyn Store) {
    for (kind, subject) in [
        (AuditKind::TokenIssued, Some(1)),
        (AuditKind::LoginFailed, None),
        (AuditKind::TokenRevoked, Some(1)),
    ] {
        store
            .insert_audit(&NewAuditEvent {
                at: now(),
                kind,
                door: Door::OAuth,
                actor_user_id: None,
                subject_user_id: subject,
                token_id: None,
                client_id: None,
                source_ip: Some("127.0.0.1".into()),
                detail: "d".into(),
            })
            .await
            .unwrap();
    }
    let all = store
        .list_audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.event.kind).collect::<Vec<_>>(),
        [
            AuditKind::TokenRevoked,
            AuditKind::LoginFailed,
            AuditKind::TokenIssued
        ]
    );
    let for_user = store
        .list_audit(&AuditQuery {
            user_id: Some(1),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(for_user.len(), 2);
    let failed = store
        .list_audit(&AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
}

async fn api_token(
    store: &dyn Store,
    user_id: i64,
    name: &str,
    description: &str,
) -> tessera_core::Token {
    let mut token = new_token(Some(user_id), &format!("secret of {name}"), None);
    token.kind = TokenKind::Api;
    token.name = name.into();
    token.description = description.into();
    store.insert_token(&token).await.unwrap()
}

fn names(tokens: &[tessera_core::Token]) -> Vec<&str> {
    tokens.iter().map(|t| t.name.as_str()).collect()
}

async fn token_search_filters_searches_sorts_and_limits(store: &dyn Store) {
    let zoe = store
        .insert_user(&new_user("zoe", Role::User))
        .await
        .unwrap();
    let yan = store
        .insert_user(&new_user("yan", Role::User))
        .await
        .unwrap();
    api_token(store, zoe.id, "Backup job", "nightly").await;
    api_token(store, zoe.id, "grafana", "dashboards 100%").await;
    api_token(store, yan.id, "backup-old", "").await;
    store
        .insert_token(&new_token(Some(zoe.id), "a session", None))
        .await
        .unwrap();
    let api = |f: &dyn Fn(&mut TokenSearch)| {
        let mut search = TokenSearch {
            kind: Some(TokenKind::Api),
            ..TokenSearch::default()
        };
        f(&mut search);
        search
    };
    let all = store.search_tokens(&api(&|_| {})).await.unwrap();
    assert_eq!(names(&all), ["Backup job", "grafana", "backup-old"]);
    let search = api(&|s| s.search = vec![(TokenField::Name, vec!["BACKUP".into()])]);
    assert_eq!(
        names(&store.search_tokens(&search).await.unwrap()),
        ["Backup job", "backup-old"]
    );
    assert_eq!(store.count_tokens(&search).await.unwrap(), 2);
    let start = api(&|s| {
        s.search = vec![(TokenField::Name, vec!["ack".into()])];
        s.search_mode.at_start = true;
    });
    assert!(store.search_tokens(&start).await.unwrap().is_empty());
    let wildcard = api(&|s| {
        s.search = vec![(TokenField::Name, vec!["b*old".into()])];
        s.search_mode.wildcards = true;
    });
    assert_eq!(
        names(&store.search_tokens(&wildcard).await.unwrap()),
        ["backup-old"]
    );
    let percent = api(&|s| s.search = vec![(TokenField::Description, vec!["100%".into()])]);
    assert_eq!(
        names(&store.search_tokens(&percent).await.unwrap()),
        ["grafana"]
    );
    let literal = api(&|s| s.search = vec![(TokenField::Description, vec!["1_0".into()])]);
    assert!(
        store.search_tokens(&literal).await.unwrap().is_empty(),
        "_ is literal"
    );
    let excluded = api(&|s| {
        s.search = vec![(TokenField::Name, vec!["backup".into()])];
        s.search_mode.exclude = true;
    });
    assert_eq!(
        names(&store.search_tokens(&excluded).await.unwrap()),
        ["grafana"]
    );
    let any = api(&|s| {
        s.search = vec![
            (TokenField::Name, vec!["grafana".into()]),
            (TokenField::Description, vec!["nightly".into()]),
        ];
        s.search_mode.any_field = true;
    });
    assert_eq!(
        names(&store.search_tokens(&any).await.unwrap()),
        ["Backup job", "grafana"]
    );
    let filtered = api(&|s| {
        s.filter = vec![(
            TokenField::Name,
            vec![
                FieldValue::Text("grafana".into()),
                FieldValue::Text("backup-old".into()),
            ],
        )]
    });
    assert_eq!(
        names(&store.search_tokens(&filtered).await.unwrap()),
        ["grafana", "backup-old"]
    );
    let by_user = api(&|s| s.user_ids = Some(vec![yan.id]));
    assert_eq!(
        names(&store.search_tokens(&by_user).await.unwrap()),
        ["backup-old"]
    );
    let nobody = api(&|s| s.user_ids = Some(vec![]));
    assert!(store.search_tokens(&nobody).await.unwrap().is_empty());
    let sorted = api(&|s| {
        s.sort = vec![(TokenField::Name, SortOrder::Descending)];
        s.limit = Some(2);
    });
    assert_eq!(
        names(&store.search_tokens(&sorted).await.unwrap()),
        ["grafana", "backup-old"]
    );
    let never_used =
        api(&|s| s.filter = vec![(TokenField::LastAccess, vec![FieldValue::Integer(0)])]);
    assert_eq!(store.count_tokens(&never_used).await.unwrap(), 3);
}

async fn search_terms_all_match_unless_any_may(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("sam", Role::User))
        .await
        .unwrap();
    api_token(store, user.id, "Backup job", "nightly").await;
    api_token(store, user.id, "backup-old", "").await;
    api_token(store, user.id, "grafana", "").await;
    let search = |terms: &[&str], any: bool| TokenSearch {
        kind: Some(TokenKind::Api),
        search: vec![(
            TokenField::Name,
            terms.iter().map(|t| t.to_string()).collect(),
        )],
        search_mode: tessera_core::SearchMode {
            any_field: any,
            ..Default::default()
        },
        ..TokenSearch::default()
    };
    assert_eq!(
        names(
            &store
                .search_tokens(&search(&["backup", "old"], false))
                .await
                .unwrap()
        ),
        ["backup-old"]
    );
    assert_eq!(
        names(
            &store
                .search_tokens(&search(&["old", "graf"], true))
                .await
                .unwrap()
        ),
        ["backup-old", "grafana"]
    );
    assert_eq!(
        store.count_tokens(&search(&[], false)).await.unwrap(),
        3,
        "a field with no terms adds no condition"
    );
}

async fn api_tokens_change_take_new_secrets_and_are_deleted(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("xia", Role::User))
        .await
        .unwrap();
    let token = api_token(store, user.id, "ci", "").await;
    let changes = TokenChanges {
        name: Some("ci-2".into()),
        status: Some(TokenStatus::Disabled),
        expires_at: Some(None),
        ..TokenChanges::default()
    };
    assert!(store.update_token(token.id, &changes).await.unwrap());
    let changed = store.token_by_id(token.id).await.unwrap().unwrap();
    assert_eq!(
        (changed.name.as_str(), changed.status, changed.expires_at),
        ("ci-2", TokenStatus::Disabled, None)
    );
    let fresh = SecretHash::of("fresh secret");
    assert_eq!(
        store
            .replace_token_hash(token.id, &fresh, user.id)
            .await
            .unwrap(),
        Some(token.hash)
    );
    assert_eq!(
        store.token_by_hash(&fresh).await.unwrap().map(|t| t.id),
        Some(token.id)
    );
    assert_eq!(store.token_by_hash(&token.hash).await.unwrap(), None);
    assert_eq!(
        store
            .token_by_id(token.id)
            .await
            .unwrap()
            .unwrap()
            .creator_id,
        Some(user.id),
        "whoever makes the secret is the creator"
    );
    assert_eq!(
        store
            .replace_token_hash(999_999, &fresh, user.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delete_tokens(&[token.id, 999_999]).await.unwrap(),
        vec![(token.id, fresh)]
    );
    assert_eq!(store.token_by_id(token.id).await.unwrap(), None);
    assert!(store
        .update_user(user.id, "xia", "Xia X.", Role::Admin)
        .await
        .unwrap());
    let user = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(
        (user.display_name.as_str(), user.role),
        ("Xia X.", Role::Admin)
    );
}

async fn names_fold_ascii_case_only_and_text_sorts_by_code_point(store: &dyn Store) {
    // SQLite's NOCASE folds ASCII only, so on every store "Émile" and "émile" are two users.
    store
        .insert_user(&new_user("Émile", Role::User))
        .await
        .unwrap();
    assert!(store.user_by_username("émile").await.unwrap().is_none());
    assert!(store.user_by_username("éMILE").await.unwrap().is_none());
    let second = store
        .insert_user(&new_user("émile", Role::User))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_user(&new_user("éMILE", Role::User)).await,
        Err(StoreError::Conflict(subject)) if subject == "a user with this name"
    ));
    assert!(matches!(
        store.update_user(second.id, "ÉMILE", "", Role::User).await,
        Err(StoreError::Conflict(subject)) if subject == "a user with this name"
    ));
    assert!(store
        .update_user(second.id, "éMILE", "", Role::User)
        .await
        .unwrap());
    let user = store.user_by_username("Émile").await.unwrap().unwrap().0;
    for name in ["a", "B", "Ä"] {
        api_token(store, user.id, name, "").await;
    }
    let sorted = TokenSearch {
        kind: Some(TokenKind::Api),
        sort: vec![(TokenField::Name, SortOrder::Ascending)],
        ..TokenSearch::default()
    };
    assert_eq!(
        names(&store.search_tokens(&sorted).await.unwrap()),
        ["B", "a", "Ä"],
        "by code point, not by the server's locale"
    );
    let search = TokenSearch {
        kind: Some(TokenKind::Api),
        search: vec![(TokenField::Name, vec!["ä".into()])],
        ..TokenSearch::default()
    };
    assert!(
        store.search_tokens(&search).await.unwrap().is_empty(),
        "searches fold ASCII case only"
    );
}

async fn a_last_access_batch_keeps_each_tokens_latest_time(store: &dyn Store) {
    let a = store
        .insert_token(&new_token(None, "a", None))
        .await
        .unwrap();
    let b = store
        .insert_token(&new_token(None, "b", None))
        .await
        .unwrap();
    let (earlier, later) = (now(), now() + Duration::minutes(1));
    store.record_last_access(&[]).await.unwrap();
    store
        .record_last_access(&[
            (a.id, later),
            (b.id, earlier),
            (a.id, earlier),
            (999_999, later),
        ])
        .await
        .unwrap();
    let last_access = |id| async move { store.token_by_id(id).await.unwrap().unwrap().last_access };
    assert_eq!(last_access(a.id).await, Some(later));
    assert_eq!(last_access(b.id).await, Some(earlier));
}

/// More tokens than one statement writes on SQLite (256), each twice, far apart in the
/// batch: every token gets its later time.
async fn a_large_last_access_batch_is_written_whole(store: &dyn Store) {
    let ids = insert_tokens(store, "many", 600).await;
    let base = now();
    let at = |i: usize, later: bool| base + Duration::seconds(i as i64 * 2 + i64::from(later));
    // The earlier time first: a statement that took a token's first time would keep it.
    let batch: Vec<_> = (ids.iter().enumerate().map(|(i, id)| (*id, at(i, false))))
        .chain(
            ids.iter()
                .enumerate()
                .rev()
                .map(|(i, id)| (*id, at(i, true))),
        )
        .collect();
    store.record_last_access(&batch).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let token = store.token_by_id(*id).await.unwrap().unwrap();
        assert_eq!(token.last_access, Some(at(i, true)), "token {i}");
    }
}

/// token.get's `lastaccess` sort and filter see every write of a last use and every deletion
/// (PostgreSQL reads them from `api_token_uses`, which triggers keep in step with `tokens`).
async fn api_tokens_sort_and_filter_by_their_last_use(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("una", Role::User))
        .await
        .unwrap();
    let a = api_token(store, user.id, "job a", "").await;
    let b = api_token(store, user.id, "job b", "").await;
    let c = api_token(store, user.id, "job c", "").await;
    let session = store
        .insert_token(&new_token(Some(user.id), "una's session", None))
        .await
        .unwrap();
    let base = now();
    let at = |seconds: i64| base + Duration::seconds(seconds);
    store
        .record_last_access(&[(a.id, at(20)), (c.id, at(10)), (session.id, at(30))])
        .await
        .unwrap();
    let by_last_use = |kind, order| TokenSearch {
        kind: Some(kind),
        sort: vec![(TokenField::LastAccess, order)],
        ..TokenSearch::default()
    };
    let sorted = |kind, order| async move {
        let found = store
            .search_tokens(&by_last_use(kind, order))
            .await
            .unwrap();
        found.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    // Never used sorts as Zabbix's 0: first going up, last going down.
    assert_eq!(
        sorted(TokenKind::Api, SortOrder::Descending).await,
        ["job a", "job c", "job b"]
    );
    assert_eq!(
        sorted(TokenKind::Api, SortOrder::Ascending).await,
        ["job b", "job c", "job a"]
    );
    let used_at = |value| TokenSearch {
        kind: Some(TokenKind::Api),
        filter: vec![(TokenField::LastAccess, vec![value])],
        ..TokenSearch::default()
    };
    let seconds = at(20).unix_timestamp();
    assert_eq!(
        names(
            &store
                .search_tokens(&used_at(FieldValue::Integer(seconds)))
                .await
                .unwrap()
        ),
        ["job a"]
    );
    assert_eq!(
        store
            .count_tokens(&used_at(FieldValue::Integer(0)))
            .await
            .unwrap(),
        1
    );
    store.record_last_access(&[(b.id, at(40))]).await.unwrap();
    assert_eq!(
        sorted(TokenKind::Api, SortOrder::Descending).await,
        ["job b", "job a", "job c"]
    );
    // A name searched too, with a limit: on PostgreSQL the search first reads a window of the
    // tokens in its order (text_search).
    let named = TokenSearch {
        search: vec![(TokenField::Name, vec!["job".into()])],
        limit: Some(2),
        ..by_last_use(TokenKind::Api, SortOrder::Descending)
    };
    assert_eq!(
        names(&store.search_tokens(&named).await.unwrap()),
        ["job b", "job a"]
    );
    assert_eq!(
        store
            .count_tokens(&used_at(FieldValue::Integer(0)))
            .await
            .unwrap(),
        0
    );
    store.delete_tokens(&[a.id]).await.unwrap();
    assert_eq!(
        sorted(TokenKind::Api, SortOrder::Descending).await,
        ["job b", "job c"]
    );
    // Other kinds sort by the same times.
    let sessions = store
        .search_tokens(&by_last_use(TokenKind::Session, SortOrder::Descending))
        .await
        .unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|t| (t.id, t.last_access))
            .collect::<Vec<_>>(),
        [(session.id, Some(at(30)))]
    );
}

async fn token_filters_compare_numbers_and_text_alike(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("uma", Role::User))
        .await
        .unwrap();
    let seven = api_token(store, user.id, "7", "").await;
    // Created in the same second as "7", so the created_at filter below
    // cannot straddle a second boundary and count one.
    let mut other = new_token(Some(user.id), "secret of other", None);
    other.kind = TokenKind::Api;
    other.name = "other".into();
    other.created_at = seven.created_at;
    store.insert_token(&other).await.unwrap();
    let filter = |field, value| TokenSearch {
        kind: Some(TokenKind::Api),
        filter: vec![(field, vec![value])],
        ..TokenSearch::default()
    };
    let count = |search: TokenSearch| async move { store.count_tokens(&search).await.unwrap() };
    let id = user.id.to_string();
    assert_eq!(
        count(filter(TokenField::UserId, FieldValue::Text(id))).await,
        2
    );
    assert_eq!(
        count(filter(TokenField::UserId, FieldValue::Text("x".into()))).await,
        0
    );
    assert_eq!(
        count(filter(TokenField::UserId, FieldValue::Integer(user.id))).await,
        2
    );
    assert_eq!(
        count(filter(TokenField::Name, FieldValue::Integer(7))).await,
        1
    );
    assert_eq!(
        count(filter(
            TokenField::CreatedAt,
            FieldValue::Integer(seven.created_at.unix_timestamp())
        ))
        .await,
        2
    );
    assert_eq!(
        count(filter(
            TokenField::Status,
            FieldValue::Status(TokenStatus::Active)
        ))
        .await,
        2
    );
    let by_id = TokenSearch {
        search: vec![(TokenField::Id, vec![seven.id.to_string()])],
        search_mode: tessera_core::SearchMode {
            wildcards: true,
            ..Default::default()
        },
        ..TokenSearch::default()
    };
    assert_eq!(
        store
            .search_tokens(&by_id)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        [seven.id],
        "a number is searched in its decimal text"
    );
}

async fn behavior_settings_are_set_replaced_and_removed(store: &dyn Store) {
    let name = "extraview_token_lifetime";
    assert_eq!(store.behavior_setting(name).await.unwrap(), None);
    store
        .set_behavior_setting(name, Some("600"), now())
        .await
        .unwrap();
    store
        .set_behavior_setting(name, Some("900"), now())
        .await
        .unwrap();
    assert_eq!(
        store.behavior_setting(name).await.unwrap().as_deref(),
        Some("900")
    );
    store.set_behavior_setting(name, None, now()).await.unwrap();
    assert_eq!(store.behavior_setting(name).await.unwrap(), None);
}

async fn totp_steps_are_used_once_and_secrets_reset_them(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("tess", Role::User))
        .await
        .unwrap();
    assert!(!user.totp_enabled && !user.api_2fa_bypass);
    assert!(store
        .set_totp_secret(user.id, Some("SECRET"))
        .await
        .unwrap());
    assert_eq!(
        store.totp_secret(user.id).await.unwrap().as_deref(),
        Some("SECRET")
    );
    assert!(store.consume_totp_step(user.id, 10).await.unwrap());
    assert!(!store.consume_totp_step(user.id, 10).await.unwrap());
    assert!(!store.consume_totp_step(user.id, 9).await.unwrap());
    assert!(store.consume_totp_step(user.id, 11).await.unwrap());
    assert!(store.set_totp_secret(user.id, Some("OTHER")).await.unwrap());
    assert!(
        store.consume_totp_step(user.id, 5).await.unwrap(),
        "a new secret starts with no step used"
    );
    assert!(store.set_api_2fa_bypass(user.id, true).await.unwrap());
    let changed = store.user_by_id(user.id).await.unwrap().unwrap();
    assert!(changed.totp_enabled && changed.api_2fa_bypass);
    assert!(store.set_totp_secret(user.id, None).await.unwrap());
    assert_eq!(store.totp_secret(user.id).await.unwrap(), None);
    assert!(
        !store
            .user_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .totp_enabled
    );
    assert!(!store.set_totp_secret(999_999, None).await.unwrap());
    assert_eq!(store.totp_secret(999_999).await.unwrap(), None);
    assert!(!store.consume_totp_step(999_999, 1).await.unwrap());
}

/// Substring searches answer the same whether the trigram index narrows them or not: after a
/// rename, after a user's tokens went with the user, ignoring case, and with more matches than
/// the index hands over (the ordinary plan then finds them).
async fn substring_searches_follow_renames_deletions_and_many_matches(store: &dyn Store) {
    let ann = store
        .insert_user(&new_user("ann", Role::User))
        .await
        .unwrap();
    let bob = store
        .insert_user(&new_user("bob", Role::User))
        .await
        .unwrap();
    let rare = api_token(store, ann.id, "svc-654321-Deploy", "for the \"night\" run").await;
    api_token(store, bob.id, "svc-654322-deploy", "").await;
    let search = |field: TokenField, term: &str| TokenSearch {
        kind: Some(TokenKind::Api),
        search: vec![(field, vec![term.to_owned()])],
        ..TokenSearch::default()
    };
    let found = |search: TokenSearch| async move {
        let tokens = store.search_tokens(&search).await.unwrap();
        let count = store.count_tokens(&search).await.unwrap();
        assert_eq!(count as usize, tokens.len(), "{search:?}");
        tokens.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    assert_eq!(
        found(search(TokenField::Name, "SVC-654321-")).await,
        ["svc-654321-Deploy"]
    );
    assert_eq!(found(search(TokenField::Name, "deploy")).await.len(), 2);
    assert_eq!(
        found(search(TokenField::Description, "\"night\"")).await,
        ["svc-654321-Deploy"]
    );
    let renamed = TokenChanges {
        name: Some("svc-777777-deploy".into()),
        ..TokenChanges::default()
    };
    assert!(store.update_token(rare.id, &renamed).await.unwrap());
    assert!(found(search(TokenField::Name, "654321")).await.is_empty());
    assert_eq!(
        found(search(TokenField::Name, "777777")).await,
        ["svc-777777-deploy"]
    );
    assert!(store.delete_user(ann.id).await.unwrap());
    assert!(found(search(TokenField::Name, "777777")).await.is_empty());

    // More matches than the index hands over: issued together, in batches.
    let many = (0..1_001).map(|i| {
        let mut token = new_token(Some(bob.id), &format!("many {i}"), None);
        token.kind = TokenKind::Api;
        token.name = format!("common-{i:04}");
        async move {
            store
                .insert_issued_token(&token, &event(AuditKind::TokenIssued, "issued"))
                .await
                .unwrap()
        }
    });
    futures_util::future::join_all(many).await;
    let first = TokenSearch {
        sort: vec![(TokenField::Name, SortOrder::Descending)],
        limit: Some(2),
        ..search(TokenField::Name, "COMMON-")
    };
    assert_eq!(
        names(&store.search_tokens(&first).await.unwrap()),
        ["common-1000", "common-0999"]
    );
    assert_eq!(store.count_tokens(&first).await.unwrap(), 1_001);
    assert_eq!(
        found(search(TokenField::Name, "common-0500")).await,
        ["common-0500"]
    );
    let rare_first = TokenSearch {
        limit: Some(2),
        ..search(TokenField::Name, "common-0500")
    };
    assert_eq!(
        names(&store.search_tokens(&rare_first).await.unwrap()),
        ["common-0500"]
    );
}

/// An audit event of this moment through the OWIN door, naming no token yet.
fn event(kind: AuditKind, detail: &str) -> NewAuditEvent {
    NewAuditEvent {
        at: now(),
        kind,
        door: Door::Owin,
        actor_user_id: None,
        subject_user_id: None,
        token_id: None,
        client_id: None,
        source_ip: None,
        detail: detail.to_owned(),
    }
}

/// Many sign-ins of one user at once, each on a connection of its own: exactly one token stays
/// active, the one with the highest id, and every other one was revoked by a later sign-in.
async fn sole_door_tokens_issued_at_once_leave_one_alive(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("racer", Role::User))
        .await
        .unwrap();
    let signins = (0..24).map(|i| {
        let token = new_token(Some(user.id), &format!("race-{i}"), None);
        async move {
            store
                .insert_sole_door_token(
                    &token,
                    &event(AuditKind::TokenIssued, "issued"),
                    &|_, _| event(AuditKind::TokenRevoked, "discarded"),
                )
                .await
                .unwrap()
        }
    });
    let issued = futures_util::future::join_all(signins).await;
    let newest = issued.iter().map(|(token, _)| token.id).max().unwrap();
    let mut revoked: Vec<i64> = issued
        .iter()
        .flat_map(|(_, revoked)| revoked.iter().map(|(id, _)| *id))
        .collect();
    revoked.sort();
    let mut others: Vec<i64> = issued
        .iter()
        .map(|(token, _)| token.id)
        .filter(|id| *id != newest)
        .collect();
    others.sort();
    assert_eq!(revoked, others, "each earlier token revoked exactly once");
    let tokens = store
        .list_tokens(&TokenQuery {
            user_id: Some(user.id),
            limit: 100,
            ..TokenQuery::default()
        })
        .await
        .unwrap();
    let active: Vec<i64> = tokens
        .iter()
        .filter(|t| t.status == TokenStatus::Active)
        .map(|t| t.id)
        .collect();
    assert_eq!(active, vec![newest]);
}

async fn failed_sign_ins_are_swapped_only_from_what_they_were(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("mallory", Role::User))
        .await
        .unwrap();
    let none = tessera_core::FailedSignIns::default();
    assert_eq!(user.failed_sign_ins, none);
    let at = now();
    let one = none.plus_one(at, "192.0.2.1".into());
    assert!(store
        .swap_failed_sign_ins(user.id, &none, &one)
        .await
        .unwrap());
    // A second attempt that read "none" too loses the race and must read again.
    assert!(!store
        .swap_failed_sign_ins(user.id, &none, &one)
        .await
        .unwrap());
    let two = one.plus_one(at + Duration::seconds(1), "192.0.2.2".into());
    assert!(store
        .swap_failed_sign_ins(user.id, &one, &two)
        .await
        .unwrap());
    let stored = store
        .user_by_id(user.id)
        .await
        .unwrap()
        .unwrap()
        .failed_sign_ins;
    assert_eq!(stored, two);
    assert!(store.clear_failed_sign_ins(user.id).await.unwrap());
    let stored = store
        .user_by_id(user.id)
        .await
        .unwrap()
        .unwrap()
        .failed_sign_ins;
    let cleared = tessera_core::FailedSignIns { count: 0, ..two };
    assert_eq!(stored, cleared, "when and where stay, as in Zabbix");
    assert!(!store.clear_failed_sign_ins(999_999).await.unwrap());
    assert!(!store
        .swap_failed_sign_ins(999_999, &none, &one)
        .await
        .unwrap());
}

async fn old_audit_events_are_pruned_in_batches_oldest_first(store: &dyn Store) {
    let start = now();
    for day in 0..5 {
        store
            .insert_audit(&NewAuditEvent {
                at: start + Duration::days(day),
                kind: AuditKind::TokenIssued,
                door: Door::Cli,
                actor_user_id: None,
                subject_user_id: None,
                token_id: Some(day),
                client_id: None,
                source_ip: None,
                detail: String::new(),
            })
            .await
            .unwrap();
    }
    // Before day 3: days 0, 1 and 2 go, two at a time.
    let before = start + Duration::days(3);
    assert_eq!(store.prune_audit(before, 2).await.unwrap(), 2);
    assert_eq!(store.prune_audit(before, 2).await.unwrap(), 1);
    assert_eq!(store.prune_audit(before, 2).await.unwrap(), 0);
    let left = store
        .list_audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|e| e.event.token_id).collect::<Vec<_>>(),
        [Some(4), Some(3)]
    );
}

/// Writes given up at any point (a client that hangs up cancels its request) leave no
/// transaction behind: the next write gets in. With sqlx 0.8, a SQLite `BEGIN IMMEDIATE`
/// cancelled just after it ran left its pool connection inside the transaction, holding the
/// write lock for good ("database is locked" for every later write).
async fn writes_given_up_midway_leave_the_database_writable(store: &dyn Store) {
    let user = store
        .insert_user(&new_user("quitter", Role::User))
        .await
        .unwrap();
    for round in 0..40u64 {
        let attempts = (0..8u64).map(|i| {
            let token = new_token(Some(user.id), &format!("quit-{round}-{i}"), None);
            // From a few microseconds to a few milliseconds: every step of the transaction
            // gets cut short in some round.
            let patience = std::time::Duration::from_micros((round * 8 + i) * 97 % 4000 + 1);
            async move {
                let issued = event(AuditKind::TokenIssued, "issued");
                let discarded = |_, _| event(AuditKind::TokenRevoked, "discarded");
                let write = store.insert_sole_door_token(&token, &issued, &discarded);
                let _ = tokio::time::timeout(patience, write).await;
            }
        });
        futures_util::future::join_all(attempts).await;
        let next = new_token(Some(user.id), &format!("after-{round}"), None);
        let written = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            store.insert_sole_door_token(
                &next,
                &event(AuditKind::TokenIssued, "issued"),
                &|_, _| event(AuditKind::TokenRevoked, "discarded"),
            ),
        )
        .await;
        assert!(
            matches!(written, Ok(Ok(_))),
            "round {round}: a write after cancelled ones: {written:?}"
        );
    }
}

/// Runs each check on a fresh SQLite database and on a fresh PostgreSQL database.
macro_rules! store_suite {
    ($($check:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let (store, _dir) = super::sqlite().await;
                    super::$check(store.as_ref()).await;
                }
            )+
        }

        mod on_postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some((_database, store)) = super::postgres().await else {
                        return;
                    };
                    super::$check(store.as_ref()).await;
                }
            )+
        }
    };
}

store_suite!(
    users_round_trip_and_names_are_unique_ignoring_case,
    names_fold_ascii_case_only_and_text_sorts_by_code_point,
    super_admins_are_counted_when_enabled,
    tokens_are_found_by_hash_and_round_trip,
    transitions_are_compare_and_set,
    a_family_is_revoked_together,
    a_users_sole_door_token_revokes_the_earlier_ones,
    sole_door_tokens_issued_at_once_leave_one_alive,
    writes_given_up_midway_leave_the_database_writable,
    last_access_only_moves_forward,
    a_last_access_batch_keeps_each_tokens_latest_time,
    a_large_last_access_batch_is_written_whole,
    deleting_a_user_deletes_their_tokens,
    token_lists_filter_and_page,
    clients_round_trip_and_take_their_tokens_along,
    issued_tokens_are_written_with_their_events,
    audit_events_are_listed_newest_first_and_filtered,
    token_search_filters_searches_sorts_and_limits,
    token_filters_compare_numbers_and_text_alike,
    api_tokens_sort_and_filter_by_their_last_use,
    search_terms_all_match_unless_any_may,
    substring_searches_follow_renames_deletions_and_many_matches,
    api_tokens_change_take_new_secrets_and_are_deleted,
    behavior_settings_are_set_replaced_and_removed,
    totp_steps_are_used_once_and_secrets_reset_them,
    failed_sign_ins_are_swapped_only_from_what_they_were,
    old_audit_events_are_pruned_in_batches_oldest_first,
);

#[tokio::test]
async fn a_database_survives_reopening_with_its_migrations_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("again.db").display());
    let first = tessera_store::connect(&url).await.unwrap();
    first
        .insert_user(&new_user("eve", Role::User))
        .await
        .unwrap();
    drop(first);
    let second = tessera_store::connect(&url).await.unwrap();
    assert!(second.user_by_username("eve").await.unwrap().is_some());
}

#[tokio::test]
async fn an_unopenable_database_is_a_clear_error() {
    let error = tessera_store::connect("sqlite:///nonexistent-dir/x/y.db")
        .await
        .err()
        .expect("cannot open");
    assert!(
        error
            .to_string()
            .contains("cannot open the SQLite database"),
        "{error}"
    );
}

#[tokio::test]
async fn sqlite_migrations_are_reported_once_then_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("migrate.db").display());
    assert_eq!(
        tessera_store::migrate(&url).await.unwrap(),
        [
            "initial",
            "two factor and behavior",
            "token search",
            "change announcements",
            "sign in lockout",
            "token indexes at scale",
            "client announcements",
            "user token index",
            "token text trigrams",
            "api token indexes",
            "live user token index",
            "partial user indexes"
        ]
    );
    assert!(tessera_store::migrate(&url).await.unwrap().is_empty());
    let store = tessera_store::connect(&url).await.unwrap();
    store.ping().await.unwrap();
}

#[tokio::test]
async fn postgres_migrations_apply_once_and_again_change_nothing() {
    let Some(database) = postgres_database().await else {
        return;
    };
    assert_eq!(
        tessera_store::migrate(database.url()).await.unwrap(),
        [
            "initial",
            "two factor and behavior",
            "token search",
            "change announcements",
            "sign in lockout",
            "token indexes at scale",
            "client announcements",
            "user token index",
            "token text trigrams",
            "api token indexes",
            "live user token index",
            "partial user indexes",
            "api token uses"
        ]
    );
    assert!(tessera_store::migrate(database.url())
        .await
        .unwrap()
        .is_empty());
    let first = tessera_store::connect(database.url()).await.unwrap();
    first
        .insert_user(&new_user("eve", Role::User))
        .await
        .unwrap();
    drop(first);
    let second = tessera_store::connect(database.url()).await.unwrap();
    assert!(second.user_by_username("EVE").await.unwrap().is_some());
    assert!(tessera_store::migrate(database.url())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_prompt_clear_error_without_the_password() {
    let started = std::time::Instant::now();
    let error = tessera_store::connect("postgres://tessera:hunter2@127.0.0.1:1/tessera")
        .await
        .err()
        .expect("nothing listens on port 1");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unavailable(_)), "{message}");
    assert!(
        message.contains("cannot connect to the PostgreSQL database tessera@127.0.0.1:1/tessera"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let error = tessera_store::migrate("postgres://tessera:hunter2@127.0.0.1:1/tessera")
        .await
        .expect_err("nothing listens on port 1");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

async fn next_change(heard: &mut tokio::sync::mpsc::UnboundedReceiver<StoreChange>) -> StoreChange {
    tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
        .await
        .expect("an announcement within 5 s")
        .expect("the watch goes on")
}

/// What a second store on the same PostgreSQL database hears while the first changes things:
/// every change a check can see, named, and nothing for a token's use or a TOTP step.
#[tokio::test]
async fn postgres_announces_every_change_a_check_can_see() {
    let Some((database, store)) = postgres().await else {
        return;
    };
    let watcher = tessera_store::connect(database.url()).await.unwrap();
    let (sender, mut heard) = tokio::sync::mpsc::unbounded_channel();
    watcher.watch_changes(Arc::new(move |change| sender.send(change).is_ok()));
    // Listening starts by forgetting whatever may have been missed before.
    assert_eq!(next_change(&mut heard).await, StoreChange::Unknown);

    let user = store
        .insert_user(&new_user("carol", Role::User))
        .await
        .unwrap();
    let token = store
        .insert_token(&new_token(Some(user.id), "announced", None))
        .await
        .unwrap();
    // Neither a use nor a TOTP step is announced; the revoke after them is the next thing heard.
    store
        .record_last_access(&[(token.id, now())])
        .await
        .unwrap();
    store
        .set_totp_secret(user.id, Some("JBSWY3DPEHPK3PXP"))
        .await
        .unwrap();
    assert_eq!(next_change(&mut heard).await, StoreChange::User(user.id));
    store.consume_totp_step(user.id, 7).await.unwrap();
    store
        .transition_token(token.id, TokenStatus::Active, TokenStatus::Revoked)
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut heard).await,
        StoreChange::Token(token.hash)
    );

    store.set_user_enabled(user.id, false).await.unwrap();
    assert_eq!(next_change(&mut heard).await, StoreChange::User(user.id));

    let renewed = SecretHash::of("renewed");
    store
        .replace_token_hash(token.id, &renewed, user.id)
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut heard).await,
        StoreChange::Token(token.hash)
    );

    // Deleting the user takes their token along: both are announced.
    store.delete_user(user.id).await.unwrap();
    let mut deleted = vec![next_change(&mut heard).await, next_change(&mut heard).await];
    deleted.sort_by_key(|change| matches!(change, StoreChange::User(_)));
    assert_eq!(
        deleted,
        [StoreChange::Token(renewed), StoreChange::User(user.id)]
    );

    // Too many tokens at once are announced as one "anything may have changed".
    let many = insert_tokens(&*store, "bulk", 1001).await;
    store.delete_tokens(&many).await.unwrap();
    assert_eq!(next_change(&mut heard).await, StoreChange::Unknown);

    // A deleted client is named, so that no node keeps accepting its secret.
    let client = Client {
        id: "announced-svc".into(),
        name: "Service".into(),
        secret_hash: SecretHash::of("client-secret"),
        grants: vec![GrantType::ClientCredentials],
        scope: Scope::parse("read").unwrap(),
        created_at: now(),
    };
    store.insert_client(&client).await.unwrap();
    store.delete_client(&client.id).await.unwrap();
    assert_eq!(
        next_change(&mut heard).await,
        StoreChange::Client(client.id)
    );
    assert!(heard.try_recv().is_err(), "nothing else was announced");
}

/// Issued tokens are copied back from SQLite's WAL into the database file while more are
/// issued (`checkpoints`), long before the issuer's connection would do it itself (at 10,000
/// WAL pages), inside a batch's commit.
#[tokio::test]
async fn sqlite_copies_issued_tokens_back_while_they_are_issued() {
    let (store, dir) = sqlite().await;
    let user = store
        .insert_user(&new_user("busy", Role::User))
        .await
        .unwrap();
    let database = dir.path().join("store.db");
    let size = || std::fs::metadata(&database).unwrap().len();
    let before = size();
    let issue = |i: usize| {
        let token = new_token(Some(user.id), &format!("busy-{i}"), None);
        let event = event(AuditKind::TokenIssued, "issued");
        let store = store.clone();
        async move { store.insert_issued_token(&token, &event).await.unwrap() }
    };
    // About 4,500 WAL pages: two kicks of the checkpointer, half the issuer's own threshold.
    for wave in 0..18 {
        futures_util::future::join_all((wave * 512..(wave + 1) * 512).map(issue)).await;
    }
    // The last checkpoint may still be running; 10 s is far more than it takes.
    for _ in 0..100 {
        if size() > before + (1 << 20) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the database file is still {} bytes (was {before}): nothing was copied back",
        size()
    );
}
