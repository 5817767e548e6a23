//! The committed JSON Schemas (`shared-events/schemas/`) are what the types generate, and a
//! change to them may only be one that the consumers and producers already deployed survive.
//!
//! A change to an event type fails here twice over until it is dealt with: as a difference from
//! the committed schemas (`STOREFRONT_WRITE_SCHEMAS=1 cargo test -p shared-events --test
//! schemas` rewrites them), and, if it would break a deployed consumer, as a breaking change,
//! named with whom it breaks, which the rewrite refuses too.

use std::path::{Path, PathBuf};

use serde_json::Value;
use shared_events::schema::compatibility::breaking_changes;
use shared_events::schema::{Contract, contracts};

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// The files of a contract: one when producers and consumers share the schema.
fn files(contract: &Contract) -> Vec<(PathBuf, &Value)> {
    let produced = folder().join(format!("{}.json", contract.file));
    if contract.produced == contract.accepted {
        return vec![(produced, &contract.produced)];
    }
    let accepted = folder().join(format!("{}.accepted.json", contract.file));
    vec![
        (produced, &contract.produced),
        (accepted, &contract.accepted),
    ]
}

/// The contract as committed, if its files are there.
fn committed(contract: &Contract) -> Option<Contract> {
    let read = |path: &Path| -> Option<Value> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&text).expect("a committed schema is JSON"))
    };
    let files = files(contract);
    let produced = read(&files[0].0)?;
    let accepted = match files.get(1) {
        Some((path, _)) => read(path)?,
        None => produced.clone(),
    };
    Some(Contract {
        produced,
        accepted,
        ..contract.clone()
    })
}

#[test]
fn the_committed_schemas_are_what_the_types_generate_and_no_change_breaks_a_deployed_consumer() {
    let write = std::env::var_os("STOREFRONT_WRITE_SCHEMAS").is_some();
    let mut breaking = Vec::new();
    let mut differing = Vec::new();
    for contract in contracts() {
        let old = committed(&contract);
        if let Some(old) = &old {
            breaking.extend(breaking_changes(old, &contract));
        }
        if old.as_ref() == Some(&contract) {
            continue;
        }
        for (path, schema) in files(&contract) {
            let shown = path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
            differing.push(shown.unwrap_or(&path).display().to_string());
            if write && breaking.is_empty() {
                std::fs::create_dir_all(folder()).unwrap();
                let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
                std::fs::write(&path, text).unwrap();
            }
        }
    }
    assert!(
        breaking.is_empty(),
        "the event types changed in a way that breaks what is deployed:\n- {}\n\
         Add a field as optional instead, keep the old one while it is read, or publish the \
         new shape as a new event type.",
        breaking.join("\n- ")
    );
    assert!(
        write || differing.is_empty(),
        "{differing:?} differ from what the event types generate; the change is compatible \
         with what is deployed: STOREFRONT_WRITE_SCHEMAS=1 cargo test -p shared-events --test \
         schemas rewrites them"
    );
}
