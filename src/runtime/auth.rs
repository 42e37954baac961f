//! Authenticated datagrams: with a cluster key, every datagram ends with an
//! HMAC-SHA256 tag over everything before it.
//!
//! What the key buys: a datagram from anyone without the key — forged,
//! altered, or from another cluster that shares ports — is dropped. What it
//! does not: confidentiality (datagrams are not encrypted), protection
//! against a member whose key leaked, and replay — a recorded datagram sent
//! again verifies. Replays cannot break safety, because the protocols are
//! checked on networks that duplicate and reorder messages (see
//! models/raft-3-duplicating.toml); they can at worst delay an election.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// Bytes of the HMAC-SHA256 tag appended to every sealed datagram.
pub const TAG_LEN: usize = 32;
const MIN_KEY_LEN: usize = 16;

/// A shared cluster key, ready to compute tags.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// A key from its bytes; at least 16 of them.
    pub fn new(bytes: &[u8]) -> Result<Key, String> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(format!(
                "a cluster key needs at least {MIN_KEY_LEN} bytes (got {})",
                bytes.len()
            ));
        }
        <Hmac<Sha256> as Mac>::new_from_slice(bytes)
            .map(Key)
            .map_err(|e| format!("unusable cluster key: {e}"))
    }

    /// Reads a key file, refusing one that others may read.
    pub fn load(path: &Path) -> Result<Key, String> {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("--key-file {}: {e}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "--key-file {}: readable by others (mode {mode:03o}); run chmod 600 on it",
                    path.display()
                ));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let bytes =
            std::fs::read(path).map_err(|e| format!("--key-file {}: {e}", path.display()))?;
        let trimmed = bytes.trim_ascii();
        Key::new(trimmed).map_err(|e| format!("--key-file {}: {e}", path.display()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }

    /// Appends the tag of `datagram` to it.
    pub fn seal(&self, datagram: &mut Vec<u8>) {
        let mut mac = self.mac();
        mac.update(datagram);
        datagram.extend_from_slice(&mac.finalize().into_bytes());
    }

    /// The datagram without its tag, if the tag is right.
    pub fn open<'a>(&self, datagram: &'a [u8]) -> Option<&'a [u8]> {
        let body_len = datagram.len().checked_sub(TAG_LEN)?;
        let (body, tag) = datagram.split_at(body_len);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).ok().map(|_| body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let key = Key::new(b"0123456789abcdef-cluster-key").expect("key");
        let mut datagram = b"hello".to_vec();
        key.seal(&mut datagram);
        assert_eq!(datagram.len(), 5 + TAG_LEN);
        assert_eq!(key.open(&datagram), Some(&b"hello"[..]));
        let mut forged = datagram.clone();
        forged[0] ^= 1;
        assert_eq!(key.open(&forged), None);
        let other = Key::new(b"another-key-of-16-bytes").expect("key");
        assert_eq!(other.open(&datagram), None);
        assert_eq!(key.open(b"short"), None);
    }

    #[test]
    fn refuses_short_and_exposed_keys() {
        assert!(Key::new(b"short").is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, b"0123456789abcdef0123\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let err = Key::load(&path).expect_err("world-readable");
            assert!(err.contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        assert!(Key::load(&path).is_ok());
    }
}
