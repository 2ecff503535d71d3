//! Metaxy's spec JSON form: rendering (declaration order, as `model_dump(mode="json")`) and
//! lenient parsing (the coercions Metaxy's models accept), with errors that name the path.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::*;
use crate::canonical_json;
use crate::hash::DefinitionHasher;

impl FeatureSpec {
    /// The spec as Metaxy dumps it (keys in declaration order).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("key".into(), json!(self.key.to_string()));
        m.insert("id_columns".into(), json!(self.id_columns));
        m.insert(
            "deps".into(),
            Value::Array(self.deps.iter().map(FeatureDep::to_json).collect()),
        );
        m.insert(
            "fields".into(),
            Value::Array(self.fields.iter().map(FieldSpec::to_json).collect()),
        );
        m.insert("metadata".into(), Value::Object(self.metadata.clone()));
        m.insert(
            "description".into(),
            self.description
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        Value::Object(m)
    }

    /// `json.dumps(spec)` as Metaxy writes it to `metaxy_system__feature_versions`.
    pub fn to_json_string(&self) -> String {
        canonical_json::to_python_json(&self.to_json())
    }

    /// The feature spec version: sha256 of the sorted Python JSON dump, truncated.
    pub fn spec_version(&self, truncation: Option<usize>) -> String {
        let mut h = DefinitionHasher::new();
        h.update(&canonical_json::to_python_json_sorted(&self.to_json()));
        h.finish(truncation)
    }

    /// Parses a spec from Metaxy's JSON form and validates it.
    pub fn from_json(value: &Value) -> Result<Self> {
        let spec = parse_spec(value)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses a spec from a JSON string.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::spec(None, format!("not valid JSON: {e}")))?;
        Self::from_json(&value)
    }
}

impl Serialize for FeatureSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for FeatureSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        FeatureSpec::from_json(&value).map_err(serde::de::Error::custom)
    }
}

impl FieldSpec {
    /// The field as Metaxy dumps it.
    pub fn to_json(&self) -> Value {
        json!({
            "key": self.key.to_string(),
            "code_version": self.code_version,
            "deps": self.deps.to_json(),
        })
    }
}

impl FieldDeps {
    fn to_json(&self) -> Value {
        match self {
            FieldDeps::Auto => json!([]),
            FieldDeps::All => json!(ALL_DEP_MARKER),
            FieldDeps::Explicit(deps) => Value::Array(
                deps.iter()
                    .map(|d| {
                        json!({
                            "feature": d.feature.to_string(),
                            "fields": match &d.fields {
                                FieldSelection::All => json!(ALL_DEP_MARKER),
                                FieldSelection::Keys(keys) => {
                                    json!(keys.iter().map(|k| k.to_string()).collect::<Vec<_>>())
                                }
                            },
                        })
                    })
                    .collect(),
            ),
        }
    }
}

impl FeatureDep {
    /// The dependency as Metaxy dumps it (note `sql_filters`).
    pub fn to_json(&self) -> Value {
        let rename = match &self.rename {
            None => Value::Null,
            Some(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(o, n)| (o.clone(), Value::String(n.clone())))
                    .collect(),
            ),
        };
        json!({
            "feature": self.feature.to_string(),
            "select": self.select,
            "rename": rename,
            "fields_mapping": {"mapping": self.fields_mapping.to_json()},
            "sql_filters": self.filters,
            "lineage": {"relationship": self.lineage.to_json()},
            "optional": self.optional,
        })
    }
}

impl FieldsMapping {
    fn to_json(&self) -> Value {
        match self {
            FieldsMapping::Default {
                match_suffix,
                exclude_fields,
            } => json!({
                "type": "default",
                "match_suffix": match_suffix,
                "exclude_fields": exclude_fields.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            }),
            FieldsMapping::Specific { mapping } => {
                let m: Map<String, Value> = mapping
                    .iter()
                    .map(|(down, ups)| {
                        let mut ups = ups.clone();
                        ups.sort();
                        (
                            down.to_string(),
                            Value::Array(ups.iter().map(|u| json!(u.parts())).collect()),
                        )
                    })
                    .collect();
                json!({"type": "specific", "mapping": m})
            }
            FieldsMapping::All => json!({"type": "all"}),
            FieldsMapping::None => json!({"type": "none"}),
        }
    }
}

impl Lineage {
    fn to_json(&self) -> Value {
        match self {
            Lineage::Identity => json!({"type": "1:1"}),
            Lineage::Aggregation { on } => json!({"type": "N:1", "on": on}),
            Lineage::Expansion {
                on,
                id_generation_pattern,
            } => json!({"type": "1:N", "on": on, "id_generation_pattern": id_generation_pattern}),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// parsing

struct Ctx<'a> {
    feature: Option<&'a str>,
    path: String,
}

impl<'a> Ctx<'a> {
    fn at(&self, segment: &str) -> Ctx<'a> {
        let path = if segment.is_empty() {
            self.path.clone()
        } else if self.path.is_empty() {
            segment.to_string()
        } else if segment.starts_with('[') {
            format!("{}{segment}", self.path)
        } else {
            format!("{}.{segment}", self.path)
        };
        Ctx {
            feature: self.feature,
            path,
        }
    }

    fn err(&self, message: impl std::fmt::Display) -> Error {
        let message = if self.path.is_empty() {
            message.to_string()
        } else {
            format!("`{}`: {message}", self.path)
        };
        Error::InvalidSpec {
            feature: self.feature.map(str::to_string),
            message,
        }
    }
}

fn object<'v>(v: &'v Value, ctx: &Ctx) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ctx.err(format!("expected an object, got {}", kind(v))))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_keys(map: &Map<String, Value>, allowed: &[&str], ctx: &Ctx) -> Result<()> {
    for k in map.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(ctx.err(format!(
                "unknown key `{k}`; allowed keys are {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn string(v: &Value, ctx: &Ctx) -> Result<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| ctx.err(format!("expected a string, got {}", kind(v))))
}

fn strings(v: &Value, ctx: &Ctx) -> Result<Vec<String>> {
    let arr = v
        .as_array()
        .ok_or_else(|| ctx.err(format!("expected a list of strings, got {}", kind(v))))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| string(x, &ctx.at(&format!("[{i}]"))))
        .collect()
}

fn opt_strings(v: Option<&Value>, ctx: &Ctx) -> Result<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => strings(v, ctx).map(Some),
    }
}

fn feature_key(v: &Value, ctx: &Ctx) -> Result<FeatureKey> {
    FeatureKey::deserialize(v).map_err(|e| ctx.err(e))
}

fn field_key(v: &Value, ctx: &Ctx) -> Result<FieldKey> {
    FieldKey::deserialize(v).map_err(|e| ctx.err(e))
}

fn parse_spec(v: &Value) -> Result<FeatureSpec> {
    let root = Ctx {
        feature: None,
        path: String::new(),
    };
    let m = object(v, &root)?;
    let key_value = m
        .get("key")
        .ok_or_else(|| root.err("missing `key` (the feature key, e.g. \"video/raw\")"))?;
    let key = feature_key(key_value, &root.at("key"))?;
    let key_str = key.to_string();
    let ctx = Ctx {
        feature: Some(&key_str),
        path: String::new(),
    };
    check_keys(
        m,
        &[
            "key",
            "id_columns",
            "deps",
            "fields",
            "metadata",
            "description",
        ],
        &ctx,
    )?;
    let id_columns = match m.get("id_columns") {
        Some(v) => strings(v, &ctx.at("id_columns"))?,
        None => return Err(ctx.err("missing `id_columns` (the columns that identify a sample)")),
    };
    let deps = match m.get("deps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, d)| parse_dep(d, &ctx.at(&format!("deps[{i}]"))))
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(ctx
                .at("deps")
                .err(format!("expected a list, got {}", kind(other))));
        }
    };
    let fields = match m.get("fields") {
        None | Some(Value::Null) => vec![FieldSpec::new(FieldKey::default_field())],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, f)| parse_field(f, &ctx.at(&format!("fields[{i}]"))))
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(ctx
                .at("fields")
                .err(format!("expected a list, got {}", kind(other))));
        }
    };
    let metadata = match m.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(other) => {
            return Err(ctx
                .at("metadata")
                .err(format!("expected an object, got {}", kind(other))));
        }
    };
    let description = match m.get("description") {
        None | Some(Value::Null) => None,
        Some(v) => Some(string(v, &ctx.at("description"))?),
    };
    Ok(FeatureSpec {
        key,
        id_columns,
        deps,
        fields,
        metadata,
        description,
    })
}

fn parse_field(v: &Value, ctx: &Ctx) -> Result<FieldSpec> {
    if let Value::String(_) | Value::Array(_) = v {
        return Ok(FieldSpec::new(field_key(v, ctx)?));
    }
    let m = object(v, ctx)?;
    check_keys(m, &["key", "code_version", "deps"], ctx)?;
    let key = match m.get("key") {
        None | Some(Value::Null) => FieldKey::default_field(),
        Some(k) => field_key(k, &ctx.at("key"))?,
    };
    let code_version = match m.get("code_version") {
        None | Some(Value::Null) => DEFAULT_CODE_VERSION.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(c) => string(c, &ctx.at("code_version"))?,
    };
    let deps = match m.get("deps") {
        None | Some(Value::Null) => FieldDeps::Auto,
        Some(Value::String(s)) if s == ALL_DEP_MARKER => FieldDeps::All,
        Some(Value::Array(items)) if items.is_empty() => FieldDeps::Auto,
        Some(Value::Array(items)) => FieldDeps::Explicit(
            items
                .iter()
                .enumerate()
                .map(|(i, d)| parse_field_dep(d, &ctx.at(&format!("deps[{i}]"))))
                .collect::<Result<_>>()?,
        ),
        Some(other) => {
            return Err(ctx.at("deps").err(format!(
                "expected a list of field dependencies or \"{ALL_DEP_MARKER}\", got {}",
                kind(other)
            )));
        }
    };
    Ok(FieldSpec {
        key,
        code_version,
        deps,
    })
}

fn parse_field_dep(v: &Value, ctx: &Ctx) -> Result<FieldDep> {
    let m = object(v, ctx)?;
    check_keys(m, &["feature", "fields"], ctx)?;
    let feature = match m.get("feature") {
        Some(f) => feature_key(f, &ctx.at("feature"))?,
        None => return Err(ctx.err("missing `feature`")),
    };
    let fields = match m.get("fields") {
        None | Some(Value::Null) => FieldSelection::All,
        Some(Value::String(s)) if s == ALL_DEP_MARKER => FieldSelection::All,
        Some(Value::Array(items)) => FieldSelection::Keys(
            items
                .iter()
                .enumerate()
                .map(|(i, k)| field_key(k, &ctx.at(&format!("fields[{i}]"))))
                .collect::<Result<_>>()?,
        ),
        Some(other) => {
            return Err(ctx.at("fields").err(format!(
                "expected a list of field keys or \"{ALL_DEP_MARKER}\", got {}",
                kind(other)
            )));
        }
    };
    Ok(FieldDep { feature, fields })
}

fn parse_dep(v: &Value, ctx: &Ctx) -> Result<FeatureDep> {
    if let Value::String(_) | Value::Array(_) = v {
        return Ok(FeatureDep::new(feature_key(v, ctx)?));
    }
    let m = object(v, ctx)?;
    check_keys(
        m,
        &[
            "feature",
            "select",
            "rename",
            "fields_mapping",
            "sql_filters",
            "filters",
            "lineage",
            "optional",
        ],
        ctx,
    )?;
    let feature = match m.get("feature") {
        Some(f) => feature_key(f, &ctx.at("feature"))?,
        None => return Err(ctx.err("missing `feature` (the upstream feature key)")),
    };
    let select = opt_strings(m.get("select"), &ctx.at("select"))?;
    let rename = match m.get("rename") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), string(v, &ctx.at(&format!("rename.{k}")))?)))
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(other) => {
            return Err(ctx.at("rename").err(format!(
                "expected an object {{old: new}}, got {}",
                kind(other)
            )));
        }
    };
    let filters_value = m.get("sql_filters").or_else(|| m.get("filters"));
    let filters = opt_strings(filters_value, &ctx.at("sql_filters"))?;
    let fields_mapping = match m.get("fields_mapping") {
        None | Some(Value::Null) => FieldsMapping::default(),
        Some(fm) => parse_fields_mapping(fm, &ctx.at("fields_mapping"))?,
    };
    let lineage = match m.get("lineage") {
        None | Some(Value::Null) => Lineage::Identity,
        Some(l) => parse_lineage(l, &ctx.at("lineage"))?,
    };
    let optional = match m.get("optional") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ctx
                .at("optional")
                .err(format!("expected a boolean, got {}", kind(other))));
        }
    };
    Ok(FeatureDep {
        feature,
        select,
        rename,
        fields_mapping,
        filters,
        lineage,
        optional,
    })
}

fn parse_fields_mapping(v: &Value, ctx: &Ctx) -> Result<FieldsMapping> {
    let outer = object(v, ctx)?;
    // Metaxy wraps the mapping: {"mapping": {"type": ...}}; accept the bare form too.
    let (inner, ctx) = match outer.get("mapping") {
        Some(inner @ Value::Object(o)) if o.contains_key("type") => {
            check_keys(outer, &["mapping"], ctx)?;
            (inner, ctx.at("mapping"))
        }
        _ => (v, ctx.at("")),
    };
    let m = object(inner, &ctx)?;
    let ty = match m.get("type") {
        Some(t) => string(t, &ctx.at("type"))?,
        None => return Err(ctx.err("missing `type` (default, specific, all or none)")),
    };
    match ty.as_str() {
        "default" => {
            check_keys(m, &["type", "match_suffix", "exclude_fields"], &ctx)?;
            let match_suffix = match m.get("match_suffix") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(ctx
                        .at("match_suffix")
                        .err(format!("expected a boolean, got {}", kind(other))));
                }
            };
            let exclude_fields = match m.get("exclude_fields") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, k)| field_key(k, &ctx.at(&format!("exclude_fields[{i}]"))))
                    .collect::<Result<_>>()?,
                Some(other) => {
                    return Err(ctx
                        .at("exclude_fields")
                        .err(format!("expected a list, got {}", kind(other))));
                }
            };
            Ok(FieldsMapping::Default {
                match_suffix,
                exclude_fields,
            })
        }
        "specific" => {
            check_keys(m, &["type", "mapping"], &ctx)?;
            let table = match m.get("mapping") {
                Some(Value::Object(o)) => o,
                _ => {
                    return Err(ctx
                        .at("mapping")
                        .err("expected an object {downstream field: [upstream fields]}"));
                }
            };
            let mapping = table
                .iter()
                .map(|(down, ups)| {
                    let c = ctx.at(&format!("mapping.{down}"));
                    let down = FieldKey::new(down).map_err(|e| c.err(e))?;
                    let ups = ups
                        .as_array()
                        .ok_or_else(|| c.err("expected a list of field keys"))?
                        .iter()
                        .map(|u| field_key(u, &c))
                        .collect::<Result<Vec<_>>>()?;
                    Ok((down, ups))
                })
                .collect::<Result<_>>()?;
            Ok(FieldsMapping::Specific { mapping })
        }
        "all" => {
            check_keys(m, &["type"], &ctx)?;
            Ok(FieldsMapping::All)
        }
        "none" => {
            check_keys(m, &["type"], &ctx)?;
            Ok(FieldsMapping::None)
        }
        other => Err(ctx.at("type").err(format!(
            "unknown fields mapping type {other:?}; use default, specific, all or none"
        ))),
    }
}

fn parse_lineage(v: &Value, ctx: &Ctx) -> Result<Lineage> {
    let outer = object(v, ctx)?;
    let (rel, ctx) = match outer.get("relationship") {
        Some(r) => {
            check_keys(outer, &["relationship"], ctx)?;
            (r, ctx.at("relationship"))
        }
        None => (v, ctx.at("")),
    };
    let m = object(rel, &ctx)?;
    let ty = match m.get("type") {
        Some(t) => string(t, &ctx.at("type"))?,
        None => return Err(ctx.err("missing `type` (1:1, N:1 or 1:N)")),
    };
    match ty.as_str() {
        "1:1" => {
            check_keys(m, &["type"], &ctx)?;
            Ok(Lineage::Identity)
        }
        "N:1" => {
            check_keys(m, &["type", "on"], &ctx)?;
            Ok(Lineage::Aggregation {
                on: opt_strings(m.get("on"), &ctx.at("on"))?,
            })
        }
        "1:N" => {
            check_keys(m, &["type", "on", "id_generation_pattern"], &ctx)?;
            let on = opt_strings(m.get("on"), &ctx.at("on"))?
                .ok_or_else(|| ctx.err("a 1:N lineage needs `on` (the parent key columns)"))?;
            let id_generation_pattern = match m.get("id_generation_pattern") {
                None | Some(Value::Null) => None,
                Some(p) => Some(string(p, &ctx.at("id_generation_pattern"))?),
            };
            Ok(Lineage::Expansion {
                on,
                id_generation_pattern,
            })
        }
        other => Err(ctx.at("type").err(format!(
            "unknown lineage type {other:?}; use \"1:1\", \"N:1\" or \"1:N\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_dump_form() {
        let text = r#"{"key": "people/adults", "id_columns": ["org", "person"], "deps": [{"feature": "people/raw", "select": ["years", "name"], "rename": {"age": "years"}, "fields_mapping": {"mapping": {"type": "default", "match_suffix": false, "exclude_fields": []}}, "sql_filters": ["years >= 18"], "lineage": {"relationship": {"type": "1:1"}}, "optional": false}], "fields": [{"key": "profile", "code_version": "2", "deps": []}], "metadata": {}, "description": null}"#;
        let spec = FeatureSpec::from_json_str(text).unwrap();
        assert_eq!(spec.to_json_string(), text);
    }

    #[test]
    fn spec_version_examples_from_the_reference() {
        let spec = FeatureSpec::from_json_str(
            r#"{"key": "test/feature", "id_columns": ["sample_uid"], "fields": [{"key": "default", "code_version": "1"}]}"#,
        )
        .unwrap();
        assert_eq!(spec.spec_version(Some(8)), "a5eea973");
        let complex = FeatureSpec::from_json_str(
            r#"{"key": "complex/feature", "id_columns": ["sample_uid"],
                "deps": [{"feature": "upstream/one", "rename": {"col1": "renamed_col1"}, "select": ["renamed_col1", "col2"]},
                         {"feature": "upstream/two"}],
                "fields": [{"key": "field1", "code_version": "1"}, {"key": "field2", "code_version": "2"}]}"#,
        )
        .unwrap();
        assert_eq!(complex.spec_version(Some(8)), "6d18d012");
    }

    #[test]
    fn coercions_and_all_forms() {
        let spec = FeatureSpec::from_json_str(
            r#"{"key": ["a", "b"], "id_columns": ["id"], "deps": ["up/x", {"feature": {"root": ["up", "y"]},
               "fields_mapping": {"mapping": {"type": "specific", "mapping": {"f": [["k"], "j"]}}},
               "lineage": {"relationship": {"type": "N:1", "on": null}}, "optional": true}],
               "fields": ["f", {"key": "g", "deps": "__METAXY_ALL_DEP__"},
                         {"key": "h", "deps": [{"feature": "up/x", "fields": ["a/b"]}, {"feature": "up/y"}]}]}"#,
        )
        .unwrap();
        assert_eq!(spec.key.to_string(), "a/b");
        assert_eq!(spec.deps.len(), 2);
        assert!(spec.deps[1].optional);
        assert_eq!(spec.deps[1].lineage, Lineage::Aggregation { on: None });
        assert_eq!(spec.fields[0].code_version, DEFAULT_CODE_VERSION);
        assert_eq!(spec.fields[1].deps, FieldDeps::All);
        match &spec.fields[2].deps {
            FieldDeps::Explicit(d) => {
                assert_eq!(d[1].fields, FieldSelection::All);
            }
            other => panic!("{other:?}"),
        }
        // specific mapping values are dumped as part lists, sorted
        let dumped = spec.deps[1].to_json();
        assert_eq!(
            dumped["fields_mapping"]["mapping"]["mapping"]["f"],
            json!([["j"], ["k"]])
        );
        // and parse back to the same spec
        let again = FeatureSpec::from_json(&spec.to_json()).unwrap();
        assert_eq!(again.to_json(), spec.to_json());
    }

    #[test]
    fn errors_name_the_path() {
        let e = FeatureSpec::from_json_str(
            r#"{"key": "a", "id_columns": ["id"], "deps": [{"feature": "b", "lineage": {"relationship": {"type": "2:2"}}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("deps[0].lineage.relationship.type"), "{e}");
        assert!(e.contains("unknown lineage type"), "{e}");
        let e = FeatureSpec::from_json_str(r#"{"key": "a", "id_columns": [], "fields": ["x"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("id_columns must be non-empty"), "{e}");
        let e = FeatureSpec::from_json_str(r#"{"key": "a", "id_columns": ["id"], "colour": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `colour`"), "{e}");
        let e = FeatureSpec::from_json_str(
            r#"{"key": "a", "id_columns": ["id"], "fields": ["x", "x"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Duplicate field key"), "{e}");
        let e = FeatureSpec::from_json_str(
            r#"{"key": "a", "id_columns": ["id"], "fields": ["a/b", "a_b"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("struct key `a_b`"), "{e}");
        let e = FeatureSpec::from_json_str(
            r#"{"key": "a", "id_columns": ["id"], "deps": [{"feature": "b", "rename": {"x": "y"}, "select": ["x"]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("post-rename names"), "{e}");
    }
}
