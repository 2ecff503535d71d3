//! End-to-end tests of the `metaxy` binary on temporary stores: every command, its JSON
//! output, and the error cases (one line, a non-zero exit, no panic).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

struct Project {
    dir: tempfile::TempDir,
}

const FEATURES: &str = r#"[
  {"key": "example/video", "id_columns": ["video_id"],
   "fields": [{"key": "audio", "code_version": "AUDIO_CV"}, {"key": "frames", "code_version": "1"}]},
  {"key": "example/crop", "id_columns": ["video_id"], "deps": [{"feature": "example/video"}],
   "fields": [{"key": "audio", "code_version": "1"}, {"key": "frames", "code_version": "1"}]},
  {"key": "example/face_detection", "id_columns": ["video_id"], "deps": [{"feature": "example/crop"}],
   "fields": [{"key": "faces", "code_version": "1", "deps": [{"feature": "example/crop", "fields": ["frames"]}]}]},
  {"key": "example/stt", "id_columns": ["video_id"], "deps": [{"feature": "example/video"}],
   "fields": [{"key": "transcript", "code_version": "1", "deps": [{"feature": "example/video", "fields": ["audio"]}]}]}
]"#;

impl Project {
    /// A project with a SQLite `dev` store, a `backup` store, definitions and video rows.
    fn new(store_type: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let database = if store_type == "duckdb" {
            "data/dev.duckdb"
        } else {
            "data/dev.sqlite"
        };
        std::fs::write(
            dir.path().join("metaxy.toml"),
            format!(
                "project = \"demo\"\nstore = \"dev\"\ndefinitions = [\"features.json\"]\n\
                 [stores.dev]\ntype = \"{store_type}\"\n[stores.dev.config]\ndatabase = \"{database}\"\n\
                 [stores.backup]\ntype = \"sqlite\"\n[stores.backup.config]\ndatabase = \"data/backup.sqlite\"\n\
                 [stores.remote]\ntype = \"postgres\"\n[stores.remote.config]\nurl = \"postgres://bob:hunter2@db.invalid/x\"\n"
            ),
        )
        .unwrap();
        let p = Project { dir };
        p.set_audio_code_version("1");
        let rows: String = (0..20)
            .map(|i| {
                json!({"video_id": i, "path": format!("v{i}.mp4"),
                       "metaxy_provenance_by_field": {"audio": format!("a{i}"), "frames": format!("f{i}")}})
                .to_string()
                    + "\n"
            })
            .collect();
        std::fs::write(p.path("videos.jsonl"), rows).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn set_audio_code_version(&self, cv: &str) {
        std::fs::write(self.path("features.json"), FEATURES.replace("AUDIO_CV", cv)).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("metaxy").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("METAXY_CONFIG")
            .env_remove("METAXY_STORE")
            .args(args);
        c
    }

    /// Runs a command that must succeed and print JSON.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.cmd(&all).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs a command that must fail with `exit`; returns its one-line message.
    fn fails(&self, args: &[&str], exit: i32) -> String {
        let out = self.cmd(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(exit), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?} one line: {stderr}"
        );
        stderr
    }
}

fn status_of(v: &Value, key: &str) -> (String, u64, u64, u64) {
    let f = &v["features"][key];
    (
        f["status"].as_str().unwrap_or_default().to_string(),
        f["missing"].as_u64().unwrap_or(0),
        f["stale"].as_u64().unwrap_or(0),
        f["orphaned"].as_u64().unwrap_or(0),
    )
}

fn ids_in(files: &[PathBuf]) -> Vec<i64> {
    let mut out = Vec::new();
    for f in files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for b in reader {
            let b = b.unwrap();
            let col = arrow_cast::cast(
                b.column_by_name("video_id").unwrap(),
                &arrow_schema::DataType::Int64,
            )
            .unwrap();
            let col = col
                .as_any()
                .downcast_ref::<arrow_array::Int64Array>()
                .unwrap();
            out.extend(col.values().iter().copied());
        }
    }
    out
}

fn files(dir: &Path, contains: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(contains))
        .collect();
    v.sort();
    v
}

#[test]
fn a_pipeline_through_the_cli() {
    let p = Project::new("sqlite");
    let list = p.json(&["list", "features"]);
    assert_eq!(list["feature_count"], json!(4));
    let stores = p.json(&["list", "stores"]);
    assert_eq!(stores["default_store"], json!("dev"));
    assert!(
        !stores.to_string().contains("hunter2"),
        "passwords never printed: {stores}"
    );

    let written = p.json(&["write", "example/video", "videos.jsonl"]);
    assert_eq!(written["rows_written"], json!(20));

    let status = p.json(&["metadata", "status"]);
    assert_eq!(
        status_of(&status, "example/crop"),
        ("missing".into(), 20, 0, 0)
    );
    assert_eq!(
        status["features"]["example/video"]["status"],
        json!("root_feature")
    );
    assert_eq!(status["features"]["example/video"]["store_rows"], json!(20));
    assert_eq!(status["needs_update"], json!(true));
    p.cmd(&["metadata", "status", "--assert-in-sync", "--quiet"])
        .assert()
        .code(1);

    // resolve into 4 shards: their union is exactly the increment, no sample twice
    let out = p.json(&["resolve", "example/crop", "--out", "inc", "--shards", "4"]);
    assert_eq!(out["new"], json!(20));
    let shards = files(&p.path("inc"), "new.shard");
    assert_eq!(shards.len(), 4);
    let ids = ids_in(&shards);
    assert_eq!(ids.len(), 20, "no sample in two shards");
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        (0..20).collect::<BTreeSet<_>>()
    );
    assert!(
        shards
            .iter()
            .filter(|s| !ids_in(std::slice::from_ref(*s)).is_empty())
            .count()
            > 1,
        "rows spread over shards"
    );
    // a second run puts every sample in the same shard again
    p.json(&["resolve", "example/crop", "--out", "inc2", "--shards", "4"]);
    for (a, b) in shards.iter().zip(files(&p.path("inc2"), "new.shard")) {
        assert_eq!(
            ids_in(std::slice::from_ref(a)),
            ids_in(&[b]),
            "stable sharding"
        );
    }
    // the workers write their results back
    for s in &shards {
        p.json(&["write", "example/crop", s.to_str().unwrap()]);
    }
    let status = p.json(&["metadata", "status", "example/crop"]);
    assert_eq!(
        status_of(&status, "example/crop"),
        ("up_to_date".into(), 0, 0, 0)
    );

    // push, history, diff
    let pushed = p.cmd(&["push", "--quiet"]).output().unwrap();
    assert!(pushed.status.success());
    let pv = String::from_utf8_lossy(&pushed.stdout).trim().to_string();
    assert_eq!(pv.len(), 8, "the project version on stdout: {pv}");
    let again = p.json(&["push"]);
    assert_eq!(again["already_pushed"], json!(true));
    let history = p.json(&["history"]);
    assert_eq!(history["versions"][0]["project_version"], json!(pv));
    let diff = p.json(&["graph-diff", "latest"]);
    assert!(diff["diff"]["changed"].as_array().unwrap().is_empty());
    p.set_audio_code_version("2");
    let diff = p.json(&["graph-diff", "latest", "current"]);
    let changed: BTreeSet<&str> = diff["diff"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["example/crop", "example/stt", "example/video"]
            .into_iter()
            .collect()
    );
    let plain = p.cmd(&["graph-diff", "latest"]).output().unwrap();
    assert!(String::from_utf8_lossy(&plain.stdout).contains("field audio changed"));
    // the graph pushed to the store works without the definitions files
    let from_store = p.json(&["list", "features", "--from-store"]);
    assert_eq!(from_store["feature_count"], json!(4));
    p.set_audio_code_version("1");

    // delete: a hard delete without a filter needs --yes; dry runs count; soft deletes hide
    let e = p.fails(&["metadata", "delete", "example/crop", "--hard"], 2);
    assert!(e.contains("--yes"), "{e}");
    let dry = p.json(&[
        "metadata",
        "delete",
        "example/crop",
        "--filter",
        "video_id < 5",
        "--dry-run",
    ]);
    assert_eq!(dry["deleted"]["example/crop"], json!(5));
    let soft = p.json(&[
        "metadata",
        "delete",
        "example/crop",
        "--filter",
        "video_id < 5",
    ]);
    assert_eq!(soft["deleted"]["example/crop"], json!(5));
    let status = p.json(&["metadata", "status", "example/crop"]);
    assert_eq!(
        status_of(&status, "example/crop"),
        ("needs_update".into(), 5, 0, 0)
    );

    // copy to the backup store, then rebase after a refactor of crop
    let copied = p.json(&[
        "metadata",
        "copy",
        "--all-features",
        "--from",
        "dev",
        "--to",
        "backup",
    ]);
    assert_eq!(copied["rows_copied"], json!(20 + 20));
    let backup = p.json(&["metadata", "status", "--store", "backup", "example/video"]);
    assert_eq!(backup["features"]["example/video"]["store_rows"], json!(20));
    let old_fv = p.json(&["list", "features"])["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == json!("example/crop"))
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        p.path("features.json"),
        FEATURES.replace("AUDIO_CV", "1").replace(
            r#""deps": [{"feature": "example/video"}],
   "fields": [{"key": "audio", "code_version": "1"}, {"key": "frames", "code_version": "1"}]"#,
            r#""deps": [{"feature": "example/video"}],
   "fields": [{"key": "audio", "code_version": "1"}, {"key": "frames", "code_version": "2"}]"#,
        ),
    )
    .unwrap();
    let status = p.json(&["metadata", "status", "example/crop"]);
    assert_eq!(
        status_of(&status, "example/crop").1,
        20,
        "a new crop version: everything new"
    );
    let rebased = p.json(&["metadata", "rebase", "example/crop", "--from", &old_fv]);
    assert_eq!(rebased["rows"], json!(15));
    let status = p.json(&["metadata", "status", "example/crop"]);
    assert_eq!(
        status_of(&status, "example/crop").1,
        5,
        "only the 5 soft-deleted samples remain"
    );
}

#[test]
fn describe_render_and_config() {
    let p = Project::new("sqlite");
    let d = p.json(&["describe", "features", "example/stt"]);
    assert_eq!(
        d["features"][0]["fields"][0]["deps"],
        json!(["example/video.audio"])
    );
    let g = p.json(&["describe", "graph"]);
    assert_eq!(g["feature_count"], json!(4));
    assert_eq!(g["depth"], json!(3));
    assert_eq!(g["roots"], json!(["example/video"]));
    let mermaid = p
        .cmd(&["graph", "render", "--as", "mermaid"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&mermaid.stdout);
    assert!(
        text.starts_with("flowchart TB") && text.contains("example__video --> example__crop"),
        "{text}"
    );
    let dot = p
        .cmd(&["graph", "render", "--as", "graphviz", "--show-fields"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&dot.stdout)
            .contains("\"example__crop\" -> \"example__face_detection\";")
    );
    let term = p
        .cmd(&["graph", "render", "--show-fields"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&term.stdout).contains(".faces"));
    let cfg = p.json(&["config", "print"]);
    assert_eq!(cfg["project"], json!("demo"));
    assert!(!cfg.to_string().contains("hunter2"), "{cfg}");
    let toml = p.cmd(&["config", "print"]).output().unwrap();
    assert!(String::from_utf8_lossy(&toml.stdout).contains("project = \"demo\""));
}

#[test]
fn duckdb_default_store_and_csv_ingest() {
    let p = Project::new("duckdb");
    std::fs::write(
        p.path("videos.csv"),
        "video_id,path,metaxy_provenance_by_field\n1,a.mp4,\"{\"\"audio\"\": \"\"a1\"\", \"\"frames\"\": \"\"f1\"\"}\"\n2,b.mp4,\"{\"\"audio\"\": \"\"a2\"\", \"\"frames\"\": \"\"f2\"\"}\"\n",
    )
    .unwrap();
    assert_eq!(
        p.json(&["write", "example/video", "videos.csv"])["rows_written"],
        json!(2)
    );
    let out = p.json(&["resolve", "example/stt", "--out", "out", "--as", "jsonl"]);
    assert_eq!(out["new"], json!(2));
    let text = std::fs::read_to_string(p.path("out/example__stt.new.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(p.path("data/dev.duckdb").is_file());
}

#[test]
fn errors_are_one_line_with_a_nonzero_exit() {
    let p = Project::new("sqlite");
    let e = p.fails(&["metadata", "status", "example/nope"], 3);
    assert!(e.contains("unknown feature(s): example/nope"), "{e}");
    let e = p.fails(&["--config", "missing.toml", "list", "features"], 2);
    assert!(
        e.contains("missing.toml") && e.contains("does not exist"),
        "{e}"
    );
    let e = p.fails(&["metadata", "status", "--store", "nowhere"], 2);
    assert!(e.contains("unknown store `nowhere`"), "{e}");
    let e = p.fails(&["metadata", "status", "--filter", "video_id >>> 3"], 2);
    assert!(e.contains("cannot parse filter"), "{e}");
    let e = p.fails(&["resolve", "example/video"], 2);
    assert!(e.contains("root feature"), "{e}");
    let e = p.fails(&["write", "example/video", "nope.parquet"], 2);
    assert!(e.contains("nope.parquet"), "{e}");
    std::fs::write(p.path("metaxy.toml"), "project = \n").unwrap();
    let e = p.fails(&["list", "features"], 2);
    assert!(
        e.contains("metaxy.toml") && e.contains("not valid TOML"),
        "{e}"
    );
    // JSON errors carry a code
    std::fs::write(p.path("metaxy.toml"), "[stores.dev]\nconfig = {}\n").unwrap();
    let out = p
        .cmd(&["list", "features", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], json!("CONFIG_ERROR"));
    // an unknown subcommand is clap's usage error
    p.cmd(&["frobnicate"]).assert().code(2);
}
