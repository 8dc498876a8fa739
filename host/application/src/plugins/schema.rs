//! Checks a plugin's configuration against the JSON Schema its author ships, for the subset of
//! JSON Schema that describes configuration: `type`, `properties`, `required`,
//! `additionalProperties` (`true` or `false`), `items`, `enum`, `minimum`/`maximum`,
//! `minLength`/`maxLength`, plus annotations that constrain nothing (`title`, `description`,
//! `default`, `examples`, ...). A schema with any other keyword is refused at install: a
//! constraint this checker would not enforce must not look enforced.

use serde_json::Value;

/// Why a configuration does not fit its schema (or a schema is unusable).
pub(crate) fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, "config")
}

/// Keywords this checker enforces.
const ENFORCED: [&str; 10] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
];

/// Keywords that only annotate.
const ANNOTATIONS: [&str; 10] = [
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// The type names of JSON Schema.
const TYPES: [&str; 7] = [
    "object", "array", "string", "boolean", "null", "number", "integer",
];

/// A schema this checker can use: an object whose keywords it knows and that have the right
/// shapes.
pub(crate) fn check_schema(schema: &Value) -> Result<(), String> {
    let Some(object) = schema.as_object() else {
        return Err("the configuration schema must be a JSON object".into());
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !ENFORCED.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
    {
        return Err(format!(
            "`{unknown}` is not supported in configuration schemas (supported: {})",
            ENFORCED.join(", ")
        ));
    }
    let known_type = |t: &Value| t.as_str().is_some_and(|t| TYPES.contains(&t));
    match object.get("type") {
        None => {}
        Some(Value::Array(types)) if !types.is_empty() && types.iter().all(known_type) => {}
        Some(t) if known_type(t) => {}
        Some(_) => return Err(format!("`type` must be one of {}", TYPES.join(", "))),
    }
    if object
        .get("additionalProperties")
        .is_some_and(|a| !a.is_boolean())
    {
        return Err("`additionalProperties` must be true or false".into());
    }
    for bound in ["minimum", "maximum"] {
        if object.get(bound).is_some_and(|b| !b.is_number()) {
            return Err(format!("`{bound}` must be a number"));
        }
    }
    for bound in ["minLength", "maxLength"] {
        if object.get(bound).is_some_and(|b| b.as_u64().is_none()) {
            return Err(format!("`{bound}` must be a whole number"));
        }
    }
    if object.get("enum").is_some_and(|e| !e.is_array()) {
        return Err("`enum` must be an array".into());
    }
    if let Some(properties) = object.get("properties") {
        let Some(properties) = properties.as_object() else {
            return Err("`properties` must be an object".into());
        };
        for (name, property) in properties {
            check_schema(property).map_err(|e| format!("property {name}: {e}"))?;
        }
    }
    if let Some(items) = object.get("items") {
        check_schema(items).map_err(|e| format!("items: {e}"))?;
    }
    if let Some(required) = object.get("required")
        && !required
            .as_array()
            .is_some_and(|r| r.iter().all(Value::is_string))
    {
        return Err("`required` must be an array of property names".into());
    }
    Ok(())
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        _ => true,
    }
}

fn check_at(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(expected) = schema.get("type") {
        let fits = match expected {
            Value::String(t) => type_matches(t, value),
            Value::Array(types) => types
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, value))),
            _ => true,
        };
        if !fits {
            return Err(format!("{at} must be of type {expected}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!(
            "{at} must be one of {}",
            Value::from(allowed.clone())
        ));
    }
    if let Some(number) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && number < min
        {
            return Err(format!("{at} must be at least {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && number > max
        {
            return Err(format!("{at} must be at most {max}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            return Err(format!("{at} must be at least {min} characters"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            return Err(format!("{at} must be at most {max} characters"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                return Err(format!("{at}.{name} is required"));
            }
        }
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => check_at(property, item, &format!("{at}.{name}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}.{name} is not a known setting"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_at(items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn configurations_are_checked_against_the_schema_subset() {
        let schema = json!({
            "type": "object",
            "required": ["domains"],
            "additionalProperties": false,
            "properties": {
                "domains": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "max_days": {"type": "integer", "minimum": 1, "maximum": 365},
                "mode": {"enum": ["strict", "lax"]}
            }
        });
        check_schema(&schema).unwrap();
        let good = json!({"domains": ["example.org"], "max_days": 30, "mode": "strict"});
        assert_eq!(check(&schema, &good), Ok(()));
        for (bad, why) in [
            (json!({}), "config.domains is required"),
            (
                json!({"domains": "x"}),
                "config.domains must be of type \"array\"",
            ),
            (
                json!({"domains": [""]}),
                "config.domains[0] must be at least 1 characters",
            ),
            (
                json!({"domains": [], "max_days": 0}),
                "config.max_days must be at least 1",
            ),
            (
                json!({"domains": [], "mode": "other"}),
                "config.mode must be one of",
            ),
            (
                json!({"domains": [], "typo": 1}),
                "config.typo is not a known setting",
            ),
            (json!([1]), "config must be of type \"object\""),
        ] {
            let err = check(&schema, &bad).unwrap_err();
            assert!(err.starts_with(why), "{bad}: {err}");
        }
        assert!(check_schema(&json!("not an object")).is_err());
        assert!(check_schema(&json!({"required": "domains"})).is_err());
    }

    #[test]
    fn schemas_with_constraints_this_checker_would_not_enforce_are_refused() {
        for (schema, why) in [
            (json!({"type": "string", "pattern": "^a"}), "`pattern`"),
            (json!({"oneOf": [{"type": "string"}]}), "`oneOf`"),
            (
                json!({"properties": {"n": {"type": "integer", "multipleOf": 2}}}),
                "property n: `multipleOf`",
            ),
            (json!({"items": {"format": "email"}}), "items: `format`"),
            (
                json!({"additionalProperties": {"type": "string"}}),
                "`additionalProperties`",
            ),
            (json!({"type": "strnig"}), "`type`"),
            (json!({"minimum": "1"}), "`minimum`"),
        ] {
            let err = check_schema(&schema).unwrap_err();
            assert!(err.contains(why), "{schema}: {err}");
        }
        let annotated = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Settings",
            "type": ["object", "null"],
            "properties": {"n": {"type": "integer", "description": "a number", "default": 3}}
        });
        assert_eq!(check_schema(&annotated), Ok(()));
    }
}
