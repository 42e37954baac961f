//! The one grammar for millisecond ranges: election timeouts
//! (`--election-timeout-ms 500..1000`), injected delays (`delay=0..30ms`)
//! and the simulated network's delay (`elect sim --delay-ms 0..20`).
//!
//! `LO..HI` or a single `N` (meaning `N..N`), each a whole number of
//! milliseconds, with an optional `ms` suffix; whitespace around the parts is
//! ignored and LO must not exceed HI. What the smallest allowed value is
//! depends on the caller (a timeout of 0 ms makes no sense, a delay of 0 ms
//! does), so the caller states it; the caller also names its flag when it
//! reports the error.

use std::ops::Range;
use std::time::Duration;

/// Why a millisecond range was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MillisError {
    /// Not `LO..HI` or `N` in whole milliseconds.
    #[error("'{0}' is not LO..HI or N in whole milliseconds")]
    Syntax(String),
    /// LO is above HI.
    #[error("{lo} is above {hi}")]
    Reversed {
        /// The lower bound as given.
        lo: u64,
        /// The upper bound as given.
        hi: u64,
    },
    /// LO is below the caller's minimum.
    #[error("{lo} is below the minimum of {min} ms")]
    BelowMinimum {
        /// The lower bound as given.
        lo: u64,
        /// The caller's minimum.
        min: u64,
    },
}

/// Parses a millisecond range whose lower bound is at least `min` ms.
pub fn parse_range(text: &str, min: u64) -> Result<Range<Duration>, MillisError> {
    let syntax = || MillisError::Syntax(text.to_string());
    let body = text.trim();
    let body = body.strip_suffix("ms").unwrap_or(body).trim_end();
    let (lo, hi) = body.split_once("..").unwrap_or((body, body));
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| syntax());
    let (lo, hi) = (number(lo)?, number(hi)?);
    if lo > hi {
        return Err(MillisError::Reversed { lo, hi });
    }
    if lo < min {
        return Err(MillisError::BelowMinimum { lo, min });
    }
    Ok(Duration::from_millis(lo)..Duration::from_millis(hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(lo: u64, hi: u64) -> Range<Duration> {
        Duration::from_millis(lo)..Duration::from_millis(hi)
    }

    /// Every form the three former parsers accepted keeps its meaning
    /// (`500..1000` and `700` for timeouts, `0..30ms` for injected delays,
    /// `0..20` for the simulated network), and the new forms are the union
    /// of theirs.
    #[test]
    fn accepts_every_earlier_form_with_its_meaning() {
        let table: &[(&str, u64, Range<Duration>)] = &[
            // --election-timeout-ms
            ("500..1000", 1, ms(500, 1000)),
            ("700", 1, ms(700, 700)),
            (" 500 .. 1000 ", 1, ms(500, 1000)),
            ("+500..+1000", 1, ms(500, 1000)),
            ("1..1", 1, ms(1, 1)),
            // delay=…ms of --faults and `elect fault … set`
            ("0..30ms", 0, ms(0, 30)),
            ("0 .. 30 ms", 0, ms(0, 30)),
            ("0..0ms", 0, ms(0, 0)),
            // elect sim --delay-ms
            ("0..20", 0, ms(0, 20)),
            ("5..5", 0, ms(5, 5)),
            // Now accepted by all three: the other forms.
            ("500..1000ms", 1, ms(500, 1000)),
            ("30ms", 0, ms(30, 30)),
            ("20", 0, ms(20, 20)),
        ];
        for (text, min, want) in table {
            assert_eq!(parse_range(text, *min).as_ref(), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn refuses_what_none_of_them_accepted() {
        let table: &[(&str, u64, MillisError)] = &[
            ("0..10", 1, MillisError::BelowMinimum { lo: 0, min: 1 }),
            ("0", 1, MillisError::BelowMinimum { lo: 0, min: 1 }),
            ("9..3", 0, MillisError::Reversed { lo: 9, hi: 3 }),
            ("9..3ms", 1, MillisError::Reversed { lo: 9, hi: 3 }),
            ("", 0, MillisError::Syntax("".into())),
            ("..", 0, MillisError::Syntax("..".into())),
            ("5..", 0, MillisError::Syntax("5..".into())),
            ("a..b", 0, MillisError::Syntax("a..b".into())),
            ("1..2..3", 0, MillisError::Syntax("1..2..3".into())),
            ("-1..5", 0, MillisError::Syntax("-1..5".into())),
            ("1.5", 0, MillisError::Syntax("1.5".into())),
            ("10s", 0, MillisError::Syntax("10s".into())),
            ("ms", 0, MillisError::Syntax("ms".into())),
            ("5msms", 0, MillisError::Syntax("5msms".into())),
        ];
        for (text, min, want) in table {
            assert_eq!(parse_range(text, *min).as_ref(), Err(want), "{text:?}");
        }
    }
}
