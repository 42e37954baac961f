//! A resource that refuses a deposed leader: the fencing token check.
//!
//! A lease tells a leader whether it may act *now*; it cannot stop a write
//! that the leader issued while its lease was valid and that arrives after a
//! newer leader has written (a pause between the check and the write, a slow
//! network). The resource closes that gap itself, as Kleppmann describes: every
//! write carries the writer's fencing token — Raft's term, which grows with
//! every leadership — and the resource accepts a write only if its token is
//! at least the highest it has seen.
//!
//! [`FencedRegister`] is such a resource: one value, the highest token, and
//! counts of what it accepted and refused.

use serde::Serialize;

/// A write the register refused: its token is below one it has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token {token} is below {highest}, the highest this register has seen: a newer leader has written")]
pub struct StaleToken {
    /// The token the write carried.
    pub token: u64,
    /// The highest token seen.
    pub highest: u64,
}

/// One value guarded by fencing tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FencedRegister<V> {
    value: Option<V>,
    highest: Option<u64>,
    accepted: u64,
    refused: u64,
}

impl<V: Clone> FencedRegister<V> {
    /// An empty register that has seen no token.
    pub fn new() -> Self {
        FencedRegister {
            value: None,
            highest: None,
            accepted: 0,
            refused: 0,
        }
    }

    /// Writes `value` if `token` is at least the highest token seen; a
    /// write with a lower token changes nothing and is counted as refused.
    pub fn write(&mut self, token: u64, value: V) -> Result<(), StaleToken> {
        match self.highest {
            Some(highest) if token < highest => {
                self.refused += 1;
                Err(StaleToken { token, highest })
            }
            _ => {
                self.highest = Some(token);
                self.value = Some(value);
                self.accepted += 1;
                Ok(())
            }
        }
    }

    /// The value last accepted.
    pub fn value(&self) -> Option<&V> {
        self.value.as_ref()
    }

    /// The highest token seen.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Writes accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Writes refused so far: fencing at work.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_with_an_older_token_is_refused_and_changes_nothing() {
        let mut register = FencedRegister::new();
        assert_eq!(register.write(1, "a"), Ok(()));
        assert_eq!(
            register.write(1, "b"),
            Ok(()),
            "the same leadership writes again"
        );
        assert_eq!(register.write(3, "c"), Ok(()));
        assert_eq!(
            register.write(2, "late"),
            Err(StaleToken {
                token: 2,
                highest: 3
            })
        );
        assert_eq!(register.value(), Some(&"c"));
        assert_eq!(register.highest(), Some(3));
        assert_eq!((register.accepted(), register.refused()), (3, 1));
    }
}
