//! Quickstart: define a two-feature graph, write upstream samples, resolve the increment,
//! write the computed results, then change one sample's audio and see exactly what is stale.
//!
//! ```text
//! cargo run -p metaxy-core --example quickstart
//! ```

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field as ArrowField};
use metaxy_core::spec::{Dep, Field};
use metaxy_core::{
    AccessMode, FeatureGraph, FeatureSpec, MemoryBackend, MetadataStore, ResolveOptions, columns,
};

/// Video rows: (id, audio content hash, frames content hash).
fn videos(rows: &[(i64, &str, &str)]) -> metaxy_core::Result<RecordBatch> {
    let by_field = StructArray::from(vec![
        (
            Arc::new(ArrowField::new("audio", DataType::Utf8, false)),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            Arc::new(ArrowField::new("frames", DataType::Utf8, false)),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ]);
    Ok(RecordBatch::try_from_iter(vec![
        (
            "sample_uid",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (columns::PROVENANCE_BY_FIELD, Arc::new(by_field) as ArrayRef),
    ])?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> metaxy_core::Result<()> {
    let video = FeatureSpec::builder("example/video")
        .id_columns(["sample_uid"])
        .field(Field::new("audio").code_version("1"))
        .field(Field::new("frames").code_version("1"))
        .build()?;
    // speech-to-text depends on the audio only
    let stt = FeatureSpec::builder("example/stt")
        .id_columns(["sample_uid"])
        .dep(Dep::on("example/video"))
        .field(
            Field::new("transcription")
                .code_version("1")
                .depends_on("example/video", ["audio"]),
        )
        .build()?;
    let graph = FeatureGraph::new([video, stt])?;
    println!("feature versions:");
    for key in graph.topological_order() {
        println!("  {key}: {}", graph.feature_version(key)?);
    }

    let store = MetadataStore::new(Arc::new(MemoryBackend::new()), graph);
    let _open = store.open(AccessMode::Write).await?;
    store
        .write(
            "example/video",
            videos(&[(1, "a1", "f1"), (2, "a2", "f2"), (3, "a3", "f3")])?,
        )
        .await?;

    let increment = store
        .resolve_update("example/stt", ResolveOptions::new())
        .await?;
    let (new, stale, orphaned) = increment.counts();
    println!("first run: {new} new, {stale} stale, {orphaned} orphaned");
    // ... a pipeline would transcribe these samples here, then record them:
    store.write("example/stt", increment.new).await?;

    // Video 2 gets new frames (audio unchanged), video 3 new audio.
    store
        .write(
            "example/video",
            videos(&[(2, "a2", "f2-new"), (3, "a3-new", "f3")])?,
        )
        .await?;
    let increment = store
        .resolve_update("example/stt", ResolveOptions::new())
        .await?;
    let (new, stale, orphaned) = increment.counts();
    println!("after the change: {new} new, {stale} stale, {orphaned} orphaned");
    println!(
        "{}",
        arrow_cast::pretty::pretty_format_batches(&[increment.stale])?
    );
    Ok(())
}
