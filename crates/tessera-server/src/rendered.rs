//! Answers to token checks, rendered once per checked token and reused.
//!
//! `whoami`, introspection and `/auth/verify` answer every check a service makes, and what they
//! say depends on the token and its user alone. Rendering the JSON was a sixth of such a request
//! and the `X-Auth-*` headers a fifth of `/auth/verify`'s work beyond a bare route (bench/profile,
//! callgrind), so each answer is kept with the token and user it was made from. The core's cache
//! hands out the same `Arc`s for as long as nothing about the token or user changed, and new ones
//! once it re-read them, so an answer is reused exactly while it is still true.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use tessera_core::{Token, User, Verified};

/// Answers kept at most, of each form; a cache of recent checks, far smaller than the core's.
const ANSWERS_KEPT: usize = 4096;

/// Which JSON answer a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    Whoami,
    Introspection,
}

/// An answer with the token and user it was made from. Answers clone by reference counts
/// (`Bytes`, and the `Bytes` inside each `HeaderValue`).
#[derive(Clone)]
struct Rendered<A> {
    token: Arc<Token>,
    user: Option<Arc<User>>,
    answer: A,
}

impl<A> Rendered<A> {
    /// Whether this was rendered from exactly these (the same allocations, not equal copies:
    /// a token re-read from the database is a new one, possibly changed).
    fn is_from(&self, verified: &Verified) -> bool {
        Arc::ptr_eq(&self.token, &verified.token)
            && match (&self.user, &verified.user) {
                (Some(kept), Some(now)) => Arc::ptr_eq(kept, now),
                (None, None) => true,
                _ => false,
            }
    }
}

type Kept<K, A> = quick_cache::sync::Cache<K, Rendered<A>>;

pub struct RenderedAnswers {
    bodies: Kept<(i64, Answer), Bytes>,
    /// `/auth/verify`'s `X-Auth-*` headers, by token id.
    headers: Kept<i64, HeaderMap>,
}

impl Default for RenderedAnswers {
    fn default() -> Self {
        Self {
            bodies: Kept::new(ANSWERS_KEPT),
            headers: Kept::new(ANSWERS_KEPT),
        }
    }
}

impl RenderedAnswers {
    /// The JSON of `answer` for a checked token: the one made before from the same token and
    /// user, or `render`'s, serialized now and kept.
    pub fn json<T: Serialize>(
        &self,
        answer: Answer,
        verified: &Verified,
        render: impl FnOnce() -> T,
    ) -> Result<Bytes, serde_json::Error> {
        kept_or(&self.bodies, (verified.token.id, answer), verified, || {
            // Sized for a whole answer at once (about 300 bytes), not grown as it is written.
            let mut body = Vec::with_capacity(512);
            serde_json::to_writer(&mut body, &render())?;
            Ok(Bytes::from(body))
        })
    }

    /// The `X-Auth-*` headers for a checked token, kept like [`Self::json`]'s bodies.
    pub fn headers(&self, verified: &Verified, render: impl FnOnce() -> HeaderMap) -> HeaderMap {
        let rendered = kept_or(&self.headers, verified.token.id, verified, || {
            Ok::<_, std::convert::Infallible>(render())
        });
        match rendered {
            Ok(headers) => headers,
            Err(never) => match never {},
        }
    }
}

/// The answer kept under `key` if it was made from `verified`'s token and user, else `render`'s,
/// kept from now on.
fn kept_or<K, A, E>(
    kept: &Kept<K, A>,
    key: K,
    verified: &Verified,
    render: impl FnOnce() -> Result<A, E>,
) -> Result<A, E>
where
    K: Eq + std::hash::Hash + Clone,
    A: Clone,
{
    if let Some(found) = kept.get(&key).filter(|found| found.is_from(verified)) {
        return Ok(found.answer);
    }
    let answer = render()?;
    kept.insert(
        key,
        Rendered {
            token: verified.token.clone(),
            user: verified.user.clone(),
            answer: answer.clone(),
        },
    );
    Ok(answer)
}

/// A rendered answer as an `application/json` response (a failed rendering, which these plain
/// structs cannot cause, as a bare 500 without details).
pub fn json_response(rendered: Result<Bytes, serde_json::Error>) -> Response {
    match rendered {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "an answer could not be rendered");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use tessera_core::{Binding, Door, Scope, SecretHash, TokenKind, TokenStatus};

    fn checked(name: &str) -> Verified {
        Verified {
            token: Arc::new(Token {
                id: 7,
                hash: SecretHash::of("secret"),
                kind: TokenKind::Api,
                door: Door::Zabbix,
                user_id: None,
                client_id: None,
                name: name.into(),
                description: String::new(),
                scope: Scope::default(),
                status: TokenStatus::Active,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                expires_at: None,
                last_access: None,
                creator_id: None,
                binding: Binding::None,
                family: None,
                idle_timeout: None,
            }),
            user: None,
        }
    }

    #[test]
    fn an_answer_is_rendered_once_while_the_token_is_the_same() {
        let answers = RenderedAnswers::default();
        let renders = Cell::new(0);
        let answer = |verified: &Verified| {
            answers
                .json(Answer::Whoami, verified, || {
                    renders.set(renders.get() + 1);
                    verified.token.name.clone()
                })
                .unwrap()
        };
        let first = checked("before");
        assert_eq!(answer(&first), "\"before\"");
        assert_eq!(answer(&first), "\"before\"");
        assert_eq!(renders.get(), 1, "the same token: rendered once");

        // The core re-read the token (renamed): a new Arc, so a new answer.
        let reread = checked("after");
        assert_eq!(answer(&reread), "\"after\"");
        assert_eq!(renders.get(), 2);
        // An equal copy is not the same token either: it is rendered anew, never trusted.
        assert_eq!(answer(&checked("after")), "\"after\"");
        assert_eq!(renders.get(), 3);
    }

    #[test]
    fn headers_are_kept_like_bodies() {
        let answers = RenderedAnswers::default();
        let renders = Cell::new(0);
        let answer = |verified: &Verified| {
            answers.headers(verified, || {
                renders.set(renders.get() + 1);
                let mut headers = HeaderMap::new();
                headers.insert("x-name", verified.token.name.parse().unwrap());
                headers
            })
        };
        let first = checked("before");
        assert_eq!(answer(&first)["x-name"], "before");
        assert_eq!(answer(&first)["x-name"], "before");
        assert_eq!(renders.get(), 1);
        assert_eq!(answer(&checked("after"))["x-name"], "after");
        assert_eq!(renders.get(), 2);
    }

    #[test]
    fn each_kind_of_answer_is_kept_apart() {
        let answers = RenderedAnswers::default();
        let token = checked("t");
        let whoami = answers.json(Answer::Whoami, &token, || "w").unwrap();
        let introspection = answers.json(Answer::Introspection, &token, || "i").unwrap();
        assert_eq!(
            (&whoami[..], &introspection[..]),
            (&b"\"w\""[..], &b"\"i\""[..])
        );
    }
}
