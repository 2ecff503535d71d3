//! Commands that describe the project: `config print`, `list`, `describe`, `graph render`.

use serde_json::{Value, json};

use metaxy::FeatureGraph;

use crate::cli::{ConfigAction, DescribeWhat, GraphAction, ListWhat, RenderFormat};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output;

const SECRET_WORDS: [&str; 5] = ["password", "secret", "token", "key", "credential"];

/// Masks secrets in a config value (keys that look secret, passwords in URLs).
fn mask(v: &toml::Value, key: &str) -> toml::Value {
    match v {
        toml::Value::Table(t) => {
            toml::Value::Table(t.iter().map(|(k, v)| (k.clone(), mask(v, k))).collect())
        }
        toml::Value::Array(a) => toml::Value::Array(a.iter().map(|v| mask(v, key)).collect()),
        toml::Value::String(s)
            if SECRET_WORDS.iter().any(|w| key.to_lowercase().contains(w)) && !s.is_empty() =>
        {
            toml::Value::String("***".into())
        }
        toml::Value::String(s) if s.contains("://") && s.contains('@') => {
            toml::Value::String(metaxy::postgres::mask(s))
        }
        other => other.clone(),
    }
}

fn config_value(ctx: &Ctx) -> toml::Table {
    let c = &ctx.project.config;
    let mut t = toml::Table::new();
    if let Some(f) = &c.file {
        t.insert("file".into(), f.display().to_string().into());
    }
    if let Some(p) = &c.project {
        t.insert("project".into(), p.clone().into());
    }
    t.insert("store".into(), c.store.clone().into());
    t.insert(
        "hash_truncation_length".into(),
        (c.hash_truncation_length as i64).into(),
    );
    if let Some(a) = c.auto_create_tables {
        t.insert("auto_create_tables".into(), a.into());
    }
    t.insert(
        "definitions".into(),
        toml::Value::Array(
            c.definitions
                .iter()
                .map(|d| d.display().to_string().into())
                .collect(),
        ),
    );
    let mut stores = toml::Table::new();
    let names: Vec<String> = if c.stores.is_empty() {
        vec![c.store.clone()]
    } else {
        c.stores.keys().cloned().collect()
    };
    for name in names {
        if let Ok(e) = c.store_entry(Some(&name)) {
            let mut entry = toml::Table::new();
            entry.insert("type".into(), e.kind.clone().into());
            let mut cfg = e.backend_config.clone();
            if let Some(h) = e.hash_algorithm {
                cfg.insert("hash_algorithm".into(), h.to_string().into());
            }
            if !e.fallback_stores.is_empty() {
                cfg.insert(
                    "fallback_stores".into(),
                    toml::Value::Array(
                        e.fallback_stores.iter().map(|s| s.clone().into()).collect(),
                    ),
                );
            }
            entry.insert("config".into(), mask(&toml::Value::Table(cfg), "config"));
            stores.insert(name, toml::Value::Table(entry));
        }
    }
    t.insert("stores".into(), toml::Value::Table(stores));
    t
}

/// `metaxy config print`.
pub fn config(ctx: &Ctx, action: &ConfigAction) -> CliResult {
    let ConfigAction::Print { as_ } = action;
    let table = config_value(ctx);
    let as_json = match as_.as_deref() {
        Some("json") => true,
        Some("toml") => false,
        None => ctx.json(),
        Some(other) => {
            return Err(CliError::usage(
                "CONFLICTING_FLAGS",
                format!("--as {other}: use toml or json"),
            ));
        }
    };
    if as_json {
        output::json(&table)
    } else {
        print!(
            "{}",
            toml::to_string_pretty(&table)
                .map_err(|e| CliError::failed("GENERIC_ERROR", e.to_string()))?
        );
        Ok(())
    }
}

fn feature_json(g: &FeatureGraph, key: &metaxy::FeatureKey, verbose: bool) -> CliResult<Value> {
    let spec = g.spec(key)?;
    let plan = g.plan(key)?;
    let fields: Vec<Value> = spec
        .fields
        .iter()
        .zip(&plan.field_parents)
        .map(|(f, parents)| {
            let mut v = json!({
                "key": f.key.to_string(),
                "code_version": f.code_version,
                "version": g.field_version(key, &f.key).unwrap_or_default(),
            });
            if verbose {
                v["deps"] = json!(
                    parents
                        .iter()
                        .map(|p| p.fq_string.clone())
                        .collect::<Vec<_>>()
                );
            }
            v
        })
        .collect();
    let mut v = json!({
        "key": key.to_string(),
        "version": g.feature_version(key)?,
        "is_root": spec.is_root(),
        "project": g.project(),
        "field_count": spec.fields.len(),
        "fields": fields,
    });
    if verbose {
        v["deps"] = json!(
            spec.deps
                .iter()
                .map(|d| d.feature.to_string())
                .collect::<Vec<_>>()
        );
    }
    Ok(v)
}

/// `metaxy list features|stores`.
pub async fn list(ctx: &Ctx, what: &ListWhat) -> CliResult {
    match what {
        ListWhat::Features { verbose } => {
            let g = ctx.graph().await?;
            if ctx.json() {
                let features = g
                    .topological_order()
                    .iter()
                    .map(|k| feature_json(&g, k, *verbose))
                    .collect::<CliResult<Vec<_>>>()?;
                return output::json(
                    &json!({"feature_count": features.len(), "features": features}),
                );
            }
            let rows: Vec<Vec<String>> = g
                .topological_order()
                .iter()
                .map(|k| {
                    let spec = g.spec(k)?;
                    Ok(vec![
                        k.to_string(),
                        g.feature_version(k)?.to_string(),
                        spec.fields
                            .iter()
                            .map(|f| f.key.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        spec.deps
                            .iter()
                            .map(|d| d.feature.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ])
                })
                .collect::<CliResult<_>>()?;
            output::table(&["FEATURE", "VERSION", "FIELDS", "DEPENDS ON"], &rows);
            Ok(())
        }
        ListWhat::Stores => {
            let c = &ctx.project.config;
            let names: Vec<String> = if c.stores.is_empty() {
                vec![c.store.clone()]
            } else {
                c.stores.keys().cloned().collect()
            };
            let empty = FeatureGraph::with_truncation([], Some(c.hash_truncation_length))?;
            let mut stores = Vec::new();
            for name in &names {
                let entry = c.store_entry(Some(name))?;
                let info = ctx
                    .named_store(name, &empty)
                    .map(|s| s.display())
                    .unwrap_or_else(|e| format!("error: {}", e.message));
                stores.push(json!({
                    "name": name,
                    "is_default": *name == c.store,
                    "type": entry.kind,
                    "info": info,
                    "fallbacks": entry.fallback_stores,
                }));
            }
            if ctx.json() {
                return output::json(
                    &json!({"default_store": c.store, "store_count": stores.len(), "stores": stores}),
                );
            }
            let rows: Vec<Vec<String>> = stores
                .iter()
                .map(|s| {
                    vec![
                        format!(
                            "{}{}",
                            s["name"].as_str().unwrap_or_default(),
                            if s["is_default"] == json!(true) {
                                " (default)"
                            } else {
                                ""
                            }
                        ),
                        s["type"].as_str().unwrap_or_default().to_string(),
                        s["info"].as_str().unwrap_or_default().to_string(),
                        s["fallbacks"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            output::table(&["STORE", "TYPE", "WHERE", "FALLS BACK TO"], &rows);
            Ok(())
        }
    }
}

fn depth(g: &FeatureGraph) -> usize {
    let mut depths: std::collections::HashMap<&metaxy::FeatureKey, usize> =
        std::collections::HashMap::new();
    for k in g.topological_order() {
        let d = g
            .spec(k)
            .map(|s| {
                s.deps
                    .iter()
                    .filter_map(|d| depths.get(&d.feature))
                    .max()
                    .map(|m| m + 1)
                    .unwrap_or(1)
            })
            .unwrap_or(1);
        depths.insert(k, d);
    }
    depths.values().copied().max().unwrap_or(0)
}

/// `metaxy describe features|graph`.
pub async fn describe(ctx: &Ctx, what: &DescribeWhat) -> CliResult {
    let g = ctx.graph().await?;
    match what {
        DescribeWhat::Features { features } => {
            let selection = crate::cli::Selection {
                features: features.clone(),
                all_features: features.is_empty(),
            };
            let keys = crate::context::select(&g, &selection, true)?;
            let mut out = Vec::new();
            for k in &keys {
                let spec = g.spec(k)?;
                let mut v = feature_json(&g, k, true)?;
                v["description"] = json!(spec.description);
                v["id_columns"] = json!(spec.id_columns);
                v["dependencies"] =
                    json!(spec.deps.iter().map(|d| d.to_json()).collect::<Vec<_>>());
                out.push(v);
            }
            if ctx.json() {
                return output::json(&json!({"features": out}));
            }
            for v in out {
                println!(
                    "{}  (version {})",
                    v["key"].as_str().unwrap_or_default(),
                    v["version"].as_str().unwrap_or_default()
                );
                if let Some(d) = v["description"].as_str() {
                    println!("  {d}");
                }
                println!(
                    "  ids: {}",
                    v["id_columns"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
                for f in v["fields"].as_array().into_iter().flatten() {
                    let deps = f["deps"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    println!(
                        "  field {} (code {}, version {}){}",
                        f["key"].as_str().unwrap_or_default(),
                        f["code_version"].as_str().unwrap_or_default(),
                        f["version"].as_str().unwrap_or_default(),
                        if deps.is_empty() {
                            String::new()
                        } else {
                            format!(" <- {deps}")
                        }
                    );
                }
                println!();
            }
            Ok(())
        }
        DescribeWhat::Graph => {
            let roots: Vec<String> = g
                .topological_order()
                .iter()
                .filter(|k| g.spec(k).map(|s| s.is_root()).unwrap_or(false))
                .map(|k| k.to_string())
                .collect();
            let leaves: Vec<String> = g
                .topological_order()
                .iter()
                .filter(|k| !g.specs().any(|s| s.deps.iter().any(|d| &d.feature == *k)))
                .map(|k| k.to_string())
                .collect();
            let v = json!({
                "project": g.project(),
                "project_version": g.project_version(),
                "feature_count": g.len(),
                "depth": depth(&g),
                "roots": roots,
                "leaves": leaves,
            });
            if ctx.json() {
                return output::json(&v);
            }
            println!(
                "project {}: {} features, depth {}",
                g.project().unwrap_or("(none)"),
                g.len(),
                depth(&g)
            );
            println!("project version {}", g.project_version());
            println!("roots:  {}", roots.join(", "));
            println!("leaves: {}", leaves.join(", "));
            Ok(())
        }
    }
}

/// `metaxy graph render`.
pub async fn graph(ctx: &Ctx, action: &GraphAction) -> CliResult {
    let GraphAction::Render { as_, show_fields } = action;
    let g = ctx.graph().await?;
    let id = |k: &metaxy::FeatureKey| k.table_name();
    match as_ {
        RenderFormat::Terminal => {
            for k in g.topological_order() {
                let spec = g.spec(k)?;
                let deps: Vec<String> = spec.deps.iter().map(|d| d.feature.to_string()).collect();
                println!(
                    "{k} [{}]{}",
                    g.feature_version(k)?,
                    if deps.is_empty() {
                        " (root)".to_string()
                    } else {
                        format!(" <- {}", deps.join(", "))
                    }
                );
                if *show_fields {
                    for (f, parents) in spec.fields.iter().zip(&g.plan(k)?.field_parents) {
                        let p: Vec<&str> = parents.iter().map(|p| p.fq_string.as_str()).collect();
                        println!(
                            "    .{} v{}{}",
                            f.key,
                            g.field_version(k, &f.key)?,
                            if p.is_empty() {
                                String::new()
                            } else {
                                format!(" <- {}", p.join(", "))
                            }
                        );
                    }
                }
            }
        }
        RenderFormat::Mermaid => {
            println!("flowchart TB");
            for k in g.topological_order() {
                let spec = g.spec(k)?;
                let label = if *show_fields {
                    format!(
                        "{k}<br/>{}",
                        spec.fields
                            .iter()
                            .map(|f| f.key.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    k.to_string()
                };
                println!("    {}[\"{}\"]", id(k), label.replace('"', "'"));
            }
            for k in g.topological_order() {
                for d in &g.spec(k)?.deps {
                    println!("    {} --> {}", id(&d.feature), id(k));
                }
            }
        }
        RenderFormat::Graphviz => {
            println!("digraph metaxy {{");
            println!("    rankdir=TB;");
            for k in g.topological_order() {
                let spec = g.spec(k)?;
                let label = if *show_fields {
                    format!(
                        "{k}\\n{}",
                        spec.fields
                            .iter()
                            .map(|f| f.key.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    k.to_string()
                };
                println!(
                    "    \"{}\" [shape=box, label=\"{}\"];",
                    id(k),
                    label.replace('"', "\\\"")
                );
            }
            for k in g.topological_order() {
                for d in &g.spec(k)?.deps {
                    println!("    \"{}\" -> \"{}\";", id(&d.feature), id(k));
                }
            }
            println!("}}");
        }
    }
    Ok(())
}
