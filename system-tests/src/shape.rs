//! Comparing a payload with a golden one by shape rather than by value.

use serde_json::Value;

/// Whether `value` has the shape of `golden`: the same fields at every level, values of the
/// same JSON type (a `null` in either stands for an optional field), array items shaped like
/// the golden first item.
pub fn same_shape(value: &Value, golden: &Value) -> bool {
    match (value, golden) {
        (Value::Null, _) | (_, Value::Null) => true,
        (Value::Object(fields), Value::Object(golden_fields)) => {
            fields.len() == golden_fields.len()
                && golden_fields.iter().all(|(name, golden_value)| {
                    fields
                        .get(name)
                        .is_some_and(|value| same_shape(value, golden_value))
                })
        }
        (Value::Array(items), Value::Array(golden_items)) => match golden_items.first() {
            Some(golden_item) => items.iter().all(|item| same_shape(item, golden_item)),
            None => true,
        },
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::same_shape;

    #[test]
    fn shapes_compare_fields_types_and_array_items() {
        let golden = json!({"a": 1, "b": [{"c": "x"}], "d": null});
        assert!(same_shape(
            &json!({"a": 2, "b": [{"c": "y"}, {"c": "z"}], "d": "set"}),
            &golden
        ));
        assert!(!same_shape(&json!({"a": "2", "b": [], "d": null}), &golden));
        assert!(!same_shape(
            &json!({"a": 2, "b": [{"e": "y"}], "d": null}),
            &golden
        ));
        assert!(!same_shape(&json!({"a": 2, "b": []}), &golden));
    }
}
