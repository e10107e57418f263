//! Substring searches of API tokens' names at a million tokens.
//!
//! `LIKE '%term%'` cannot use a B-tree, so a search for a rare name read every token (0.3–0.9 s
//! at a million, BENCHMARKS.md). Each store keeps a trigram index of API tokens' names
//! (SQLite: an FTS5 trigram table, migration 0009; PostgreSQL: pg_trgm), and a search first
//! asks it for the tokens that could match, at most [`MOST_CANDIDATES`] of them.
//! When there are that few, the search reads only those; when there are more, the term is
//! common and the ordinary query, walking an index in the order asked for, meets its first
//! matches at once (the trigram index would gather every match before a limit could apply).
//!
//! The candidates are a superset of the matches, never a subset: the search keeps its own
//! `LIKE` conditions, so what matches is decided exactly as without the index. A term shorter
//! than three characters has no trigram, and descriptions are not indexed: such a term narrows
//! nothing, and if any term alone may match (`searchByAny`), neither do the others. Excluding
//! searches are not narrowed either.

use tessera_core::{TokenField, TokenKind, TokenSearch};

/// The most candidates a search reads by id; with more, the ordinary plan is faster.
pub(crate) const MOST_CANDIDATES: usize = 1000;

/// How many tokens PostgreSQL reads in a search's order before it asks the trigram index: a
/// term that one name in a hundred contains fills a page of ten well within them. (SQLite's
/// FTS5 table hands over its first candidates without gathering the rest, so it needs none.)
pub(crate) const WINDOW: usize = 2000;

/// The parts of a search that the trigram index of names can answer: per term, the pieces of
/// text (three characters or more) that every matching name contains.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Narrowing {
    pub terms: Vec<Vec<String>>,
    /// Any one term may match (OR) instead of every term (AND).
    pub any: bool,
}

/// What of `search` a trigram index could narrow, if anything.
pub(crate) fn narrowing(search: &TokenSearch) -> Option<Narrowing> {
    let mode = search.search_mode;
    if search.kind != Some(TokenKind::Api) || mode.exclude {
        return None;
    }
    let mut terms = Vec::new();
    for (field, term) in search
        .search
        .iter()
        .flat_map(|(field, terms)| terms.iter().map(move |term| (*field, term)))
    {
        let pieces: Vec<String> = if field != TokenField::Name {
            Vec::new()
        } else if mode.wildcards {
            term.split('*').map(str::to_owned).collect()
        } else {
            vec![term.clone()]
        }
        .into_iter()
        .filter(|piece| piece.chars().count() >= 3)
        .collect();
        match (pieces.is_empty(), mode.any_field) {
            // This term alone may match, and the index cannot find it.
            (true, true) => return None,
            // Every term must match: the others narrow enough.
            (true, false) => {}
            (false, _) => terms.push(pieces),
        }
    }
    (!terms.is_empty()).then_some(Narrowing {
        terms,
        any: mode.any_field,
    })
}

/// The words of `pieces`, each once, lowercase: runs of three or more letters and digits, as
/// pg_trgm splits text before it makes trigrams of it.
fn words_of<'a>(pieces: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for piece in pieces {
        for word in piece.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
            if word.chars().count() >= 3 && !words.iter().any(|w| w == word) {
                words.push(word.to_owned());
            }
        }
    }
    words
}

/// How many of the newest API tokens' names PostgreSQL samples to tell common words of a
/// search from rare ones, and how many of them may contain a word before it counts as common.
/// Each name sampled is a heap read (1,000 of them took 0.75-0.9 ms at a million tokens); a
/// word in a tenth of the names still shows about 25 times in 250, and a word misjudged
/// either way only costs time, never a match.
pub(crate) const SAMPLE: usize = 250;
pub(crate) const COMMON_IN_SAMPLE: usize = SAMPLE / 10;

impl Narrowing {
    /// The words of every piece, each once (see [`words_of`]).
    pub fn words(&self) -> Vec<String> {
        words_of(self.terms.iter().flatten())
    }

    /// The narrowing with each term asking only for its words that are not `common`. A GIN
    /// trigram index reads the whole posting list of every trigram it is asked for, for each
    /// candidate of the rarest: with names that all begin "svc-", a search for "svc-654321-"
    /// read 767 index pages in 6.2 ms, one for "654321" 17 pages in 0.24 ms (BENCHMARKS.md).
    /// A name that contains a term contains each of its words, so the narrowing still finds
    /// every match. A term with no common word, or with nothing but common (or too short)
    /// words, keeps its pieces.
    pub fn without_common(&self, common: &[String]) -> Narrowing {
        let terms = self
            .terms
            .iter()
            .map(|pieces| {
                let words = words_of(pieces);
                let rare: Vec<String> = words
                    .iter()
                    .filter(|word| !common.contains(word))
                    .cloned()
                    .collect();
                if rare.is_empty() || rare.len() == words.len() {
                    pieces.clone()
                } else {
                    rare
                }
            })
            .collect();
        Narrowing {
            terms,
            any: self.any,
        }
    }

    /// An FTS5 query for SQLite's `tokens_text` table: each piece a phrase, which the trigram
    /// tokenizer matches as a substring, ignoring case.
    pub fn fts5_query(&self) -> String {
        let joiner = if self.any { " OR " } else { " AND " };
        self.terms
            .iter()
            .map(|pieces| {
                let phrases: Vec<String> = pieces
                    .iter()
                    .map(|piece| format!("\"{}\"", piece.replace('"', "\"\"")))
                    .collect();
                format!("({})", phrases.join(" AND "))
            })
            .collect::<Vec<_>>()
            .join(joiner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::SearchMode;

    fn search(terms: &[(TokenField, &str)], mode: SearchMode) -> TokenSearch {
        TokenSearch {
            kind: Some(TokenKind::Api),
            search: terms
                .iter()
                .map(|(field, term)| (*field, vec![term.to_string()]))
                .collect(),
            search_mode: mode,
            ..TokenSearch::default()
        }
    }

    #[test]
    fn terms_of_three_characters_or_more_narrow_a_search() {
        let found = narrowing(&search(
            &[
                (TokenField::Name, "svc-654321-"),
                (TokenField::Description, "ab"),
            ],
            SearchMode::default(),
        ))
        .unwrap();
        assert_eq!(found.terms, [vec!["svc-654321-".to_owned()]]);
        assert_eq!(found.fts5_query(), r#"("svc-654321-")"#);
    }

    #[test]
    fn wildcards_leave_the_pieces_between_them() {
        let wild = SearchMode {
            wildcards: true,
            ..SearchMode::default()
        };
        let found = narrowing(&search(&[(TokenField::Name, "back*up*x*old\"s")], wild)).unwrap();
        assert_eq!(found.fts5_query(), r#"("back" AND "old""s")"#);
        assert_eq!(
            narrowing(&search(&[(TokenField::Name, "a*b*c")], wild)),
            None
        );
    }

    #[test]
    fn common_words_are_left_out_of_a_narrowing_when_rarer_ones_remain() {
        let found = narrowing(&search(
            &[
                (TokenField::Name, "SVC-654321-Export"),
                (TokenField::Name, "svc-ci"),
            ],
            SearchMode::default(),
        ))
        .unwrap();
        assert_eq!(
            found.words(),
            ["svc", "654321", "export"],
            "each once, \"ci\" too short"
        );
        let common = ["svc".to_owned(), "export".to_owned()];
        assert_eq!(
            found.without_common(&common).terms,
            [vec!["654321".to_owned()], vec!["svc-ci".to_owned()]],
            "a term with no rare word keeps its piece"
        );
        assert_eq!(
            found.without_common(&[]),
            found,
            "nothing common, nothing changed"
        );
    }

    #[test]
    fn any_term_matching_needs_every_term_indexed() {
        let any = SearchMode {
            any_field: true,
            ..SearchMode::default()
        };
        let both = narrowing(&search(
            &[(TokenField::Name, "grafana"), (TokenField::Name, "backup")],
            any,
        ))
        .unwrap();
        assert_eq!(both.fts5_query(), r#"("grafana") OR ("backup")"#);
        for other in [
            (TokenField::Name, "ba"),
            (TokenField::Description, "nightly"),
        ] {
            assert_eq!(
                narrowing(&search(&[(TokenField::Name, "grafana"), other], any)),
                None,
                "{other:?}"
            );
        }
    }

    #[test]
    fn excluding_searches_and_other_kinds_are_not_narrowed() {
        let exclude = SearchMode {
            exclude: true,
            ..SearchMode::default()
        };
        assert_eq!(
            narrowing(&search(&[(TokenField::Name, "backup")], exclude)),
            None
        );
        let mut sessions = search(&[(TokenField::Name, "backup")], SearchMode::default());
        sessions.kind = Some(TokenKind::Session);
        assert_eq!(narrowing(&sessions), None);
        assert_eq!(
            narrowing(&search(&[], SearchMode::default())),
            None,
            "no terms"
        );
    }
}
