//! DuckDB backend (work in progress).
