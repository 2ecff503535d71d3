//! Interop with Python Metaxy 0.1.11 through Delta tables, both ways:
//!
//! * Python writes a store (`tests/reference/delta_interop.py record`): a video pipeline with
//!   field-level dependencies, an audio change, new samples, a soft and a hard delete. We open
//!   that store and must read the same rows and compute the same increments Python computed.
//! * We write the same pipeline into a fresh store (replaying Python's steps, every
//!   intermediate increment checked); Python reads it and must see the same values
//!   (`delta_interop.py check`), then appends its own increments to our tables, after which we
//!   must agree that nothing is left to compute.
//!
//! Python comes from `METAXY_TEST_PYTHON`, else `python3` on `PATH`, and must have
//! `metaxy[delta]==0.1.11`. Without it the tests are reported as ignored, loudly; `.ci/run`
//! installs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use metaxy_conformance::golden::{self, Case};
use metaxy_core::AccessMode;
use metaxy_delta::{DeltaBackend, DeltaConfig};
use serde_json::Value;

const PYTHON_VAR: &str = "METAXY_TEST_PYTHON";
const METAXY_VERSION: &str = "0.1.11";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/delta_interop.py")
}

/// The Python to use, or why there is none. A Python with the wrong Metaxy is an error, not
/// a skip: the comparison would be meaningless.
fn find_python() -> Result<PathBuf, String> {
    let explicit = std::env::var_os(PYTHON_VAR).filter(|p| !p.is_empty());
    let python = explicit
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let probe = Command::new(&python)
        .args([
            "-c",
            "import metaxy, deltalake, metaxy.ext.polars.handlers.delta; print(metaxy.__version__)",
        ])
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert_eq!(
                version,
                METAXY_VERSION,
                "{} has Metaxy {version}; the interop tests need {METAXY_VERSION}",
                python.display()
            );
            Ok(python)
        }
        _ if explicit.is_some() => panic!(
            "{PYTHON_VAR}={} cannot import metaxy[delta]; pip install \"metaxy[delta]=={METAXY_VERSION}\"",
            python.display()
        ),
        _ => Err(format!(
            "no Python with metaxy[delta]=={METAXY_VERSION}: pip install \"metaxy[delta]=={METAXY_VERSION}\" \
             and set {PYTHON_VAR} to that python (.ci/run does)"
        )),
    }
}

fn run_python(python: &Path, args: &[&Path]) {
    let out = Command::new(python)
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "delta_interop.py {:?} failed:\n{}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Python records the pipeline into `<dir>/python-store`; returns the case and where its
/// final-state checks start.
fn python_records(python: &Path, dir: &Path) -> (PathBuf, Case, usize) {
    let root = dir.join("python-store");
    std::fs::create_dir_all(&root).unwrap();
    let case_path = dir.join("case.json");
    let arg = Path::new("record");
    run_python(python, &[arg, &root, &case_path]);
    let recorded: Value = serde_json::from_slice(&std::fs::read(&case_path).unwrap()).unwrap();
    let case: Case = serde_json::from_value(recorded["case"].clone()).unwrap();
    let checks_from = recorded["checks_from"].as_u64().unwrap() as usize;
    assert!(checks_from > 0 && checks_from < case.steps.len());
    (root, case, checks_from)
}

fn delta_at(root: &Path) -> Arc<DeltaBackend> {
    Arc::new(DeltaBackend::new(DeltaConfig::new(root.to_string_lossy())).unwrap())
}

/// Runs `steps` of `case` on the Delta store at `root`.
fn run_steps(root: &Path, case: &Case, steps: &[Value], mode: AccessMode) -> Result<(), String> {
    runtime().block_on(async {
        let store = golden::store_for(case, delta_at(root))?;
        let _open = store.open(mode).await.map_err(|e| e.to_string())?;
        golden::run_steps(case, &store, steps).await
    })
}

fn python_writes_we_read(python: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let (root, case, checks_from) = python_records(python, dir.path());
    run_steps(&root, &case, &case.steps[checks_from..], AccessMode::Read)
        .unwrap_or_else(|e| panic!("reading Python's Delta store: {e}"));
}

/// A step's expectations with every row list sorted, for order-free comparison.
fn normalized(step: &Value) -> Value {
    fn sort_rows(v: &Value) -> Value {
        match v {
            Value::Array(rows) => {
                let mut rows: Vec<String> = rows
                    .iter()
                    .map(metaxy_core::canonical_json::to_python_json_sorted)
                    .collect();
                rows.sort();
                Value::from(rows)
            }
            Value::Object(parts) => Value::Object(
                parts
                    .iter()
                    .map(|(k, v)| (k.clone(), sort_rows(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    serde_json::json!({
        "op": step["op"],
        "feature": step["feature"],
        "expect": sort_rows(&step["expect"]),
    })
}

fn we_write_python_reads(python: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let (_, case, checks_from) = python_records(python, dir.path());
    let ours = dir.path().join("rust-store");
    // Replay Python's pipeline: every intermediate increment must equal Python's.
    run_steps(&ours, &case, &case.steps[..checks_from], AccessMode::Write)
        .unwrap_or_else(|e| panic!("replaying Python's pipeline: {e}"));
    run_steps(&ours, &case, &case.steps[checks_from..], AccessMode::Read)
        .unwrap_or_else(|e| panic!("checking our own store: {e}"));

    let out = dir.path().join("python-view.json");
    run_python(
        python,
        &[
            Path::new("check"),
            &ours,
            &dir.path().join("case.json"),
            &out,
        ],
    );
    let seen: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let checks = seen["checks"].as_array().unwrap();
    let expected = &case.steps[checks_from..];
    assert_eq!(checks.len(), expected.len());
    for (got, want) in checks.iter().zip(expected) {
        assert_eq!(
            normalized(got),
            normalized(want),
            "Python reads our store differently"
        );
    }

    // Python appended its increments to the tables we created; we read them and agree that
    // nothing is left to compute (the recorded resolves are empty).
    let after = seen["after_python_writes"].as_array().unwrap();
    assert!(!after.is_empty());
    for step in after {
        for part in ["new", "stale"] {
            assert_eq!(step["expect"][part], serde_json::json!([]), "{step}");
        }
    }
    run_steps(&ours, &case, after, AccessMode::Read)
        .unwrap_or_else(|e| panic!("reading Python's appends to our tables: {e}"));
}

fn main() {
    let args = Arguments::from_args();
    let python = find_python();
    if let Err(reason) = &python {
        eprintln!("\n*** Delta interop tests with Python Metaxy SKIPPED: {reason} ***\n");
    }
    let trial = |name: &str, job: fn(&Path)| {
        let python = python.clone();
        Trial::ignorable_test(name.to_string(), move || match python {
            Ok(p) => {
                job(&p);
                Ok::<_, Failed>(Completion::Completed)
            }
            Err(reason) => Ok(Completion::ignored_with(reason)),
        })
    };
    let trials = vec![
        trial("python_writes_we_read", python_writes_we_read),
        trial("we_write_python_reads", we_write_python_reads),
    ];
    libtest_mimic::run(&args, trials).exit();
}
