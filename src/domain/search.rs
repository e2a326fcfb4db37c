//! Substring search that ignores case, accents and width, and behaves the
//! same on every database.
//!
//! Both sides are folded in Rust: the stored `name_folded` column when a
//! customer is written, and the user's text here. The database then only
//! compares with `LIKE`, whose case rules differ between SQLite and
//! PostgreSQL but never matter for text that is folded already.

/// Folds text for storage and search: `Café Münster` and `CAFE MUNSTER` are
/// both `cafe munster` (see [`migration::search_fold`], kept beside the
/// migration that folded the stored names by it).
pub fn fold(text: &str) -> String {
    migration::search_fold(text)
}

/// The escape character used in [`like_pattern`].
pub const LIKE_ESCAPE: char = '\\';

/// A `LIKE` pattern matching any text that contains `needle` (after folding),
/// with `%`, `_` and the escape character taken literally.
pub fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in fold(needle).chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_folded_and_wildcards_escaped() {
        assert_eq!(like_pattern("ACME"), "%acme%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ÉCOLE"), "%ecole%");
    }
}
