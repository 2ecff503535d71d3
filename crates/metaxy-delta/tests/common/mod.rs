//! Test support: a real S3 API on loopback (moto_server), started and stopped by the tests.
//!
//! `moto_server` comes from the `moto[server]` package on PyPI. The tests look for it in
//! `METAXY_TEST_MOTO_SERVER` (a path), then on `PATH`. Without it the S3 tests are reported
//! as ignored, loudly; `.ci/run` installs it, so in CI they always run.
//!
//! The server is started through `moto_serialised.py` (next to this file) with the Python
//! interpreter of that `moto_server`: moto's threaded server does not make `If-None-Match: *`
//! atomic, and Delta's commits rely on it (see the script).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use metaxy_delta::DeltaConfig;

/// The environment variable naming the moto_server executable.
pub const MOTO_VAR: &str = "METAXY_TEST_MOTO_SERVER";

/// The moto_server executable, if one is available.
pub fn moto_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(MOTO_VAR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    })
}

/// The Python interpreter a `moto_server` console script runs with: its `#!` line, else a
/// `python3` next to it, else `python3` on `PATH`.
fn interpreter_of(binary: &Path) -> PathBuf {
    let shebang = std::fs::read(binary).ok().and_then(|bytes| {
        let line = bytes.split(|&b| b == b'\n').next()?;
        let line = std::str::from_utf8(line.strip_prefix(b"#!")?).ok()?.trim();
        // `#!/path/python` or `#!/usr/bin/env python3`; arguments after the path are not used.
        let mut words = line.split_whitespace();
        let first = words.next()?;
        Some(if first.ends_with("/env") {
            PathBuf::from(words.next()?)
        } else {
            PathBuf::from(first)
        })
    });
    shebang
        .filter(|p| p.to_string_lossy().contains("python"))
        .or_else(|| Some(binary.parent()?.join("python3")).filter(|p| p.is_file()))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Why the S3 tests are skipped, for the banner and the ignore reason.
pub fn skip_reason() -> String {
    format!(
        "moto_server not found: pip install \"moto[server]\" and put it on PATH or set {MOTO_VAR} \
         (.ci/run does)"
    )
}

/// A moto S3 server on 127.0.0.1 with a free port; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

impl Moto {
    /// Starts the server (moto behind one request lock, see `moto_serialised.py`) with the
    /// interpreter of `binary` and waits until it accepts connections.
    pub fn start(binary: &Path) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let python = interpreter_of(binary);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/moto_serialised.py");
        let child = Command::new(&python)
            .arg(&script)
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} {}: {e}",
                    python.display(),
                    script.display()
                )
            });
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            // its output is not kept (it logs every request), so say how to see it
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!(
                    "moto exited ({status}) before listening; run `{} {} 127.0.0.1 {port}` to \
                     see why (that Python must import moto[server]: {MOTO_VAR} names its \
                     moto_server)",
                    python.display(),
                    script.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "creating bucket {bucket}: {}",
            response.status()
        );
    }

    /// A Delta config for `s3://<bucket>/<prefix>` on this server.
    pub fn config(&self, bucket: &str, prefix: &str) -> DeltaConfig {
        s3_config(&self.endpoint, bucket, prefix)
    }
}

/// A Delta config for `s3://<bucket>/<prefix>` on a moto endpoint.
pub fn s3_config(endpoint: &str, bucket: &str, prefix: &str) -> DeltaConfig {
    DeltaConfig::new(format!("s3://{bucket}/{prefix}"))
        .with_storage_option("AWS_ENDPOINT_URL", endpoint)
        .with_storage_option("AWS_ALLOW_HTTP", "true")
        .with_storage_option("AWS_REGION", "us-east-1")
        .with_storage_option("AWS_ACCESS_KEY_ID", "testing")
        .with_storage_option("AWS_SECRET_ACCESS_KEY", "testing")
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
