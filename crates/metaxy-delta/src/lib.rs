//! metaxy-delta (work in progress).
