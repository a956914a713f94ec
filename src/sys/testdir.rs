//! Test helper: a fresh directory under the system temp dir, removed on
//! drop. Names are unique per process and call, so parallel tests never
//! share one.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vipd-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` to `name` with `mode`; its path.
    pub fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints why a test cannot run here, so it passes as a skip; with
/// `VIPD_TESTS_MUST_RUN` set (scripts/test sets it when run as root, as in
/// CI) it fails instead, so a broken lab cannot pass by skipping.
pub fn skip(reason: &str) {
    assert!(std::env::var_os("VIPD_TESTS_MUST_RUN").is_none(), "cannot run: {reason} (VIPD_TESTS_MUST_RUN is set)");
    println!("skipping: {reason}");
}
