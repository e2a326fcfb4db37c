//! How text is folded for search: the form of `customer.name_folded`, and of
//! what a user searches for.
//!
//! It lives here, with the migration that folded the stored names last
//! ([`m20261207_000001_search_fold`](crate)), so that the two cannot differ.
//! A change to it needs a migration that folds the stored names again.

use icu_casemap::CaseMapper;
use unicode_normalization::{UnicodeNormalization, char::canonical_combining_class};

/// Folds `text` so that a search finds it whatever its case, accents and
/// width: `Café Münster` and `CAFE MUNSTER` both fold to `cafe munster`.
///
/// 1. Compatibility decomposition (NFKD): `ＡＢＣ` is `ABC`, `ﬁ` is `fi`, and
///    `é` is `e` followed by a combining accent.
/// 2. Full Unicode case folding: `ß` is `ss`, a final `ς` is `σ`.
/// 3. Marks that combine with the letter before them (accents, Hebrew and
///    Arabic vowel points: canonical combining class other than 0) are left
///    out, and the few Latin letters whose mark is part of their shape are
///    spelled without it (`ø` is `o`, `ł` is `l`, `æ` is `ae`).
/// 4. Canonical composition (NFC) of what is left (Hangul syllables).
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let decomposed: String = text.nfkd().collect();
    let folded = CaseMapper::new().fold_string(&decomposed);
    let mut bare = String::with_capacity(folded.len());
    for c in folded.nfkd() {
        if canonical_combining_class(c) != 0 {
            continue;
        }
        match without_mark(c) {
            Some(spelled) => bare.push_str(spelled),
            None => bare.push(c),
        }
    }
    bare.nfc().collect()
}

/// Latin letters (as case folding leaves them) whose stroke or ligature no
/// decomposition takes apart, spelled as a search for them is typed.
fn without_mark(c: char) -> Option<&'static str> {
    Some(match c {
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'ħ' => "h",
        'ŧ' => "t",
        'ı' => "i",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_accents_and_width_fold_away() {
        let alike = [
            ("Café Münster GmbH", "cafe munster gmbh"),
            // The same accents, decomposed.
            ("Cafe\u{301} Mu\u{308}nster", "cafe munster"),
            ("ΟΔΥΣΣΕΥΣ", "οδυσσευσ"),
            ("οδυσσευς", "οδυσσευσ"),
            ("Straße", "strasse"),
            ("STRASSE", "strasse"),
            ("ＡＢＣ　Ｄｅｓｉｇｎ", "abc design"),
            ("ﬁrst", "first"),
            ("Østergaard", "ostergaard"),
            ("Łódź", "lodz"),
            ("Encyclopædia", "encyclopaedia"),
            ("Þórr Ðorđe", "thorr dorde"),
            ("İstanbul", "istanbul"),
            ("São Paulo", "sao paulo"),
            ("ZÜRICH", "zurich"),
        ];
        for (text, expected) in alike {
            assert_eq!(fold(text), expected, "{text}");
        }
    }

    #[test]
    fn what_has_no_case_stays_as_it_is() {
        assert_eq!(fold("さくら Design"), "さくら design");
        assert_eq!(fold("한국 상사"), "한국 상사");
        assert_eq!(fold("北京"), "北京");
        assert_eq!(fold("50% off_\\"), "50% off_\\");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn folding_twice_changes_nothing() {
        for text in ["Café", "ΣΟΦΟΣ", "ǰ", "ΐ", "ﬃ", "Ⅻ", "㎒", "Ǆ"] {
            let once = fold(text);
            assert_eq!(fold(&once), once, "{text}");
        }
    }
}
