//! Whether a new version of a message's schemas can be deployed beside the old one.
//!
//! Both directions must hold, because producers and consumers are deployed one at a time and the
//! topics keep what the old producers wrote:
//! - **forward**: what the new producer writes, the consumers already deployed read (the old
//!   accepted schema covers the new produced one);
//! - **backward**: what the producer already deployed wrote, the new consumers read (the new
//!   accepted schema covers the old produced one).
//!
//! "Covers" is checked structurally: every type the writer may write is one the reader takes
//! (an integer is a number), every enum value too, every field the reader requires the writer
//! always writes, and a field the writer adds goes only to a reader open to unknown fields. A
//! removed or renamed field, a changed type, a new required field and a narrowed enum break;
//! an added optional field and a widened enum on the reading side do not.

use serde_json::{Map, Value};

use super::Contract;

/// What one change breaks, for whom, in words.
pub fn breaking_changes(old: &Contract, new: &Contract) -> Vec<String> {
    let mut problems = Vec::new();
    let consumers = new.consumers.join(", ");
    for problem in covers(&old.accepted, &new.produced) {
        problems.push(format!(
            "{}: {problem}: the {} already deployed ({consumers}) would not read what the new \
             {} writes",
            new.title,
            plural(new.consumers.len(), "consumer"),
            new.producer
        ));
    }
    for problem in covers(&new.accepted, &old.produced) {
        problems.push(format!(
            "{}: {problem}: the new {} ({consumers}) would not read what the {} already deployed \
             wrote (and what the topic {} still holds)",
            new.title,
            plural(new.consumers.len(), "consumer"),
            old.producer,
            new.topic
        ));
    }
    problems
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        noun.to_owned()
    } else {
        format!("{noun}s")
    }
}

/// Where the reader's schema refuses something the writer's may write, one line each.
fn covers(reader: &Value, writer: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    compare(
        &Side::new(reader, reader),
        &Side::new(writer, writer),
        "",
        &mut problems,
    );
    problems
}

/// A schema, with the document whose `$defs` its references point into.
struct Side<'a> {
    schema: &'a Value,
    document: &'a Value,
}

impl<'a> Side<'a> {
    /// The schema with its reference, if it is one, followed.
    fn new(schema: &'a Value, document: &'a Value) -> Self {
        let schema = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|target| target.strip_prefix("#/$defs/"))
            .and_then(|name| document["$defs"].get(name))
            .unwrap_or(schema);
        Side { schema, document }
    }

    fn at(&self, schema: &'a Value) -> Side<'a> {
        Side::new(schema, self.document)
    }

    /// The JSON types it allows, `None` for any.
    fn types(&self) -> Option<Vec<&'a str>> {
        let alternatives = self.alternatives();
        if !alternatives.is_empty() {
            let mut types = Vec::new();
            for alternative in alternatives {
                types.extend(self.at(alternative).types()?);
            }
            return Some(types);
        }
        match self.schema.get("type")? {
            Value::String(kind) => Some(vec![kind.as_str()]),
            Value::Array(kinds) => Some(kinds.iter().filter_map(Value::as_str).collect()),
            _ => None,
        }
    }

    fn alternatives(&self) -> &'a [Value] {
        ["oneOf", "anyOf"]
            .into_iter()
            .find_map(|keyword| self.schema.get(keyword).and_then(Value::as_array))
            .map_or(&[], Vec::as_slice)
    }

    /// The member of `oneOf`/`anyOf` that is not `null`, or the schema itself.
    fn value_schema(&self) -> Side<'a> {
        self.alternatives()
            .iter()
            .map(|alternative| self.at(alternative))
            .find(|alternative| alternative.schema.get("type") != Some(&Value::from("null")))
            .unwrap_or(Side {
                schema: self.schema,
                document: self.document,
            })
    }

    fn properties(&self) -> Option<&'a Map<String, Value>> {
        self.schema.get("properties").and_then(Value::as_object)
    }

    fn required(&self) -> Vec<&'a str> {
        self.schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    fn enumeration(&self) -> Option<&'a Vec<Value>> {
        self.schema.get("enum").and_then(Value::as_array)
    }
}

/// Compares the schemas of the value at `path` (`order.orderItems[]`; empty for the payload).
fn compare(reader: &Side<'_>, writer: &Side<'_>, path: &str, problems: &mut Vec<String>) {
    let at = if path.is_empty() {
        "the payload".to_owned()
    } else {
        format!("`{path}`")
    };
    if let (Some(read), Some(written)) = (reader.types(), writer.types()) {
        let refused: Vec<&str> = written
            .iter()
            .copied()
            .filter(|kind| {
                !(read.contains(kind) || (*kind == "integer" && read.contains(&"number")))
            })
            .collect();
        if !refused.is_empty() {
            problems.push(format!(
                "{at} may be {} but is read as {}",
                refused.join(" or "),
                read.join(" or ")
            ));
            return;
        }
    }
    let (reader, writer) = (reader.value_schema(), writer.value_schema());
    if let Some(read) = reader.enumeration() {
        match writer.enumeration() {
            None => problems.push(format!("{at} is read only as one of {read:?}")),
            Some(written) => {
                let unknown: Vec<&Value> = written
                    .iter()
                    .filter(|value| !read.contains(value))
                    .collect();
                if !unknown.is_empty() {
                    problems.push(format!("{at} may be {unknown:?}, which is not read"));
                }
            }
        }
    }
    let written = writer.required();
    for name in reader.required() {
        if !written.contains(&name) {
            problems.push(format!("{at} needs `{name}`, which may be missing"));
        }
    }
    if let (Some(read), Some(written)) = (reader.properties(), writer.properties()) {
        let closed = reader.schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, schema) in written {
            match read.get(name) {
                Some(read) => compare(
                    &reader.at(read),
                    &writer.at(schema),
                    &field(path, name),
                    problems,
                ),
                None if closed => {
                    problems.push(format!("{at} may carry `{name}`, which it refuses"));
                }
                None => {}
            }
        }
    }
    if let (Some(read), Some(written)) = (reader.schema.get("items"), writer.schema.get("items")) {
        compare(
            &reader.at(read),
            &writer.at(written),
            &format!("{path}[]"),
            problems,
        );
    }
}

/// The path of field `name` of the value at `path`.
fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::contracts;

    fn customer() -> Contract {
        contracts().remove(0)
    }

    /// Applies `change` to both schemas of a contract, as a change to the type would.
    fn changed(mut contract: Contract, change: impl Fn(&mut Value)) -> Contract {
        change(&mut contract.produced);
        change(&mut contract.accepted);
        contract
    }

    #[test]
    fn the_schemas_as_generated_are_compatible_with_themselves() {
        for contract in contracts() {
            assert_eq!(breaking_changes(&contract, &contract), Vec::<String>::new());
        }
    }

    #[test]
    fn a_removed_field_breaks_the_consumers_already_deployed() {
        let new = changed(customer(), |schema| {
            let contact = &mut schema["$defs"]["Contact"];
            contact["properties"]
                .as_object_mut()
                .unwrap()
                .remove("email");
            contact["required"] = json!(["primaryPhone"]);
        });
        let problems = breaking_changes(&customer(), &new);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("`contact` needs `email`")
                    && problem.contains("the consumer already deployed (orders)")
                    && problem.contains("the new accounts writes")),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_changed_type_and_a_new_required_field_break() {
        let new = changed(customer(), |schema| {
            schema["properties"]["id"] = json!({ "type": "integer" });
            schema["properties"]["loyalty"] = json!({ "type": "string" });
            schema["required"]
                .as_array_mut()
                .unwrap()
                .push("loyalty".into());
        });
        let problems = breaking_changes(&customer(), &new);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("`id` may be integer but is read as string")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("needs `loyalty`")
                    && problem.contains("what the accounts already deployed wrote")),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_narrowed_enum_breaks_the_new_consumers() {
        let request = contracts()
            .into_iter()
            .find(|contract| contract.file == "fulfillment-request-event")
            .unwrap();
        let new = changed(request.clone(), |schema| {
            let statuses = schema["$defs"]["OrderStatusType"]["enum"]
                .as_array_mut()
                .unwrap();
            statuses.retain(|status| status != "RETURNED");
        });
        let problems = breaking_changes(&request, &new);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("RETURNED") && problem.contains("the new consumer")),
            "{problems:#?}"
        );
    }

    #[test]
    fn an_added_optional_field_and_a_widened_enum_pass() {
        let request = contracts()
            .into_iter()
            .find(|contract| contract.file == "fulfillment-request-event")
            .unwrap();
        let new = changed(request.clone(), |schema| {
            schema["$defs"]["Contact"]["properties"]["fax"] = json!({ "type": ["string", "null"] });
        });
        let mut new = new;
        new.accepted["$defs"]["OrderStatusType"]["enum"]
            .as_array_mut()
            .unwrap()
            .push("LOST".into());
        assert_eq!(breaking_changes(&request, &new), Vec::<String>::new());
    }
}
