//! Config loading, merging and errors.

use std::fs;

use super::*;
use crate::graph::FeatureGraph;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn discovered_in_parent_directories_and_by_env() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "metaxy.toml", "project = \"p\"\n");
    let nested = dir.path().join("a/b");
    fs::create_dir_all(&nested).unwrap();
    let cfg = MetaxyConfig::load_with(None, &nested, &[]).unwrap();
    assert_eq!(cfg.project.as_deref(), Some("p"));
    assert_eq!(cfg.root, dir.path());
    let other = write(dir.path(), "other.toml", "project = \"q\"\n");
    let cfg = MetaxyConfig::load_with(
        None,
        &nested,
        &vars(&[("METAXY_CONFIG", other.to_str().unwrap())]),
    )
    .unwrap();
    assert_eq!(cfg.project.as_deref(), Some("q"));
    // no file at all: defaults and the DuckDB default store
    let empty = tempfile::tempdir().unwrap();
    let cfg = MetaxyConfig::load_with(None, empty.path(), &[]).unwrap();
    assert!(cfg.file.is_none());
    let entry = cfg.store_entry(None).unwrap();
    assert_eq!(entry.kind, "duckdb");
    assert_eq!(
        entry.backend_config["database"].as_str(),
        Some(DEFAULT_DUCKDB_PATH)
    );
}

#[test]
fn pyproject_tool_metaxy_is_found() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"x\"\n[tool.metaxy]\nproject = \"from_py\"\n",
    );
    let cfg = MetaxyConfig::load_with(None, dir.path(), &[]).unwrap();
    assert_eq!(cfg.project.as_deref(), Some("from_py"));
}

#[test]
fn extend_merges_tables_shallowly_and_concatenates_arrays() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.toml",
        "project = \"base\"\ndefinitions = [\"a.json\"]\n[stores.prod]\ntype = \"memory\"\n[stores.dev]\ntype = \"memory\"\n",
    );
    let child = write(
        dir.path(),
        "metaxy.toml",
        "extend = \"base.toml\"\nproject = \"child\"\ndefinitions = [\"b.json\"]\n[stores.dev]\ntype = \"duckdb\"\n",
    );
    let cfg = MetaxyConfig::load_with(Some(&child), dir.path(), &[]).unwrap();
    assert_eq!(cfg.project.as_deref(), Some("child"));
    assert_eq!(
        cfg.definitions,
        vec![dir.path().join("a.json"), dir.path().join("b.json")]
    );
    assert_eq!(cfg.stores["dev"].kind, "duckdb");
    assert_eq!(
        cfg.stores["prod"].kind, "memory",
        "tables merge: the parent's other stores stay"
    );
}

#[test]
fn extend_cycles_are_rejected_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.toml", "extend = \"b.toml\"\n");
    write(dir.path(), "b.toml", "extend = \"a.toml\"\n");
    let e = MetaxyConfig::load_with(Some(&dir.path().join("a.toml")), dir.path(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a.toml") && e.contains("`extend`") && e.contains("cyclic"),
        "{e}"
    );
    let missing = write(dir.path(), "c.toml", "extend = \"nope.toml\"\n");
    let e = MetaxyConfig::load_with(Some(&missing), dir.path(), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn env_overrides_and_templates() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "metaxy.toml",
        "store = \"dev\"\n[stores.dev]\ntype = \"memory\"\n[stores.dev.config]\nmaterialization_id = \"${RUN_ID:-local}\"\n[stores.prod]\ntype = \"memory\"\n",
    );
    let cfg = MetaxyConfig::load_with(
        Some(&f),
        dir.path(),
        &vars(&[
            ("METAXY_STORE", "prod"),
            ("METAXY_STORES__PROD__CONFIG__HASH_ALGORITHM", "md5"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.store, "prod");
    assert_eq!(cfg.stores["prod"].hash_algorithm, Some(HashAlgorithm::Md5));
    assert_eq!(
        cfg.stores["dev"].materialization_id.as_deref(),
        Some("local")
    );
    let cfg = MetaxyConfig::load_with(Some(&f), dir.path(), &vars(&[("RUN_ID", "run-7")])).unwrap();
    assert_eq!(
        cfg.stores["dev"].materialization_id.as_deref(),
        Some("run-7")
    );
}

#[test]
fn malformed_config_gives_one_line_errors_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 9] = [
        ("[stores.dev]\nconfig = {}\n", "stores.dev.type", "missing"),
        (
            "[stores.dev]\ntype = \"memory\"\nroot_path = \"/x\"\n",
            "stores.dev.root_path",
            "[stores.dev.config]",
        ),
        ("colour = 1\n", "colour", "unknown setting"),
        (
            "hash_truncation_length = 4\n",
            "hash_truncation_length",
            "at least 8",
        ),
        (
            "store = \"prod\"\n[stores.dev]\ntype = \"memory\"\n",
            "store",
            "not defined",
        ),
        (
            "[stores.dev]\ntype = \"memory\"\n[stores.dev.config]\nfallback_stores = [\"nope\"]\n",
            "stores.dev.config.fallback_stores",
            "unknown store `nope`",
        ),
        (
            "[stores.dev]\ntype = \"memory\"\n[stores.dev.config]\nfallback_stores = [\"prod\"]\n[stores.prod]\ntype = \"memory\"\n[stores.prod.config]\nfallback_stores = [\"dev\"]\n",
            "fallback_stores",
            "cycle",
        ),
        (
            "[stores.dev]\ntype = \"memory\"\n[stores.dev.config]\nhash_algorithm = \"crc\"\n",
            "stores.dev.config.hash_algorithm",
            "unknown hash algorithm",
        ),
        ("project = \"a/b\"\n", "project", "not a valid project name"),
    ];
    for (i, (text, key, what)) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("c{i}.toml"), text);
        let e = MetaxyConfig::load_with(Some(&f), dir.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("c{i}.toml")), "names the file: {e}");
        assert!(
            e.contains(&format!("`{key}`")) || e.contains(key),
            "names the key {key}: {e}"
        );
        assert!(e.contains(what), "says what is wrong ({what}): {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let f = write(dir.path(), "bad.toml", "project = \n");
    let e = MetaxyConfig::load_with(Some(&f), dir.path(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.toml") && e.contains("not valid TOML"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[tokio::test]
async fn stores_open_from_config_with_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "metaxy.toml",
        "[stores.dev]\ntype = \"memory\"\n[stores.dev.config]\nfallback_stores = [\"prod\"]\nhash_algorithm = \"md5\"\n\
         [stores.prod]\ntype = \"memory\"\n[stores.prod.config]\nhash_algorithm = \"md5\"\n\
         [stores.odd]\ntype = \"memory\"\n[stores.odd.config]\nfallback_stores = [\"dev\"]\n\
         [stores.weird]\ntype = \"cassandra\"\n",
    );
    let cfg = MetaxyConfig::load_with(Some(&f), dir.path(), &[]).unwrap();
    let registry = BackendRegistry::new();
    let graph = FeatureGraph::new([]).unwrap();
    let dev = cfg.open_store(None, graph.clone(), &registry).unwrap();
    assert_eq!(dev.fallbacks().len(), 1);
    assert_eq!(dev.hash_algorithm(), HashAlgorithm::Md5);
    assert!(dev.display().starts_with("[dev] "), "{}", dev.display());
    // a chain with mixed hash algorithms is refused, naming file and key
    let e = cfg
        .open_store(Some("odd"), graph.clone(), &registry)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("metaxy.toml")
            && e.contains("stores.odd.config.fallback_stores")
            && e.contains("hash"),
        "{e}"
    );
    let e = cfg
        .open_store(Some("nope"), graph.clone(), &registry)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown store `nope`") && e.contains("dev, odd, prod, weird"),
        "{e}"
    );
    let e = cfg
        .open_store(Some("weird"), graph.clone(), &registry)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown store type `cassandra`") && e.contains("stores.weird.type"),
        "{e}"
    );
    let g16 = FeatureGraph::with_truncation([], Some(16)).unwrap();
    let e = cfg
        .open_store(None, g16, &registry)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hash_truncation_length"), "{e}");
}
