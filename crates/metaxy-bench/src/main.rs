//! The `resolve_update` benchmark of Metaxy's paper (`../shared/bench/README.md`).
//!
//! ```text
//! cargo run --release -p metaxy-bench -- --graph simple --n 1000000 --backend duckdb --rounds 3
//! ```
//!
//! Graphs: `simple` = root (audio, frames) → leaf (prediction); `wide` = two roots (audio,
//! frames, optical_flow, embedding) → leaf (prediction_a, prediction_b). Ids are `UInt64`,
//! root provenance values short strings, hash xxhash64 (`--hash`), truncation 8. Phases: `new` (roots
//! written, leaf empty) and `stale` (leaf materialised, then 10% of root 0's rows re-written
//! with a changed `audio`). Each round seeds a fresh store (not timed), then times opening the
//! store, `resolve_update(leaf)` and collecting the increment. One JSON line per phase, as
//! `peer_metaxy.py` prints, plus the peak memory of the process.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, RecordBatch, StringArray, StructArray, UInt64Array};
use arrow_schema::{DataType, Field as ArrowField};
use clap::Parser;
use metaxy::spec::{Dep, Field};
use metaxy::store::StoreSettings;
use metaxy::{
    AccessMode, Backend, FeatureGraph, FeatureSpec, HashAlgorithm, MetadataStore, ResolveOptions,
    columns,
};

const WIDE_FIELDS: [&str; 4] = ["audio", "frames", "optical_flow", "embedding"];

/// Options.
#[derive(Parser, Debug)]
#[command(name = "metaxy-bench")]
struct Args {
    /// simple or wide.
    #[arg(long, default_value = "simple")]
    graph: String,
    /// Samples per root.
    #[arg(long, default_value_t = 100_000)]
    n: u64,
    /// memory, duckdb, sqlite, postgres (METAXY_TEST_POSTGRES_URL), delta or lancedb.
    #[arg(long, default_value = "memory")]
    backend: String,
    /// Timed rounds per phase (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Sample-level hash algorithm (xxhash64 as the paper; md5 or sha256 are pushed down on
    /// PostgreSQL).
    #[arg(long, default_value = "xxhash64")]
    hash: HashAlgorithm,
    /// `true`/`false`: DuckDB and PostgreSQL run the resolve themselves, or the core engine
    /// does (default: each backend's own default — DuckDB off, PostgreSQL on).
    #[arg(long)]
    pushdown: Option<bool>,
    /// DuckDB settings applied on open, `key=value`, repeatable (e.g. `memory_limit=12GB`,
    /// `temp_directory=/big/disk`), as `[stores.X.config.settings]` would set them.
    #[arg(long = "duckdb-setting", value_parser = parse_setting)]
    duckdb_settings: Vec<(String, String)>,
    /// Phases to run (default both).
    #[arg(long, value_delimiter = ',', default_values_t = vec!["new".to_string(), "stale".to_string()])]
    phases: Vec<String>,
    /// Leave the seeded file- and directory-based stores on disk (their directory is printed
    /// to stderr), e.g. to query them with DuckDB's own tools or to profile a single scan.
    #[arg(long)]
    keep_stores: bool,
}

/// `key=value` of `--duckdb-setting`.
fn parse_setting(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!(
            "expected key=value (e.g. memory_limit=12GB), got {s:?}"
        )),
    }
}

struct Workload {
    graph: FeatureGraph,
    roots: Vec<(String, Vec<&'static str>)>,
    leaf: String,
}

fn workload(kind: &str) -> metaxy::Result<Workload> {
    let root = |key: &str, fields: &[&str]| {
        let mut b = FeatureSpec::builder(key).id_columns(["sample_uid"]);
        for f in fields {
            b = b.field(Field::new(*f).code_version("1"));
        }
        b.build()
    };
    match kind {
        "simple" => {
            let r = root("bench/simple_root", &["audio", "frames"])?;
            let leaf = FeatureSpec::builder("bench/simple_leaf")
                .id_columns(["sample_uid"])
                .dep(Dep::on("bench/simple_root"))
                .field(Field::new("prediction").code_version("1"))
                .build()?;
            Ok(Workload {
                graph: FeatureGraph::new([r, leaf])?,
                roots: vec![("bench/simple_root".into(), vec!["audio", "frames"])],
                leaf: "bench/simple_leaf".into(),
            })
        }
        "wide" => {
            let r0 = root("bench/wide_root_0", &WIDE_FIELDS)?;
            let r1 = root("bench/wide_root_1", &WIDE_FIELDS)?;
            let leaf = FeatureSpec::builder("bench/wide_leaf")
                .id_columns(["sample_uid"])
                .dep(Dep::on("bench/wide_root_0"))
                .dep(Dep::on("bench/wide_root_1"))
                .field(Field::new("prediction_a").code_version("1"))
                .field(Field::new("prediction_b").code_version("1"))
                .build()?;
            Ok(Workload {
                graph: FeatureGraph::new([r0, r1, leaf])?,
                roots: vec![
                    ("bench/wide_root_0".into(), WIDE_FIELDS.to_vec()),
                    ("bench/wide_root_1".into(), WIDE_FIELDS.to_vec()),
                ],
                leaf: "bench/wide_leaf".into(),
            })
        }
        other => Err(metaxy::Error::InvalidArgument(format!(
            "unknown graph {other:?}: use simple or wide"
        ))),
    }
}

/// A small deterministic generator (SplitMix64), so every run writes the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Root rows: ids 0..n and `<first letter><random int in [0, 2^20]>` per field; with
/// `bump`, 10% of the rows get `_bumped` appended to `audio`.
fn root_rows(n: u64, fields: &[&str], seed: u64, bump: bool) -> metaxy::Result<RecordBatch> {
    let mut rng = Rng(seed);
    let mut bump_rng = Rng(777);
    let bumped: Vec<bool> = (0..n)
        .map(|_| bump && bump_rng.next().is_multiple_of(10))
        .collect();
    let children: Vec<(Arc<ArrowField>, ArrayRef)> = fields
        .iter()
        .map(|f| {
            let first = f.chars().next().unwrap_or('x');
            let values = StringArray::from_iter_values((0..n as usize).map(|i| {
                let v = rng.next() % (1 << 20);
                if *f == "audio" && bumped[i] {
                    format!("{first}{v}_bumped")
                } else {
                    format!("{first}{v}")
                }
            }));
            (
                Arc::new(ArrowField::new(*f, DataType::Utf8, false)),
                Arc::new(values) as ArrayRef,
            )
        })
        .collect();
    Ok(RecordBatch::try_from_iter(vec![
        (
            "sample_uid",
            Arc::new(UInt64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        (
            columns::PROVENANCE_BY_FIELD,
            Arc::new(StructArray::from(children)) as ArrayRef,
        ),
    ])?)
}

/// How the file- and directory-based backends are opened.
#[derive(Clone, Debug, Default)]
struct DirOptions {
    /// `--pushdown`.
    #[allow(dead_code)] // unused when no backend with a pushdown is compiled in
    pushdown: Option<bool>,
    /// `--duckdb-setting`.
    #[allow(dead_code)] // unused without DuckDB
    duckdb_settings: Vec<(String, String)>,
}

/// Creates backends for a run.
enum Factory {
    Memory,
    /// A directory for the file- and directory-based stores (one store per round).
    #[allow(dead_code)] // unused when only the memory backend is compiled in
    Dir(String, tempfile::TempDir, DirOptions),
    #[cfg(feature = "postgres")]
    Postgres(metaxy::postgres::TemporarySchemas, Option<bool>),
}

/// The backends compiled into this build.
const BACKENDS: &[&str] = &[
    "memory",
    #[cfg(feature = "duckdb")]
    "duckdb",
    #[cfg(feature = "sqlite")]
    "sqlite",
    #[cfg(feature = "postgres")]
    "postgres",
    #[cfg(feature = "delta")]
    "delta",
    #[cfg(feature = "lancedb")]
    "lancedb",
];

impl Factory {
    fn new(kind: &str, options: DirOptions) -> metaxy::Result<Factory> {
        let tmp = || {
            tempfile::tempdir_in(
                std::env::var("METAXY_BENCH_DIR")
                    .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
            )
            .map_err(|e| {
                metaxy::Error::InvalidArgument(format!("cannot create a temporary directory: {e}"))
            })
        };
        match kind {
            "memory" => Ok(Factory::Memory),
            #[cfg(feature = "postgres")]
            "postgres" => {
                let url = std::env::var("METAXY_TEST_POSTGRES_URL").map_err(|_| {
                    metaxy::Error::InvalidArgument(
                        "the postgres backend needs METAXY_TEST_POSTGRES_URL".into(),
                    )
                })?;
                Ok(Factory::Postgres(
                    metaxy::postgres::TemporarySchemas::new(url),
                    options.pushdown,
                ))
            }
            other if BACKENDS.contains(&other) => {
                Ok(Factory::Dir(other.to_string(), tmp()?, options))
            }
            other => Err(metaxy::Error::InvalidArgument(format!(
                "unknown or not compiled-in backend {other:?}; available: {}",
                BACKENDS.join(", ")
            ))),
        }
    }

    /// A fresh backend for round `round`; `reopen` gives a second handle on the same data.
    async fn fresh(&self, round: usize) -> metaxy::Result<(Arc<dyn Backend>, Opener)> {
        match self {
            Factory::Memory => {
                let b: Arc<dyn Backend> = Arc::new(metaxy::MemoryBackend::new());
                let same = b.clone();
                Ok((b, Box::new(move || Ok(same.clone()))))
            }
            Factory::Dir(kind, dir, options) => {
                let path = dir.path().join(format!("round{round}.{kind}"));
                let open = dir_backend(kind, path, options.clone())?;
                Ok((open()?, open))
            }
            #[cfg(feature = "postgres")]
            Factory::Postgres(schemas, pushdown) => {
                let schema = schemas.create().await?;
                let mut config =
                    metaxy::postgres::PostgresConfig::url(schemas.url()).with_schema(schema);
                if let Some(p) = pushdown {
                    config.pushdown = *p;
                }
                let c2 = config.clone();
                Ok((
                    Arc::new(metaxy::postgres::PostgresBackend::new(config)),
                    Box::new(move || {
                        Ok(Arc::new(metaxy::postgres::PostgresBackend::new(c2.clone()))
                            as Arc<dyn Backend>)
                    }),
                ))
            }
        }
    }

    /// Removes what the run created, or with `keep` leaves the store directory in place.
    async fn finish(self, keep: bool) -> metaxy::Result<()> {
        match self {
            Factory::Dir(_, dir, _) if keep => {
                eprintln!("stores kept in {}", dir.keep().display());
            }
            #[cfg(feature = "postgres")]
            Factory::Postgres(s, _) => s.drop_all().await?,
            _ => {}
        }
        Ok(())
    }
}

/// A constructor of the file- or directory-based backend `kind` at `path`.
type Opener = Box<dyn Fn() -> metaxy::Result<Arc<dyn Backend>>>;

// `path` is unused when no file- or directory-based backend is compiled in.
#[allow(unused_variables)]
fn dir_backend(
    kind: &str,
    path: std::path::PathBuf,
    options: DirOptions,
) -> metaxy::Result<Opener> {
    match kind {
        #[cfg(feature = "duckdb")]
        "duckdb" => Ok(Box::new(move || {
            let mut config = metaxy::duckdb::DuckDbConfig::file(&path);
            config
                .settings
                .extend(options.duckdb_settings.iter().cloned());
            if let Some(p) = options.pushdown {
                config = config.with_pushdown(p);
            }
            Ok(Arc::new(metaxy::duckdb::DuckDbBackend::new(config)) as Arc<dyn Backend>)
        })),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Box::new(move || {
            Ok(Arc::new(metaxy::sqlite::SqliteBackend::file(&path)) as Arc<dyn Backend>)
        })),
        #[cfg(feature = "delta")]
        "delta" => Ok(Box::new(move || {
            let config = metaxy::delta::DeltaConfig::new(path.to_string_lossy());
            Ok(Arc::new(metaxy::delta::DeltaBackend::new(config)?) as Arc<dyn Backend>)
        })),
        #[cfg(feature = "lancedb")]
        "lancedb" => Ok(Box::new(move || {
            let config = metaxy::lancedb::LanceDbConfig::new(path.to_string_lossy());
            Ok(Arc::new(metaxy::lancedb::LanceDbBackend::new(config)?) as Arc<dyn Backend>)
        })),
        other => Err(metaxy::Error::InvalidArgument(format!(
            "{other} is not a file- or directory-based backend"
        ))),
    }
}

fn store(backend: Arc<dyn Backend>, graph: &FeatureGraph, hash: HashAlgorithm) -> MetadataStore {
    MetadataStore::with_settings(
        backend,
        graph.clone(),
        StoreSettings {
            hash_algorithm: hash,
            ..StoreSettings::default()
        },
    )
}

/// Peak resident memory of the process in MiB (Linux `VmHWM`), and a reset of the peak.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn run() -> metaxy::Result<()> {
    let args = Args::parse();
    // `METAXY_LOG=metaxy_core=debug` shows which path each resolve took, the time of each of
    // its steps (read, keep-latest, expected frame, compare) and, for a pushed-down resolve,
    // the rows and bytes the backend sent back
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("METAXY_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            // each closed span prints its time: where a resolve spends it
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .init();
    }
    let w = workload(&args.graph)?;
    if !args.duckdb_settings.is_empty() && args.backend != "duckdb" {
        return Err(metaxy::Error::InvalidArgument(
            "--duckdb-setting applies to --backend duckdb only".into(),
        ));
    }
    let factory = Factory::new(
        &args.backend,
        DirOptions {
            pushdown: args.pushdown,
            duckdb_settings: args.duckdb_settings.clone(),
        },
    )?;
    let mut round_id = 0;
    for phase in &args.phases {
        let mut times = Vec::new();
        let mut counts = (0, 0);
        let mut peak: f64 = 0.0;
        for _ in 0..args.rounds.max(1) {
            round_id += 1;
            let (backend, reopen) = factory.fresh(round_id).await?;
            {
                let s = store(backend, &w.graph, args.hash);
                let _open = s.open(AccessMode::Write).await?;
                // generated per round and dropped once written, so the measured peak is the
                // store's and the resolve's, not the generator's
                for (i, (key, fields)) in w.roots.iter().enumerate() {
                    s.write(
                        key.as_str(),
                        root_rows(args.n, fields, 42 + i as u64, false)?,
                    )
                    .await?;
                }
                if phase == "stale" {
                    let inc = s
                        .resolve_update(w.leaf.as_str(), ResolveOptions::new())
                        .await?;
                    s.write(w.leaf.as_str(), inc.new).await?;
                    let (key, fields) = &w.roots[0];
                    s.write(key.as_str(), root_rows(args.n, fields, 42, true)?)
                        .await?;
                }
            }
            reset_peak();
            let started = Instant::now();
            let s = store(reopen()?, &w.graph, args.hash);
            let _open = s.open(AccessMode::Write).await?;
            let inc = s
                .resolve_update(w.leaf.as_str(), ResolveOptions::new())
                .await?;
            let elapsed = started.elapsed().as_secs_f64();
            counts = (inc.new.num_rows(), inc.stale.num_rows());
            drop(inc);
            times.push(elapsed);
            peak = peak.max(peak_mib().unwrap_or(0.0));
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{}",
            serde_json::json!({
                "impl": format!("metaxy-rs-{}", args.backend),
                "graph": args.graph,
                "n": args.n,
                "phase": phase,
                "median_s": times[times.len() / 2],
                "min_s": times[0],
                "new": counts.0,
                "stale": counts.1,
                "peak_mib": (peak * 10.0).round() / 10.0,
                "hash": args.hash.as_str(),
                "pushdown": args.pushdown,
            })
        );
    }
    factory.finish(args.keep_stores).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
