//! What is read from a document's text, before or beside the parser: how
//! deep its brackets nest ([`nests_deeper_than`]), and an input object that
//! names a field twice ([`repeated_input_field`]). Both read GraphQL's tokens
//! lightly ([`Tokens`]): strings, block strings and comments are passed over,
//! and so is anything else that is neither a punctuator nor a name.

use std::collections::HashSet;

use async_graphql::Pos;

/// How deep brackets (`{`, `[`, `(`) may nest in a document's text. The
/// parser takes 32 levels of selections; a value nested a thousand and more
/// levels deep (`[[[[…"a"…]]]]`, 3 KB) overflowed the stack of the parser
/// and of the walks over values after it, and the whole process aborted.
pub const MAX_NESTING: usize = 128;

/// Whether brackets nest deeper than `max` anywhere in `text`. Stops at the
/// first bracket too deep, and never recurses.
pub fn nests_deeper_than(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    for token in Tokens::new(text) {
        match token {
            Token::Punctuator(b'{' | b'[' | b'(') => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            Token::Punctuator(b'}' | b']' | b')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The first field named twice in one input object value of `text`, a
/// document that parses, and where: `{ a: 1, a: 2 }` parses as `{ a: 2 }`,
/// and async-graphql took it so (GraphQL §5.6.3 refuses it).
///
/// A `{` after `:` or `=`, or inside a list, opens an input object
/// (elsewhere a selection set), and a name followed by `:` in an input
/// object is one of its fields.
pub fn repeated_input_field(text: &str) -> Option<(String, Pos)> {
    enum Frame<'t> {
        Object(HashSet<&'t str>),
        List,
        Other,
    }
    let mut frames = Vec::new();
    let mut previous = Token::Other;
    for token in Tokens::new(text) {
        match token {
            Token::Punctuator(b'{') => {
                let object = matches!(previous, Token::Punctuator(b':' | b'='))
                    || matches!(frames.last(), Some(Frame::List));
                frames.push(if object {
                    Frame::Object(HashSet::new())
                } else {
                    Frame::Other
                });
            }
            Token::Punctuator(b'[') => frames.push(Frame::List),
            Token::Punctuator(b'(') => frames.push(Frame::Other),
            Token::Punctuator(b'}' | b']' | b')') => {
                frames.pop();
            }
            Token::Punctuator(b':') => {
                if let (Some(Frame::Object(names)), Token::Name(start, end)) =
                    (frames.last_mut(), previous)
                {
                    let name = &text[start..end];
                    if !names.insert(name) {
                        return Some((name.to_owned(), position(text, start)));
                    }
                }
            }
            _ => {}
        }
        previous = token;
    }
    None
}

/// A token of a document's text, as far as these checks need it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Punctuator(u8),
    /// A name (or a number, or `...`), by its byte range in the text.
    Name(usize, usize),
    /// A string or a block string.
    Other,
}

/// The tokens of `text`, on bytes: whatever is not ASCII stands in strings
/// and comments, where it is passed over, or is no token at all.
struct Tokens<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl<'t> Tokens<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn rest(&self) -> &'t [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let is_word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.');
        loop {
            let b = *self.bytes.get(self.at)?;
            match b {
                b'#' => {
                    let line = self
                        .rest()
                        .iter()
                        .take_while(|b| !matches!(b, b'\n' | b'\r'));
                    self.at += line.count();
                }
                b'"' if self.rest().starts_with(br#"""""#) => {
                    self.at += 3;
                    while self.at < self.bytes.len() && !self.rest().starts_with(br#"""""#) {
                        self.at += if self.rest().starts_with(br#"\""""#) {
                            4
                        } else {
                            1
                        };
                    }
                    self.at += 3;
                    return Some(Token::Other);
                }
                b'"' => {
                    self.at += 1;
                    while let Some(&b) = self.bytes.get(self.at).filter(|&&b| b != b'"') {
                        self.at += if b == b'\\' { 2 } else { 1 };
                    }
                    self.at += 1;
                    return Some(Token::Other);
                }
                _ if is_word(&b) => {
                    let start = self.at;
                    self.at += self.rest().iter().take_while(|b| is_word(b)).count();
                    return Some(Token::Name(start, self.at));
                }
                _ if b.is_ascii_whitespace() || b == b',' || !b.is_ascii() => self.at += 1,
                _ => {
                    self.at += 1;
                    return Some(Token::Punctuator(b));
                }
            }
        }
    }
}

/// The line and column (from 1, in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> Pos {
    let before = &text[..offset];
    let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let line = 1 + before.matches('\n').count() + before.matches('\r').count()
        - before.matches("\r\n").count();
    Pos {
        line,
        column: 1 + before[line_start..].chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_field_named_twice_is_found_where_it_is() {
        let found =
            |text: &str| repeated_input_field(text).map(|(name, pos)| (name, pos.line, pos.column));
        assert_eq!(
            found("{ r(f: { a: 1, a: 2 }) { x } }"),
            Some(("a".to_owned(), 1, 16))
        );
        assert_eq!(
            found("query($f: F = {b: {c: 1}, d: [{e: 1}, {e: 2, e: 3}]}) { x }"),
            Some(("e".to_owned(), 1, 46))
        );
        assert_eq!(
            found(
                "# a: {\n{ r(f: {\r\n  s: \"é}a:\", t: \"\"\"é\\\"\"\" a: {\"\"\", s: 1}) { x } }"
            ),
            Some(("s".to_owned(), 3, 35))
        );
        for unique in [
            "{ a: r(f: { a: 1, b: { a: 2 } }) { a: x a: x } }",
            "{ r(f: [{ a: 1 }, { a: 2 }]) { x } ...F } fragment F on Q { y(a: 1, b: 2) }",
            "query($a: [Int!] = [1], $b: I = {a: 1}) { r(a: $a, b: {a: ENUM, b: $b}) { x } }",
        ] {
            assert_eq!(found(unique), None, "{unique}");
        }
        // Text that does not parse is never given, but must not panic.
        for broken in [
            "\"é",
            "\"\"\"é\\",
            "{ a(b: {c: \"\\",
            "é:{é:",
            "}}]) :{a:",
            "#é",
        ] {
            assert_eq!(found(broken), None, "{broken}");
        }
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        let deep = |n: usize| {
            format!(
                "{{ r(ids: {}\"a\"{}) {{ x }} }}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // The set, the arguments, then the lists.
        assert!(!nests_deeper_than(&deep(126), MAX_NESTING));
        assert!(nests_deeper_than(&deep(127), MAX_NESTING));
        let quiet = format!("{{ r(s: \"{0}\") # {0}\n {{ x }} }}", "[{(".repeat(200));
        assert!(!nests_deeper_than(&quiet, 2));
        assert!(nests_deeper_than(&quiet, 1));
    }
}
