//! metaxy-lancedb (work in progress).
