//! Content lines (RFC 5545 §3.1): unfolded here, one at a time, keeping the
//! physical line number each starts on, then read with the `icalendar`
//! crate's property parser.

use super::problems::LineError;
use icalendar::parser::Property;
use std::borrow::Cow;
use std::iter::{Enumerate, Peekable};
use std::str::Split;

/// How much of a bad line a problem quotes.
const QUOTED: usize = 120;

/// One unfolded content line and where it started.
pub(super) struct ContentLine<'a> {
    pub(super) number: usize,
    pub(super) text: Cow<'a, str>,
}

impl ContentLine<'_> {
    /// The property name when the line is `BEGIN:` or `END:` (upper-cased),
    /// without reading the rest.
    pub(super) fn delimiter(&self) -> Option<&'static str> {
        let (name, _) = self.text.split_once(':')?;
        ["BEGIN", "END"]
            .into_iter()
            .find(|delimiter| name.eq_ignore_ascii_case(delimiter))
    }
}

/// The content lines of a text, unfolded as they are asked for: a physical
/// line starting with a space or tab continues the one before, and blank
/// lines are skipped.
pub(super) struct Unfold<'a> {
    physical: Peekable<Enumerate<Split<'a, char>>>,
}

impl<'a> Unfold<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Unfold {
            physical: text.split('\n').enumerate().peekable(),
        }
    }
}

fn without_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

impl<'a> Iterator for Unfold<'a> {
    type Item = ContentLine<'a>;

    fn next(&mut self) -> Option<ContentLine<'a>> {
        let (index, first) = loop {
            let (index, raw) = self.physical.next()?;
            let raw = without_cr(raw);
            if !raw.trim().is_empty() {
                break (index, raw);
            }
        };
        let mut text = Cow::Borrowed(first);
        while let Some((_, next)) = self.physical.peek() {
            let next = without_cr(next);
            match next.strip_prefix([' ', '\t']) {
                Some(rest) => text.to_mut().push_str(rest),
                None if next.trim().is_empty() => {}
                None => break,
            }
            self.physical.next();
        }
        Some(ContentLine {
            number: index + 1,
            text,
        })
    }
}

/// A parsed property with what the event builder needs of it.
pub(super) struct Prop<'a> {
    pub(super) line: usize,
    pub(super) name: String,
    pub(super) value: String,
    pub(super) params: Vec<(String, String)>,
    pub(super) raw: Cow<'a, str>,
}

impl Prop<'_> {
    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// At most [`QUOTED`] characters of `text`, to quote in a problem.
pub(super) fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.to_owned(),
    }
}

pub(super) fn parse_prop(line: ContentLine<'_>) -> Result<Prop<'_>, LineError> {
    if !line.text.contains(':') {
        return Err(LineError::NotAContentLine(quoted(&line.text)));
    }
    // The crate's property parser refuses BEGIN and END (it reads them as
    // component delimiters), so those two are split here.
    if let Some(name) = line.delimiter() {
        let value = line
            .text
            .split_once(':')
            .map_or("", |(_, value)| value)
            .to_owned();
        return Ok(Prop {
            line: line.number,
            name: name.to_owned(),
            value,
            params: Vec::new(),
            raw: line.text,
        });
    }
    let property =
        Property::try_from(line.text.as_ref()).map_err(|error| LineError::Unreadable {
            line: quoted(&line.text),
            reason: error
                .lines()
                .next()
                .unwrap_or("bad content line")
                .to_owned(),
        })?;
    let name = property.name.as_str().to_ascii_uppercase();
    let value = property.val.as_str().to_owned();
    let params = property
        .params
        .iter()
        .map(|p| {
            let value = p.val.as_ref().map_or("", |v| v.as_str());
            (
                p.key.as_str().to_ascii_uppercase(),
                value.trim_matches('"').to_owned(),
            )
        })
        .collect();
    Ok(Prop {
        line: line.number,
        name,
        value,
        params,
        raw: line.text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfolded(text: &str) -> Vec<(usize, String)> {
        Unfold::new(text)
            .map(|line| (line.number, line.text.into_owned()))
            .collect()
    }

    #[test]
    fn folded_lines_join_and_keep_the_first_line_number() {
        assert_eq!(
            unfolded("A:1\r\nB:long\r\n  value\r\n\tmore\r\n\r\nC:3"),
            vec![
                (1, "A:1".to_owned()),
                (2, "B:long valuemore".to_owned()),
                (6, "C:3".to_owned())
            ]
        );
    }

    #[test]
    fn a_blank_line_does_not_end_a_folded_line() {
        assert_eq!(unfolded("A:x\n\n y\n"), vec![(1, "A:xy".to_owned())]);
    }

    #[test]
    fn long_bad_lines_are_quoted_shortened() {
        let long = "x".repeat(500);
        let quote = quoted(&long);
        assert_eq!(quote.chars().count(), QUOTED + 1);
        assert!(quote.ends_with('…'));
        assert_eq!(quoted("short"), "short");
    }
}
