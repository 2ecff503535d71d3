# Everyday commands. `just` is optional: each recipe is one plain command.

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/metaxy-rs/target")

# run the quickstart example
demo:
    cargo run -p metaxy-core --example quickstart

# the README's test command
test:
    cargo test --workspace --locked

# formatting and lints, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# golden cases on one backend (default: memory)
golden backend="memory":
    cargo run --locked -p metaxy-conformance --bin golden -- --backend {{backend}} conformance/golden conformance/golden/recorded

# the benchmark matrix side by side with Python Metaxy 0.1.11 (the README's Python venv);
# prints a Markdown table of ratios and appends every measurement to bench-results.jsonl
bench sizes="1000000,10000000" backends="memory,duckdb" python=env_var_or_default("METAXY_TEST_PYTHON", ".venv/bin/python"):
    cargo build --release --locked -p metaxy-bench --no-default-features --features {{backends}}
    python3 crates/metaxy-bench/matrix.py --bench "$CARGO_TARGET_DIR/release/metaxy-bench" --peer-python {{python}} --sizes {{sizes}} --backends {{backends}}

# everything CI runs
ci:
    .ci/run

# the user guide (needs mdbook: cargo install mdbook)
docs:
    mdbook build docs
