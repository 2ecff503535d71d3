//! The backends the golden runner can drive, chosen by name.

use crate::factory::{BackendFactory, MemoryFactory};

/// The names of the backends compiled into this build.
pub fn available() -> Vec<&'static str> {
    vec!["memory"]
}

/// A factory for the named backend.
pub fn factory(name: &str) -> Result<Box<dyn BackendFactory>, String> {
    match name {
        "memory" => Ok(Box::new(MemoryFactory)),
        other => Err(format!(
            "unknown or not compiled-in backend `{other}`; available: {}",
            available().join(", ")
        )),
    }
}
