//! A builder API for defining features in Rust.
//!
//! Keys are given as strings and validated when [`FeatureSpecBuilder::build`] runs, so a whole
//! definition reads top to bottom and fails in one place:
//!
//! ```
//! use metaxy_core::spec::{FeatureSpec, Dep, Field};
//!
//! let crop = FeatureSpec::builder("example/crop")
//!     .id_columns(["sample_uid"])
//!     .dep(Dep::on("example/video"))
//!     .field(Field::new("audio").code_version("1"))
//!     .field(Field::new("frames").code_version("1"))
//!     .build()?;
//! let faces = FeatureSpec::builder("example/face_detection")
//!     .id_columns(["sample_uid"])
//!     .dep(Dep::on("example/crop"))
//!     .field(Field::new("faces").code_version("1").depends_on("example/crop", ["frames"]))
//!     .build()?;
//! assert_eq!(faces.deps[0].feature, crop.key);
//! # Ok::<(), metaxy_core::Error>(())
//! ```

use super::*;

/// Builds a [`FeatureSpec`]; see the module docs.
#[derive(Clone, Debug)]
#[must_use]
pub struct FeatureSpecBuilder {
    key: String,
    id_columns: Vec<String>,
    deps: Vec<Dep>,
    fields: Vec<Field>,
    metadata: serde_json::Map<String, serde_json::Value>,
    description: Option<String>,
}

impl FeatureSpecBuilder {
    pub(super) fn new(key: String) -> Self {
        FeatureSpecBuilder {
            key,
            id_columns: Vec::new(),
            deps: Vec::new(),
            fields: Vec::new(),
            metadata: serde_json::Map::new(),
            description: None,
        }
    }

    /// Sets the id columns.
    pub fn id_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.id_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a dependency.
    pub fn dep(mut self, dep: Dep) -> Self {
        self.deps.push(dep);
        self
    }

    /// Adds a field (without any field, the feature gets the single field `default`).
    pub fn field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }

    /// Adds a metadata entry (does not change the feature version).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Validates keys and options and returns the spec.
    pub fn build(self) -> Result<FeatureSpec> {
        let key = FeatureKey::new(&self.key)?;
        let deps = self
            .deps
            .into_iter()
            .map(Dep::build)
            .collect::<Result<Vec<_>>>()?;
        let fields = if self.fields.is_empty() {
            vec![FieldSpec::new(FieldKey::default_field())]
        } else {
            self.fields
                .into_iter()
                .map(Field::build)
                .collect::<Result<Vec<_>>>()?
        };
        let spec = FeatureSpec {
            key,
            id_columns: self.id_columns,
            deps,
            fields,
            metadata: self.metadata,
            description: self.description,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// Builds a [`FieldSpec`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Field {
    key: String,
    code_version: String,
    deps: FieldDepsBuilder,
}

#[derive(Clone, Debug)]
enum FieldDepsBuilder {
    Auto,
    All,
    Explicit(Vec<(String, Option<Vec<String>>)>),
}

impl Field {
    /// A field with automatic dependencies and the default code version.
    pub fn new(key: impl Into<String>) -> Self {
        Field {
            key: key.into(),
            code_version: DEFAULT_CODE_VERSION.to_string(),
            deps: FieldDepsBuilder::Auto,
        }
    }

    /// Sets the code version; bump it when the code producing this field changes.
    pub fn code_version(mut self, version: impl Into<String>) -> Self {
        self.code_version = version.into();
        self
    }

    /// Depends on exactly these fields of `feature` (disables automatic mapping).
    pub fn depends_on<I, S>(mut self, feature: impl Into<String>, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let entry = (
            feature.into(),
            Some(fields.into_iter().map(Into::into).collect()),
        );
        match &mut self.deps {
            FieldDepsBuilder::Explicit(list) => list.push(entry),
            _ => self.deps = FieldDepsBuilder::Explicit(vec![entry]),
        }
        self
    }

    /// Depends on every field of `feature` (disables automatic mapping).
    pub fn depends_on_all_of(mut self, feature: impl Into<String>) -> Self {
        let entry = (feature.into(), None);
        match &mut self.deps {
            FieldDepsBuilder::Explicit(list) => list.push(entry),
            _ => self.deps = FieldDepsBuilder::Explicit(vec![entry]),
        }
        self
    }

    /// Depends on every field of every upstream feature.
    pub fn depends_on_everything(mut self) -> Self {
        self.deps = FieldDepsBuilder::All;
        self
    }

    fn build(self) -> Result<FieldSpec> {
        let deps = match self.deps {
            FieldDepsBuilder::Auto => FieldDeps::Auto,
            FieldDepsBuilder::All => FieldDeps::All,
            FieldDepsBuilder::Explicit(list) => FieldDeps::Explicit(
                list.into_iter()
                    .map(|(feature, fields)| {
                        Ok(FieldDep {
                            feature: FeatureKey::new(&feature)?,
                            fields: match fields {
                                None => FieldSelection::All,
                                Some(keys) => FieldSelection::Keys(
                                    keys.iter()
                                        .map(|k| FieldKey::new(k))
                                        .collect::<Result<_>>()?,
                                ),
                            },
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
        };
        Ok(FieldSpec {
            key: FieldKey::new(&self.key)?,
            code_version: self.code_version,
            deps,
        })
    }
}

/// Builds a [`FeatureDep`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Dep {
    feature: String,
    select: Option<Vec<String>>,
    rename: Vec<(String, String)>,
    mapping: FieldsMapping,
    filters: Vec<String>,
    lineage: Lineage,
    optional: bool,
}

impl Dep {
    /// A 1:1, required dependency on `feature` with the default field mapping.
    pub fn on(feature: impl Into<String>) -> Self {
        Dep {
            feature: feature.into(),
            select: None,
            rename: Vec::new(),
            mapping: FieldsMapping::default(),
            filters: Vec::new(),
            lineage: Lineage::Identity,
            optional: false,
        }
    }

    /// Keeps only these (post-rename) upstream columns, besides ids and versions.
    pub fn select<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Renames an upstream column.
    pub fn rename(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.rename.push((from.into(), to.into()));
        self
    }

    /// Adds an SQL filter on the (renamed) upstream rows.
    pub fn filter(mut self, sql: impl Into<String>) -> Self {
        self.filters.push(sql.into());
        self
    }

    /// Sets the field mapping.
    pub fn fields_mapping(mut self, mapping: FieldsMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Marks the dependency optional (missing upstream rows hash as empty strings).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// N:1: many upstream rows per downstream sample, grouped by `on`.
    pub fn aggregate_on<I, S>(mut self, on: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lineage = Lineage::Aggregation {
            on: Some(on.into_iter().map(Into::into).collect()),
        };
        self
    }

    /// 1:N: one upstream row per many downstream samples; `on` are the parent key columns.
    pub fn expand_on<I, S>(mut self, on: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lineage = Lineage::Expansion {
            on: on.into_iter().map(Into::into).collect(),
            id_generation_pattern: None,
        };
        self
    }

    fn build(self) -> Result<FeatureDep> {
        Ok(FeatureDep {
            feature: FeatureKey::new(&self.feature)?,
            select: self.select,
            rename: (!self.rename.is_empty()).then_some(self.rename),
            fields_mapping: self.mapping,
            filters: (!self.filters.is_empty()).then_some(self.filters),
            lineage: self.lineage,
            optional: self.optional,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_matches_the_json_form() {
        let built = FeatureSpec::builder("people/adults")
            .id_columns(["org", "person"])
            .dep(
                Dep::on("people/raw")
                    .rename("age", "years")
                    .select(["years", "name"])
                    .filter("years >= 18"),
            )
            .field(Field::new("profile").code_version("2"))
            .build()
            .unwrap();
        let parsed = FeatureSpec::from_json_str(
            r#"{"key": "people/adults", "id_columns": ["org", "person"], "deps": [{"feature": "people/raw", "select": ["years", "name"], "rename": {"age": "years"}, "sql_filters": ["years >= 18"]}], "fields": [{"key": "profile", "code_version": "2"}]}"#,
        )
        .unwrap();
        assert_eq!(built, parsed);
    }

    #[test]
    fn builder_reports_bad_keys_and_filters() {
        assert!(
            FeatureSpec::builder("Bad")
                .id_columns(["id"])
                .build()
                .is_err()
        );
        let e = FeatureSpec::builder("a")
            .id_columns(["id"])
            .dep(Dep::on("b").filter("age >>> 3"))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("cannot parse filter"), "{e}");
        let spec = FeatureSpec::builder("a")
            .id_columns(["id"])
            .build()
            .unwrap();
        assert_eq!(spec.fields[0].key, FieldKey::default_field());
    }
}
