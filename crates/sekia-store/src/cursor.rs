//! Opaque pagination cursors.
//!
//! A cursor is the `seq` of the last row of a page, so the next page is
//! "rows with a smaller seq" — stable under concurrent inserts, which only
//! add larger seqs. The text form is versioned and checked so a cursor from
//! another list (events vs commands) or a hand-edited one is refused instead
//! of silently paging from somewhere else.

use crate::error::{Result, StoreError};

/// Which list a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorKind {
    Events,
    Commands,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Events => "e1",
            Self::Commands => "c1",
        }
    }
}

/// `<tag>.<seq in hex>`.
pub(crate) fn encode(kind: CursorKind, seq: i64) -> String {
    format!("{}.{seq:x}", kind.tag())
}

/// The seq a cursor encodes.
pub(crate) fn decode(kind: CursorKind, cursor: &str) -> Result<i64> {
    let bad = || StoreError::BadCursor(cursor.to_owned());
    let (tag, hex) = cursor.split_once('.').ok_or_else(bad)?;
    if tag != kind.tag() || hex.is_empty() || hex.len() > 16 {
        return Err(bad());
    }
    let seq = i64::from_str_radix(hex, 16).map_err(|_| bad())?;
    if seq <= 0 {
        return Err(bad());
    }
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let c = encode(CursorKind::Events, 12345);
        assert_eq!(decode(CursorKind::Events, &c).ok(), Some(12345));
        for bad in [
            "",
            "e1.",
            "e1.zz",
            "x.10",
            "e1.-5",
            "e1.0",
            "e1.11111111111111111",
        ] {
            assert!(decode(CursorKind::Events, bad).is_err(), "{bad}");
        }
        assert!(decode(CursorKind::Commands, &c).is_err());
    }
}
