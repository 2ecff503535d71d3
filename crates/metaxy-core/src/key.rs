//! Feature and field keys: hierarchical, validated identifiers.
//!
//! A key is a non-empty sequence of lowercase parts (`video/raw` → `["video", "raw"]`). Its
//! string forms feed hashes and table names, so they follow Metaxy exactly:
//!
//! | form | example for `video/raw-v2` |
//! |---|---|
//! | [`Display`](std::fmt::Display) / JSON | `video/raw-v2` |
//! | [`FeatureKey::table_name`] | `video__raw_v2` |
//! | `to_struct_key` | `video_raw-v2` |
//! | [`FeatureKey::column_suffix`] | `video_raw-v2` (used as `metaxy_provenance__<suffix>`) |

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};

/// The first key part reserved for metaxy's own system tables.
pub const SYSTEM_NAMESPACE: &str = "metaxy-system";

fn validate_part(whole: &str, part: &str, first: bool) -> Result<()> {
    let fail = |reason: String| {
        Err(Error::InvalidKey {
            key: whole.to_string(),
            reason,
        })
    };
    if part.is_empty() {
        return fail(
            "key parts must not be empty (check for a leading, trailing or doubled `/`)".into(),
        );
    }
    if part.contains('/') {
        return fail(format!("part {part:?} must not contain `/`"));
    }
    if part.contains("__") {
        return fail(format!(
            "part {part:?} must not contain a double underscore `__` (it separates parts in table names)"
        ));
    }
    let mut chars = part.chars();
    let head = chars.next().unwrap_or('_');
    let head_ok = if first {
        head.is_ascii_lowercase() || head == '_'
    } else {
        head.is_ascii_lowercase() || head.is_ascii_digit() || head == '_'
    };
    if !head_ok {
        let allowed = if first {
            "a lowercase letter or `_`"
        } else {
            "a lowercase letter, a digit or `_`"
        };
        return fail(format!("part {part:?} must start with {allowed}"));
    }
    if let Some(bad) =
        chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return fail(format!(
            "part {part:?} contains {bad:?}; only lowercase ASCII letters, digits, `_` and `-` are allowed"
        ));
    }
    Ok(())
}

fn validate_parts(parts: &[String]) -> Result<String> {
    let joined = parts.join("/");
    if parts.is_empty() {
        return Err(Error::InvalidKey {
            key: joined,
            reason: "a key needs at least one part".into(),
        });
    }
    for (i, p) in parts.iter().enumerate() {
        validate_part(&joined, p, i == 0)?;
    }
    Ok(joined)
}

macro_rules! define_key {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name {
            parts: Vec<String>,
            joined: String,
        }

        impl $name {
            /// Parses and validates a `/`-separated key string.
            pub fn new(key: &str) -> Result<Self> {
                Self::from_parts(key.split('/').map(str::to_string).collect())
            }

            /// Builds a key from its parts, validating each.
            pub fn from_parts(parts: Vec<String>) -> Result<Self> {
                let joined = validate_parts(&parts)?;
                Ok(Self { parts, joined })
            }

            /// The parts of the key.
            pub fn parts(&self) -> &[String] {
                &self.parts
            }

            /// The `/`-joined string form (same as `Display`).
            pub fn as_str(&self) -> &str {
                &self.joined
            }

            /// Parts joined with `_`, hyphens kept: the key's name inside a struct column.
            pub fn to_struct_key(&self) -> String {
                self.parts.join("_")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.joined)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.joined)
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        /// Keys order by their part tuples, as in Metaxy.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.parts.cmp(&other.parts)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::new(&s)
            }
        }

        impl TryFrom<&String> for $name {
            type Error = Error;
            fn try_from(s: &String) -> Result<Self> {
                Self::new(s)
            }
        }

        impl TryFrom<&$name> for $name {
            type Error = Error;
            fn try_from(k: &$name) -> Result<Self> {
                Ok(k.clone())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.joined)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let parts = d.deserialize_any(PartsVisitor($what))?;
                $name::from_parts(parts).map_err(de::Error::custom)
            }
        }
    };
}

define_key!(
    /// Identifies a feature, e.g. `video/raw`. Its [`table_name`](FeatureKey::table_name) names
    /// the feature's table in every store.
    FeatureKey,
    "a feature key"
);

define_key!(
    /// Identifies a logical field of a feature (a part of the payload, like `audio` or
    /// `audio/french`), each with its own version.
    FieldKey,
    "a field key"
);

impl FeatureKey {
    /// The table name: parts with `-` replaced by `_`, joined with `__`.
    pub fn table_name(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.replace('-', "_"))
            .collect::<Vec<_>>()
            .join("__")
    }

    /// The suffix metaxy appends to an upstream's versioning columns: parts joined with `_`.
    pub fn column_suffix(&self) -> String {
        self.to_struct_key()
    }

    /// A key of metaxy's own system namespace (`metaxy-system/<name>`); `name` is one of the
    /// crate's literals, valid by construction.
    pub(crate) fn system(name: &str) -> Self {
        FeatureKey {
            parts: vec![SYSTEM_NAMESPACE.to_string(), name.to_string()],
            joined: format!("{SYSTEM_NAMESPACE}/{name}"),
        }
    }

    /// True for keys in the reserved `metaxy-system` namespace.
    pub fn is_system(&self) -> bool {
        self.parts.first().map(String::as_str) == Some(SYSTEM_NAMESPACE)
    }
}

impl FieldKey {
    /// The default field every feature has unless it declares its own.
    pub fn default_field() -> Self {
        FieldKey {
            parts: vec!["default".to_string()],
            joined: "default".to_string(),
        }
    }
}

/// Accepts a key in any of Metaxy's serialized forms: `"a/b"`, `["a", "b"]`,
/// `{"root": [...]}` or the legacy `{"parts": [...]}`.
struct PartsVisitor(&'static str);

impl<'de> Visitor<'de> for PartsVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as a string \"a/b\", a list of parts or {{\"root\": [...]}}",
            self.0
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(v.split('/').map(str::to_string).collect())
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut parts = Vec::new();
        while let Some(p) = seq.next_element::<String>()? {
            parts.push(p);
        }
        Ok(parts)
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut parts = None;
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                "root" | "parts" => parts = Some(map.next_value::<Vec<String>>()?),
                other => return Err(de::Error::unknown_field(other, &["root", "parts"])),
            }
        }
        parts.ok_or_else(|| de::Error::missing_field("root"))
    }
}

/// Anything that names a feature: a key, a key string (`"video/raw"`) or a spec.
pub trait IntoFeatureKey {
    /// Converts, validating strings.
    fn into_feature_key(self) -> Result<FeatureKey>;
}

impl IntoFeatureKey for FeatureKey {
    fn into_feature_key(self) -> Result<FeatureKey> {
        Ok(self)
    }
}

impl IntoFeatureKey for &FeatureKey {
    fn into_feature_key(self) -> Result<FeatureKey> {
        Ok(self.clone())
    }
}

impl IntoFeatureKey for &str {
    fn into_feature_key(self) -> Result<FeatureKey> {
        FeatureKey::new(self)
    }
}

impl IntoFeatureKey for String {
    fn into_feature_key(self) -> Result<FeatureKey> {
        FeatureKey::new(&self)
    }
}

impl IntoFeatureKey for &String {
    fn into_feature_key(self) -> Result<FeatureKey> {
        FeatureKey::new(self)
    }
}

impl IntoFeatureKey for &crate::spec::FeatureSpec {
    fn into_feature_key(self) -> Result<FeatureKey> {
        Ok(self.key.clone())
    }
}

/// A field of a specific feature, written `feature.field` (e.g. `example/video.audio`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FqFieldKey {
    /// The feature.
    pub feature: FeatureKey,
    /// The field of that feature.
    pub field: FieldKey,
}

impl FqFieldKey {
    /// Combines a feature and one of its fields.
    pub fn new(feature: FeatureKey, field: FieldKey) -> Self {
        Self { feature, field }
    }
}

impl fmt::Display for FqFieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.feature, self.field)
    }
}

/// FQ keys order by their string form `feature.field`, as in Metaxy.
impl Ord for FqFieldKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl PartialOrd for FqFieldKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_follow_metaxy() {
        let k = FeatureKey::new("video/raw-v2").unwrap();
        assert_eq!(k.to_string(), "video/raw-v2");
        assert_eq!(k.table_name(), "video__raw_v2");
        assert_eq!(k.to_struct_key(), "video_raw-v2");
        assert_eq!(k.column_suffix(), "video_raw-v2");
        let sys = FeatureKey::new("metaxy-system/feature_versions").unwrap();
        assert_eq!(sys.table_name(), "metaxy_system__feature_versions");
        assert!(sys.is_system());
        assert!(!k.is_system());
    }

    #[test]
    fn validation_rejects_what_metaxy_rejects() {
        for bad in [
            "", "a//b", "A", "a/B", "1abc", "-a", "a__b", "a/b c", "a/é", "a/",
        ] {
            assert!(FeatureKey::new(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in [
            "a",
            "_a",
            "a/1b",
            "a/_b",
            "metaxy-system",
            "a-b/c-d_e",
            "x/0",
        ] {
            assert!(FeatureKey::new(good).is_ok(), "{good:?} should be accepted");
        }
        let err = FeatureKey::new("Video").unwrap_err().to_string();
        assert!(err.contains("must start with a lowercase letter"), "{err}");
    }

    #[test]
    fn keys_order_by_parts_and_fq_keys_by_string() {
        let a = FeatureKey::new("a/b").unwrap();
        let b = FeatureKey::new("a-c").unwrap();
        // tuple order: ("a","b") < ("a-c",) because "a" < "a-c"
        assert!(a < b);
        let x = FqFieldKey::new(a.clone(), FieldKey::new("z").unwrap());
        let y = FqFieldKey::new(b, FieldKey::new("a").unwrap());
        // string order: "a/b.z" vs "a-c.a": '-' (0x2d) < '/' (0x2f)
        assert!(y < x);
    }

    #[test]
    fn serde_accepts_every_metaxy_form() {
        let s: FeatureKey = serde_json::from_str("\"a/b\"").unwrap();
        let l: FeatureKey = serde_json::from_str("[\"a\", \"b\"]").unwrap();
        let r: FeatureKey = serde_json::from_str("{\"root\": [\"a\", \"b\"]}").unwrap();
        let p: FeatureKey = serde_json::from_str("{\"parts\": [\"a\", \"b\"]}").unwrap();
        assert_eq!(s, l);
        assert_eq!(s, r);
        assert_eq!(s, p);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"a/b\"");
        assert!(serde_json::from_str::<FieldKey>("\"A\"").is_err());
    }
}
