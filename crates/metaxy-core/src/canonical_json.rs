//! JSON rendered exactly like Python's `json.dumps` — the bytes behind Metaxy's spec versions.
//!
//! Metaxy hashes `json.dumps(spec, sort_keys=True)` (separators `", "` and `": "`, ASCII-only
//! output with `\uXXXX` escapes, Python float `repr`) and stores `json.dumps(spec)` in
//! declaration order in its system table. Both are reproduced here. serde_json's own writer
//! cannot be configured to emit these bytes, so this small writer is hand-written.

use serde_json::{Map, Number, Value};

/// Renders `value` as `json.dumps(value, sort_keys=True)` would.
pub fn to_python_json_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, true, &mut out);
    out
}

/// Renders `value` as `json.dumps(value)` would (keys in their current order).
///
/// Needs a `serde_json::Value` built with insertion order preserved for objects to come out in
/// declaration order; with serde_json's default `BTreeMap` maps this equals the sorted form.
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, false, &mut out);
    out
}

fn write_value(value: &Value, sort: bool, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, sort, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, sort, out),
    }
}

fn write_object(map: &Map<String, Value>, sort: bool, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if sort {
        // Python sorts str keys by code point; UTF-8 byte order is the same order.
        entries.sort_by(|a, b| a.0.cmp(b.0));
    }
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(k, out);
        out.push_str(": ");
        write_value(v, sort, out);
    }
    out.push('}');
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(n: &Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&python_float_repr(f));
    } else {
        out.push_str(&n.to_string());
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, in fixed notation when the decimal
/// exponent is in `-4..16`, else in exponent notation with a sign and at least two digits.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e-5", "1e16", "-3.5e2".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // position of the decimal point relative to the digits
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_dump_matches_python() {
        let v = json!({"b": [1, "x"], "a": {"d": null, "c": true}, "é": "ü\n"});
        assert_eq!(
            to_python_json_sorted(&v),
            r#"{"a": {"c": true, "d": null}, "b": [1, "x"], "\u00e9": "\u00fc\n"}"#
        );
        // astral characters become surrogate pairs, `/` is not escaped, DEL is kept
        assert_eq!(
            to_python_json_sorted(&json!("😀/\u{7f}")),
            "\"\\ud83d\\ude00/\u{7f}\""
        );
        assert_eq!(to_python_json_sorted(&json!("\u{1}")), "\"\\u0001\"");
    }

    #[test]
    fn floats_follow_python_repr() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (0.0, "0.0"),
        ] {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn spec_version_worked_example() {
        // reference 2.5: spec `test/feature` → a5eea973
        let spec = json!({"deps": [], "description": null,
            "fields": [{"code_version": "1", "deps": [], "key": "default"}],
            "id_columns": ["sample_uid"], "key": "test/feature", "metadata": {}});
        let text = to_python_json_sorted(&spec);
        let mut h = crate::hash::DefinitionHasher::new();
        h.update(&text);
        assert_eq!(h.finish(Some(8)), "a5eea973");
    }
}
