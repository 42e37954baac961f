//! Durable storage for what an actor passes to `Out::save`.
//!
//! One JSON file per node, replaced atomically: write a temporary file, fsync
//! it, rename it over the old one, fsync the directory. After a crash the
//! file holds either the old or the new value, never a mix. A file that
//! exists but cannot be read or decoded is an error, never a silent reset:
//! a Raft node that forgot its vote could vote twice in one term.

use serde::{de::DeserializeOwned, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file in a data directory that holds what the node saved.
pub const FILE_NAME: &str = "state.json";

/// Why storage could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data directory cannot be created or written.
    #[error("data dir {dir}: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The storage file exists but cannot be read.
    #[error("storage file {path} cannot be read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The storage file does not decode: the node refuses to start rather
    /// than reset what it promised.
    #[error("storage file {path} is corrupt ({reason}); refusing to start with a reset state — restore or remove it deliberately")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A save failed.
    #[error("cannot write storage file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A storage slot in memory that outlives the node using it: the
/// simulation keeps one per node across crashes and restarts.
pub type MemorySlot = Arc<Mutex<Option<Vec<u8>>>>;

/// Where a node keeps its storage.
#[derive(Clone, Debug)]
pub struct Store {
    place: Place,
}

#[derive(Clone, Debug)]
enum Place {
    /// Nothing survives the process.
    Nowhere,
    /// A directory on disk.
    Dir(PathBuf),
    /// A slot in memory (simulation).
    Memory(MemorySlot),
}

impl Store {
    /// Nothing survives a restart.
    pub fn in_memory() -> Store {
        Store {
            place: Place::Nowhere,
        }
    }

    /// A slot that survives as long as the caller keeps it.
    pub fn memory(slot: MemorySlot) -> Store {
        Store {
            place: Place::Memory(slot),
        }
    }

    /// Creates `dir` if needed and proves it writable.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        let err = |source| StorageError::Dir {
            dir: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(err)?;
        let probe = dir.join(".write-probe");
        File::create(&probe).map_err(err)?;
        fs::remove_file(&probe).map_err(err)?;
        Ok(Store {
            place: Place::Dir(dir.to_path_buf()),
        })
    }

    /// Whether saving touches the disk (and so belongs off the async thread).
    pub fn is_disk(&self) -> bool {
        matches!(self.place, Place::Dir(_))
    }

    /// The storage file, for storage on disk.
    pub fn path(&self) -> Option<PathBuf> {
        match &self.place {
            Place::Dir(d) => Some(d.join(FILE_NAME)),
            _ => None,
        }
    }

    /// The saved value, `None` if nothing was ever saved.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, StorageError> {
        let (bytes, path) = match &self.place {
            Place::Nowhere => return Ok(None),
            Place::Memory(slot) => match slot.lock().ok().and_then(|s| s.clone()) {
                Some(bytes) => (bytes, PathBuf::from("(memory)")),
                None => return Ok(None),
            },
            Place::Dir(dir) => {
                let path = dir.join(FILE_NAME);
                match fs::read(&path) {
                    Ok(bytes) => (bytes, path),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(source) => return Err(StorageError::Read { path, source }),
                }
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                path,
                reason: e.to_string(),
            })
    }

    /// Replaces the saved value durably. Returns once the data and the
    /// rename have reached the disk.
    pub fn save<T: Serialize>(&self, value: &T) -> Result<(), StorageError> {
        let dir = match &self.place {
            Place::Nowhere => return Ok(()),
            Place::Memory(slot) => {
                let bytes = serde_json::to_vec(value).map_err(|e| StorageError::Write {
                    path: PathBuf::from("(memory)"),
                    source: io::Error::other(e),
                })?;
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(bytes);
                }
                return Ok(());
            }
            Place::Dir(dir) => dir,
        };
        let path = dir.join(FILE_NAME);
        let err = |source| StorageError::Write {
            path: path.clone(),
            source,
        };
        let bytes = serde_json::to_vec(value).map_err(|e| err(io::Error::other(e)))?;
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(&bytes).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        fs::rename(&tmp, &path).map_err(err)?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::raft::RaftStorage;
    use stateright::actor::Id;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        assert_eq!(store.load::<RaftStorage>().expect("load"), None);
        let value = RaftStorage {
            current_term: 3,
            voted_for: Some(Id::from(1)),
        };
        store.save(&value).expect("save");
        assert_eq!(store.load::<RaftStorage>().expect("load"), Some(value));
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        fs::write(dir.path().join(FILE_NAME), b"{\"current_term\": 3, \"vot").expect("write");
        let err = store.load::<RaftStorage>().expect_err("must refuse");
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("refusing to start"), "{err}");
    }

    #[test]
    fn unwritable_dir_is_reported() {
        let err = Store::open(Path::new("/proc/elect-cannot-write-here")).expect_err("must fail");
        assert!(err.to_string().contains("data dir"), "{err}");
    }
}
