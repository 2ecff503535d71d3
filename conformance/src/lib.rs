//! # metaxy-conformance
//!
//! The behaviour every metaxy-rs backend must show, written once against
//! [`MetadataStore`](metaxy_core::MetadataStore), plus the runner for golden cases recorded
//! from Metaxy 0.1.11.
//!
//! A backend crate runs the whole suite from one short test file:
//!
//! ```text
//! // crates/metaxy-foo/tests/conformance.rs
//! struct FooFactory;
//! #[async_trait::async_trait]
//! impl metaxy_conformance::BackendFactory for FooFactory { /* fresh(): a new, empty backend */ }
//! metaxy_conformance::backend_tests!(FooFactory);
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod backends;
pub mod factory;
pub mod golden;
pub mod pushdown;
pub mod rows;
pub mod suite;

pub use factory::{BackendFactory, MemoryFactory};
