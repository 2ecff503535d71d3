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

# everything CI runs
ci:
    .ci/run

# the user guide (needs mdbook: cargo install mdbook)
docs:
    mdbook build docs
