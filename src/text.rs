//! The one rule for text that arrives from outside: no control characters and no bidirectional
//! embedding, override or isolate characters. PostgreSQL refuses a NUL in text (so it would
//! surface as an internal error), and the others make a name or a log line read otherwise than
//! it is stored. Every parse type of a text field calls `check`; path segments and query strings
//! are checked by `edge::refuse_unsafe_text` before any handler.

/// Whether a text may span lines (a description) or not (a name, a path segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    /// Tab, CR and LF are allowed.
    Multi,
}

pub const REFUSED: &str = "Control characters and bidirectional-override characters are not allowed.";

/// `Err` with a sentence for people when `raw` holds a character this rule refuses.
pub fn check(raw: &str, lines: Lines) -> Result<(), String> {
    if raw.chars().any(|c| refused(c, lines)) {
        Err(REFUSED.to_owned())
    } else {
        Ok(())
    }
}

fn refused(c: char, lines: Lines) -> bool {
    let line_break_or_tab = matches!(c, '\t' | '\n' | '\r');
    // `is_control` is exactly C0, DEL and C1.
    (c.is_control() && !(lines == Lines::Multi && line_break_or_tab)) || is_bidi_control(c)
}

/// U+202A–U+202E (embeddings and overrides) and U+2066–U+2069 (isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Percent-decodes a path or query component as bytes (invalid escapes stay as they are),
/// read as UTF-8 with invalid sequences replaced: what a route would see, for `check`.
pub fn percent_decoded(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused() {
        for bad in [
            "a\0b",
            "a\u{1}",
            "a\u{1b}[31m",
            "a\u{7f}",
            "a\u{85}",
            "a\u{9f}",
            "a\u{202A}",
            "a\u{202E}",
            "a\u{2066}",
            "a\u{2069}",
        ] {
            assert!(check(bad, Lines::Single).is_err(), "{bad:?}");
            assert!(check(bad, Lines::Multi).is_err(), "{bad:?}");
        }
        for line in ["a\tb", "a\nb", "a\r\nb"] {
            assert!(check(line, Lines::Single).is_err(), "{line:?}");
            assert_eq!(check(line, Lines::Multi), Ok(()), "{line:?}");
        }
        for good in ["ci deploy", "Überweisung – 東京 🚀", "\u{200F}rtl mark", "\u{2065}"] {
            assert_eq!(check(good, Lines::Single), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn percent_decoding_reveals_what_a_route_sees() {
        assert_eq!(percent_decoded("x%00y"), "x\0y");
        assert_eq!(percent_decoded("%E2%80%AE"), "\u{202E}");
        assert_eq!(percent_decoded("100%"), "100%");
        assert_eq!(percent_decoded("%zz%4"), "%zz%4");
        assert_eq!(percent_decoded("%ff"), "\u{FFFD}");
    }
}
