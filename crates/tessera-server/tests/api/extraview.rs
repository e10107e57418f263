//! The ExtraView door, driven by the seed's own requests (seeds 000 and 001) sent with curl.

use crate::helpers::{cheap_settings, spawn_app, spawn_app_configured, TestApp, ADMIN_PASSWORD};
use tessera_core::{
    BehaviorSetting, Door, Lifetime, Origin, Password, Permission, Role, TokenQuery, Username,
};
use tessera_server::{ExtraViewConfig, ExtraViewXml, ServerConfig};
use time::macros::{datetime, offset};

const PATH: &str = "/evj/ExtraView/ev_api.action";

/// The seed's clock: a token issued now expires at 2020-07-02 18:39:48.818 -0700.
const SEED_NOW: time::OffsetDateTime = datetime!(2020-07-03 00:39:48.818 UTC);

async fn seed_app(xml: ExtraViewXml) -> TestApp {
    let server = ServerConfig {
        extraview: ExtraViewConfig {
            xml,
            time_zone: offset!(-7),
        },
        ..ServerConfig::default()
    };
    let app = spawn_app_configured(cheap_settings(), server).await;
    app.clock.set(SEED_NOW);
    app.create_user("my_user_id", "my_password", Role::User)
        .await;
    app.create_user("bsmith", "bill", Role::User).await;
    app
}

/// Runs curl as a client would, with the seed's URL on our address.
async fn curl(args: Vec<String>) -> (String, String) {
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "10",
                "--write-out",
                "\n%{http_code}",
            ])
            .args(&args)
            .output()
            .expect("curl runs");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        let (body, status) = text.rsplit_once('\n').expect("a status line");
        (body.to_owned(), status.to_owned())
    })
    .await
    .unwrap()
}

fn token_line(body: &str) -> String {
    let token = body
        .lines()
        .next()
        .unwrap()
        .strip_prefix("Token:")
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 43, "{token}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    token
}

#[tokio::test]
async fn seed_example_1_answers_five_plain_text_lines() {
    let app = seed_app(ExtraViewXml::WellFormed).await;
    let url = app.url(&format!(
        "{PATH}?user_id=my_user_id&password=my_password&statevar=get_token"
    ));
    let (body, status) = curl(vec![url.clone()]).await;
    assert_eq!(status, "200");
    let token = token_line(&body);
    assert_eq!(
        body,
        format!(
            "Token:{token}\nType:Bearer\nLifetime:3600\nExpiration Date:2020-07-02 18:39:48.818 -0700\nScope:read write\n"
        )
    );
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=UTF-8"
    );
}

#[tokio::test]
async fn seed_example_2_answers_well_formed_xml_by_default() {
    let app = seed_app(ExtraViewXml::WellFormed).await;
    let url = app.url(&format!(
        "{PATH}?user_id=bsmith&password=bill&statevar=get_token&ev_send_xml=true"
    ));
    let (body, status) = curl(vec![url]).await;
    assert_eq!(status, "200");
    let token = body
        .split("<value> ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(
        body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<access_token>\n<value> {token} </value>\n<type> Bearer </type>\n<lifetime> 3600 </lifetime>\n<expiration_date> 2020-07-02 18:39:48.818 -0700 </expiration_date>\n<scope> read write </scope>\n</access_token>\n"
        )
    );
}

#[tokio::test]
async fn the_legacy_setting_reproduces_the_documented_xml_byte_for_byte() {
    let app = seed_app(ExtraViewXml::Legacy).await;
    let url = app.url(&format!(
        "{PATH}?user_id=bsmith&password=bill&statevar=get_token&ev_send_xml=TRUE"
    ));
    let (body, _) = curl(vec![url]).await;
    let token = body
        .split("<value> ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let documented = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<access_token>\n<value> ayBNRrDElFvyv7yrTlT2rAiOkCtth1Ez9M7cQyh1hHc </value>\n<type> Bearer </type>\n<lifetime> 3600 </lifetime>\n<Expiration Date> 2020-07-02 18:39:48.818 -0700 </lifetime>\n<scope> read write </scope>\n</access_token>\n";
    assert_eq!(
        body,
        documented.replace("ayBNRrDElFvyv7yrTlT2rAiOkCtth1Ez9M7cQyh1hHc", token)
    );
}

#[tokio::test]
async fn the_token_is_accepted_as_access_token_on_later_calls() {
    let app = seed_app(ExtraViewXml::WellFormed).await;
    let url = app.url(&format!(
        "{PATH}?user_id=my_user_id&password=my_password&statevar=get_token"
    ));
    let (body, _) = curl(vec![url]).await;
    let token = token_line(&body);
    // The seed's later call (its stray space after `?` removed: curl refuses it).
    let later = app.url(&format!(
        "{PATH}?access_token={token}&statevar=fields&include_fields=y"
    ));
    let (body, status) = curl(vec![later]).await;
    assert_eq!((body.as_str(), status.as_str()), ("Valid sign on", "200"));
    // Through a proxy in front of ExtraView: /auth/verify reads it from the original URI.
    let verify = app
        .http
        .get(app.url("/auth/verify"))
        .header(
            "x-original-uri",
            format!("{PATH}?access_token={token}&statevar=fields"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert_eq!(verify.headers()["x-auth-user"], "my_user_id");
}

#[tokio::test]
async fn an_expired_revoked_or_unknown_token_is_an_invalid_sign_on() {
    let app = seed_app(ExtraViewXml::WellFormed).await;
    let get = |user: &str, password: &str| {
        app.url(&format!(
            "{PATH}?user_id={user}&password={password}&statevar=get_token"
        ))
    };
    let (first, _) = curl(vec![get("my_user_id", "my_password")]).await;
    let expiring = token_line(&first);
    let (second, _) = curl(vec![get("bsmith", "bill")]).await;
    let revoked = token_line(&second);
    let tokens = app
        .authority
        .tokens(&TokenQuery {
            door: Some(Door::ExtraView),
            limit: 10,
            ..TokenQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        tokens.len(),
        2,
        "both tokens are the core's, door extraview"
    );
    app.authority
        .revoke_id(tokens[1].id, &Origin::new(Door::Cli))
        .await
        .unwrap();
    app.clock.advance(time::Duration::seconds(3601));
    for token in [
        expiring.as_str(),
        revoked.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (body, status) =
            curl(vec![app.url(&format!(
                "{PATH}?access_token={token}&statevar=fields"
            ))])
            .await;
        assert_eq!((body.as_str(), status.as_str()), ("Invalid sign on", "401"));
        let (body, status) = curl(vec![app.url(&format!(
            "{PATH}?access_token={token}&statevar=fields&ev_send_xml=true"
        ))])
        .await;
        assert_eq!(
            (body.as_str(), status.as_str()),
            ("<error>Invalid sign on</error>", "401")
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_an_invalid_sign_on_too() {
    let app = seed_app(ExtraViewXml::WellFormed).await;
    let wrong = app.url(&format!(
        "{PATH}?user_id=my_user_id&password=nope&statevar=get_token"
    ));
    let unknown = app.url(&format!(
        "{PATH}?user_id=nobody&password=nope&statevar=get_token"
    ));
    assert_eq!(
        curl(vec![wrong]).await,
        ("Invalid sign on".to_owned(), "401".to_owned())
    );
    assert_eq!(
        curl(vec![unknown]).await,
        ("Invalid sign on".to_owned(), "401".to_owned())
    );
}

#[tokio::test]
async fn the_lifetime_is_the_setting_and_an_admin_changes_it_without_restart() {
    let settings = tessera_core::Settings {
        extraview_token_lifetime: Lifetime::from_secs(600).unwrap(),
        ..cheap_settings()
    };
    let app = spawn_app_configured(settings, ServerConfig::default()).await;
    let url = app.url(&format!(
        "{PATH}?user_id=Admin&password={ADMIN_PASSWORD}&statevar=get_token"
    ));
    let (body, _) = curl(vec![url.clone()]).await;
    assert!(body.contains("\nLifetime:600\n"), "{body}");
    app.authority
        .set_behavior(
            BehaviorSetting::ExtraViewTokenLifetime,
            Some("7200"),
            &Origin::new(Door::Cli),
        )
        .await
        .unwrap();
    let (body, _) = curl(vec![url.clone()]).await;
    assert!(body.contains("\nLifetime:7200\n"), "{body}");
    assert!(app
        .authority
        .set_behavior(
            BehaviorSetting::ExtraViewTokenLifetime,
            Some("0"),
            &Origin::new(Door::Cli)
        )
        .await
        .is_err());
    app.authority
        .set_behavior(
            BehaviorSetting::ExtraViewTokenLifetime,
            None,
            &Origin::new(Door::Cli),
        )
        .await
        .unwrap();
    let (body, _) = curl(vec![url]).await;
    assert!(body.contains("\nLifetime:600\n"), "{body}");
}

/// The secret in an `otpauth://` URI.
fn secret_of(uri: &str) -> String {
    uri.split(['?', '&'])
        .find_map(|part| part.strip_prefix("secret="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_two_factor_user_needs_exclude_2fa_and_the_bypass_for_a_token() {
    let app = spawn_app().await;
    let origin = Origin::new(Door::Cli);
    let plain = app.create_user("plain", "plain-password", Role::User).await;
    let allowed = app
        .authority
        .create_user(
            Username::parse("allowed").unwrap(),
            "Allowed".into(),
            Role::User,
            vec![Permission::Exclude2fa],
            &Password::new("allowed-password").unwrap(),
            &origin,
        )
        .await
        .unwrap();
    for user in [&plain, &allowed] {
        app.authority.enable_totp(user.id, &origin).await.unwrap();
    }
    let get = |user: &str| {
        app.url(&format!(
            "{PATH}?user_id={user}&password={user}-password&statevar=get_token"
        ))
    };
    // 2FA on, no bypass: no token, whatever the permission.
    assert_eq!(curl(vec![get("plain")]).await.1, "401");
    assert_eq!(curl(vec![get("allowed")]).await.1, "401");
    // The bypass without the permission does nothing; with it, the password alone is enough.
    app.authority
        .set_api_2fa_bypass(plain.id, true, &origin)
        .await
        .unwrap();
    app.authority
        .set_api_2fa_bypass(allowed.id, true, &origin)
        .await
        .unwrap();
    assert_eq!(curl(vec![get("plain")]).await.1, "401");
    assert_eq!(curl(vec![get("allowed")]).await.1, "200");
}

#[tokio::test]
async fn the_oauth_password_grant_takes_a_totp_code_once() {
    let app = spawn_app().await;
    let origin = Origin::new(Door::Cli);
    let user = app.create_user("tina", "tina-password", Role::User).await;
    let uri = app.authority.enable_totp(user.id, &origin).await.unwrap();
    assert!(uri.starts_with("otpauth://totp/tessera:tina?"));
    let code = tessera_core::totp::code_at(&secret_of(&uri), app.authority.now()).unwrap();
    let grant = |code: Option<&str>| {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", "tina"),
            ("password", "tina-password"),
        ];
        if let Some(code) = code {
            form.push(("totp", code));
        }
        app.http.post(app.url("/oauth/token")).form(&form).send()
    };
    let missing = grant(None).await.unwrap();
    assert_eq!(missing.status(), 400);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("totp"));
    assert_eq!(grant(Some("000000")).await.unwrap().status(), 400);
    assert_eq!(grant(Some(&code)).await.unwrap().status(), 200);
    assert_eq!(
        grant(Some(&code)).await.unwrap().status(),
        400,
        "never twice"
    );
    app.clock.advance(time::Duration::seconds(30));
    let next = tessera_core::totp::code_at(&secret_of(&uri), app.authority.now()).unwrap();
    assert_eq!(grant(Some(&next)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_in_the_door_format() {
    let app = spawn_app().await;
    let cases = [
        (
            format!("{PATH}?statevar=get_token&user_id=Admin"),
            "400",
            "Missing parameter password",
        ),
        (
            format!("{PATH}?statevar=get_token&password=x"),
            "400",
            "Missing parameter user_id",
        ),
        (
            format!("{PATH}?statevar=get_token&user_id=a&user_id=b&password=x"),
            "400",
            "the parameter \"user_id\" is repeated",
        ),
        (
            format!("{PATH}?statevar=get_token&user_id=%FF&password=x"),
            "400",
            "the request is not valid UTF-8",
        ),
        (
            format!("{PATH}?statevar=fields"),
            "400",
            "Missing parameter statevar=get_token, or access_token",
        ),
        (
            format!("{PATH}?statevar=get_token&user_id=Admin&password=x&ev_send_xml=true"),
            "401",
            "<error>Invalid sign on</error>",
        ),
    ];
    for (path, status, body) in cases {
        assert_eq!(
            curl(vec![app.url(&path)]).await,
            (body.to_owned(), status.to_owned()),
            "{path}"
        );
    }
    // POST with a form body works like the query string.
    let posted = app
        .http
        .post(app.url(PATH))
        .form(&[
            ("statevar", "get_token"),
            ("user_id", "Admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    assert!(posted.text().await.unwrap().starts_with("Token:"));
}
