//! A multimodal pipeline, incrementally, on the embedded DuckDB store — no configuration.
//!
//! ```text
//! cargo run --release --example video_pipeline
//! ```
//!
//! 100,000 videos → crop (audio + frames) → face detection (frames only) and speech-to-text
//! (audio only). The demo materialises everything, then changes the audio processing (a code
//! version bump) and shows that only audio-dependent work is redone, then changes 1% of the
//! source videos and shows exactly those samples resolved. It leaves the store in
//! `.metaxy/metadata.duckdb` for the CLI (`metaxy metadata status`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field as ArrowField};
use metaxy::spec::{Dep, Field};
use metaxy::{
    AccessMode, FeatureGraph, FeatureSpec, Increment, MetadataStore, Project, ResolveOptions,
    batches, columns,
};

const VIDEOS: i64 = 100_000;
const PROJECT: &str = "video_pipeline";

fn graph(audio_code_version: &str) -> metaxy::Result<FeatureGraph> {
    let video = FeatureSpec::builder("example/video")
        .id_columns(["video_id"])
        .description("Source videos; provenance = content hashes of the audio and frame tracks")
        .field(Field::new("audio").code_version(audio_code_version))
        .field(Field::new("frames").code_version("1"))
        .build()?;
    let crop = FeatureSpec::builder("example/crop")
        .id_columns(["video_id"])
        .dep(Dep::on("example/video"))
        .field(Field::new("audio").code_version("1"))
        .field(Field::new("frames").code_version("1"))
        .build()?;
    let faces = FeatureSpec::builder("example/face_detection")
        .id_columns(["video_id"])
        .dep(Dep::on("example/crop"))
        .field(
            Field::new("faces")
                .code_version("1")
                .depends_on("example/crop", ["frames"]),
        )
        .build()?;
    let stt = FeatureSpec::builder("example/speech_to_text")
        .id_columns(["video_id"])
        .dep(Dep::on("example/video"))
        .field(
            Field::new("transcript")
                .code_version("1")
                .depends_on("example/video", ["audio"]),
        )
        .build()?;
    Ok(FeatureGraph::new([video, crop, faces, stt])?.with_project(PROJECT))
}

/// Source video rows for the given ids; `audio_rev` / `frames_rev` say which edit each
/// track is at (a real pipeline would put content hashes here).
fn videos(
    ids: &[i64],
    audio_rev: impl Fn(i64) -> u32,
    frames_rev: impl Fn(i64) -> u32,
) -> metaxy::Result<RecordBatch> {
    let audio: ArrayRef = Arc::new(StringArray::from_iter_values(
        ids.iter().map(|i| format!("audio-{i}-r{}", audio_rev(*i))),
    ));
    let frames: ArrayRef = Arc::new(StringArray::from_iter_values(
        ids.iter()
            .map(|i| format!("frames-{i}-r{}", frames_rev(*i))),
    ));
    let by_field = StructArray::from(vec![
        (
            Arc::new(ArrowField::new("audio", DataType::Utf8, false)),
            audio,
        ),
        (
            Arc::new(ArrowField::new("frames", DataType::Utf8, false)),
            frames,
        ),
    ]);
    Ok(RecordBatch::try_from_iter(vec![
        (
            "video_id",
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
        ),
        (
            "path",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("s3://videos/{i:06}.mp4")),
            )) as ArrayRef,
        ),
        (columns::PROVENANCE_BY_FIELD, Arc::new(by_field) as ArrayRef),
    ])?)
}

/// "Computes" a step for the samples of an increment: adds its output column to the rows
/// metaxy returned (which carry the provenance to record).
fn compute(step: &str, inc: &Increment) -> metaxy::Result<RecordBatch> {
    let stale = batches::without_columns(&inc.stale, &[columns::STALE_FIELDS]);
    let rows = batches::concat_merged(&[inc.new.clone(), stale])?;
    let output: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows.num_rows()).map(|i| format!("{step}-output-{i}")),
    ));
    batches::with_column(&rows, &format!("{step}_result"), output)
}

fn count_stale_fields(inc: &Increment) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Some(col) = inc.stale.column_by_name(columns::STALE_FIELDS)
        && let Some(list) = col.as_any().downcast_ref::<arrow_array::ListArray>()
    {
        for i in 0..list.len() {
            let fields = list.value(i);
            if let Some(s) = fields.as_any().downcast_ref::<StringArray>() {
                let key = s.iter().flatten().collect::<Vec<_>>().join("+");
                *out.entry(key).or_default() += 1;
            }
        }
    }
    out
}

async fn run_step(store: &MetadataStore, key: &str, label: &str) -> metaxy::Result<(usize, usize)> {
    let t = Instant::now();
    let inc = store.resolve_update(key, ResolveOptions::new()).await?;
    let resolved = t.elapsed();
    let (new, stale, orphaned) = inc.counts();
    let work = new + stale;
    let why = count_stale_fields(&inc);
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(
            " (changed fields: {})",
            why.iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if work > 0 {
        let rows = compute(label, &inc)?;
        store.write(key, rows).await?;
    }
    println!(
        "  {key:<24} {work:>7} to compute: {new:>6} new, {stale:>6} stale{why}, {orphaned} orphaned  [resolved in {:.0} ms]",
        resolved.as_secs_f64() * 1000.0
    );
    Ok((new, stale))
}

async fn materialize(store: &MetadataStore) -> metaxy::Result<()> {
    for (key, label) in [
        ("example/crop", "crop"),
        ("example/face_detection", "faces"),
        ("example/speech_to_text", "stt"),
    ] {
        run_step(store, key, label).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> metaxy::Result<()> {
    let started = Instant::now();
    let project = Project::load(None)?;
    let mut g = graph("1")?;
    let store = project.open_store_with(None, g.clone())?;
    println!("metaxy-rs video pipeline demo — store: {}", store.display());
    let _open = store.open(AccessMode::Write).await?;
    for key in g.topological_order() {
        store.drop_feature(key).await?; // start from a clean slate on every run
    }

    println!("\n1. {VIDEOS} source videos arrive; every step runs for every video.");
    let ids: Vec<i64> = (0..VIDEOS).collect();
    let t = Instant::now();
    store
        .write("example/video", videos(&ids, |_| 1, |_| 1)?)
        .await?;
    println!(
        "  wrote {VIDEOS} video rows in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    store.push_graph(None, &BTreeMap::new()).await?;
    materialize(&store).await?;

    println!("\n2. Nothing changed: resolving again finds no work.");
    materialize(&store).await?;

    println!("\n3. The audio processing changes (example/video.audio code_version 1 → 2).");
    let before = g.clone();
    g = graph("2")?;
    let diff = metaxy::graph::GraphDiff::between(&before, &g);
    for c in &diff.changed {
        println!(
            "  version of {} changed: {} → {}",
            c.key, c.old_version, c.new_version
        );
    }
    for k in &diff.unchanged {
        println!("  version of {k} unchanged (it does not depend on audio)");
    }
    store.set_graph(g.clone());
    store.push_graph(None, &BTreeMap::new()).await?;
    // the source rows are re-recorded under the new video version (same content hashes)
    store
        .write("example/video", videos(&ids, |_| 1, |_| 1)?)
        .await?;
    materialize(&store).await?;

    println!("\n4. 1% of the source videos are re-edited: 500 get new audio, 500 new frames.");
    let audio_edit: Vec<i64> = (0..VIDEOS).step_by(200).collect();
    let frames_edit: Vec<i64> = (100..VIDEOS).step_by(200).collect();
    let edited: Vec<i64> = audio_edit.iter().chain(&frames_edit).copied().collect();
    let rows = videos(
        &edited,
        |i| if i % 200 == 0 { 2 } else { 1 },
        |i| if i % 200 == 100 { 2 } else { 1 },
    )?;
    store.write("example/video", rows).await?;
    materialize(&store).await?;

    println!("\n5. One more resolve: everything is up to date.");
    materialize(&store).await?;
    println!(
        "\nDone in {:.1} s. Inspect the store with: cargo run -p metaxy-cli -- metadata status",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
