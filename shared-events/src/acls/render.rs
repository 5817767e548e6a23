//! The grants in the forms that create or document ACLs outside Rust: the list the local
//! scripts feed to `CreateAcls`, Strimzi `KafkaUser` resources, and the tables and commands of
//! docs/security.md (the table also in the README). Each is a committed file (or a marked block
//! of one) that a test renders again and compares, so that a topic or group added to the
//! contract cannot ship without its grant everywhere.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Grant, Operation, Pattern, ResourceType};

/// The command that rewrites every generated file.
pub const REGENERATE: &str = "cargo run -q -p shared-events --example grants -- --write";

/// The Strimzi cluster the `KafkaUser` resources belong to (k8s/infra/kafka).
const STRIMZI_CLUSTER: &str = "storefront";
/// The namespace of that cluster, whose User Operator turns the users into SCRAM credentials.
const STRIMZI_NAMESPACE: &str = "kafka";

/// One generated text: a whole file, or the block of a file between
/// `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The file, from the repository's root.
    pub path: &'static str,
    /// The block's name, when only a block of the file is generated.
    pub block: Option<&'static str>,
    pub text: String,
}

impl Generated {
    /// `existing` with this generated text in its place: the whole file, or the block's
    /// lines. None when the file has no such block.
    pub fn apply(&self, existing: &str) -> Option<String> {
        let Some(block) = self.block else {
            return Some(self.text.clone());
        };
        let begin = format!("<!-- BEGIN generated: {block} -->\n");
        let end = format!("<!-- END generated: {block} -->");
        let start = existing.find(&begin)? + begin.len();
        let stop = start + existing[start..].find(&end)?;
        Some(format!(
            "{}{}{}",
            &existing[..start],
            self.text,
            &existing[stop..]
        ))
    }
}

/// Every generated text of `grants`.
pub fn generated(grants: &[Grant]) -> Vec<Generated> {
    vec![
        Generated {
            path: "deploy/kafka/grants.txt",
            block: None,
            text: grant_lines(grants),
        },
        Generated {
            path: "k8s/infra/kafka/users.yaml",
            block: None,
            text: strimzi_users(grants),
        },
        // The README's front page lists the services; the lake's worker is in docs/security.md.
        Generated {
            path: "README.md",
            block: Some("grants table"),
            text: table(&services_only(grants)),
        },
        Generated {
            path: "docs/security.md",
            block: Some("grants table"),
            text: table(grants),
        },
        Generated {
            path: "docs/security.md",
            block: Some("kafka-acls commands"),
            text: kafka_acls_commands(grants),
        },
        Generated {
            path: "docs/security.md",
            block: Some("confluent commands"),
            text: confluent_commands(grants),
        },
    ]
}

/// One resource pattern: its type, its name or prefix, and which of the two.
type Resource<'a> = (ResourceType, &'a str, Pattern);

fn services_only(grants: &[Grant]) -> Vec<Grant> {
    grants
        .iter()
        .filter(|grant| grant.principal != super::LAKE_PRINCIPAL)
        .cloned()
        .collect()
}

/// The grants of each principal, by resource, with their operations.
type ByResource<'a> = BTreeMap<&'a str, BTreeMap<Resource<'a>, Vec<Operation>>>;

fn by_resource(grants: &[Grant]) -> ByResource<'_> {
    let mut principals = ByResource::new();
    for grant in grants {
        principals
            .entry(grant.principal.as_str())
            .or_default()
            .entry((grant.resource_type, grant.name.as_str(), grant.pattern))
            .or_default()
            .push(grant.operation);
    }
    principals
}

/// The resource type as Kafka's tools spell it in options: `topic`, `group`,
/// `transactional-id`.
fn option(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Topic => "topic",
        ResourceType::Group => "group",
        ResourceType::TransactionalId => "transactional-id",
    }
}

fn join(operations: &[Operation], separator: &str, case: fn(String) -> String) -> String {
    operations
        .iter()
        .map(|operation| case(format!("{operation:?}")))
        .collect::<Vec<_>>()
        .join(separator)
}

fn same(name: String) -> String {
    name
}

/// `DescribeConfigs` as Confluent's CLI spells it: `describe-configs`.
fn kebab(name: String) -> String {
    let mut kebab = String::with_capacity(name.len() + 2);
    for (index, letter) in name.chars().enumerate() {
        if letter.is_uppercase() && index > 0 {
            kebab.push('-');
        }
        kebab.push(letter.to_ascii_lowercase());
    }
    kebab
}

/// One grant a line, as `CreateAcls` reads them, after a comment saying where they come from.
fn grant_lines(grants: &[Grant]) -> String {
    let mut text = format!(
        "# The Kafka ACLs of the services and of the lake's Connect worker, one\n\
         # PRINCIPAL,TYPE,NAME,OPERATION a line (a NAME ending with * is a prefix, any other a\n\
         # literal name), as storefront.dev.CreateAcls reads them: generated from\n\
         # shared_events::acls::all_grants by\n\
         # `{REGENERATE}`;\n\
         # a test fails when this file is out of date.\n"
    );
    for grant in grants {
        let _ = writeln!(text, "{grant}");
    }
    text
}

/// A `KafkaUser` per principal: SCRAM-SHA-512, and exactly its grants as simple ACLs.
fn strimzi_users(grants: &[Grant]) -> String {
    let mut text = format!(
        "# One Strimzi KafkaUser per service and one for the lake's Connect worker: a SCRAM-SHA-512\n\
         # user named as the service, whose password the User Operator generates into a Secret of the\n\
         # same name (key `password`), allowed exactly what the event contract grants it. Generated\n\
         # from shared_events::acls::all_grants by\n\
         # `{REGENERATE}`;\n\
         # a test fails when this file is out of date.\n"
    );
    for (index, (principal, resources)) in by_resource(grants).into_iter().enumerate() {
        if index > 0 {
            text.push_str("---\n");
        }
        let _ = write!(
            text,
            "apiVersion: kafka.strimzi.io/v1beta2\n\
             kind: KafkaUser\n\
             metadata:\n  name: {principal}\n  namespace: {STRIMZI_NAMESPACE}\n  labels:\n    \
             strimzi.io/cluster: {STRIMZI_CLUSTER}\n\
             spec:\n  authentication:\n    type: scram-sha-512\n  authorization:\n    \
             type: simple\n    acls:\n"
        );
        for ((resource_type, name, pattern), operations) in resources {
            let kind = match resource_type {
                ResourceType::Topic => "topic",
                ResourceType::Group => "group",
                ResourceType::TransactionalId => "transactionalId",
            };
            let pattern = match pattern {
                Pattern::Literal => "literal",
                Pattern::Prefixed => "prefix",
            };
            let _ = write!(
                text,
                "      - resource:\n          type: {kind}\n          name: {name}\n          \
                 patternType: {pattern}\n        operations: [{}]\n        host: \"*\"\n",
                join(&operations, ", ", same),
            );
        }
    }
    text
}

/// A Markdown table: principal, resource (a prefix ends with `*`), operations.
fn table(grants: &[Grant]) -> String {
    let mut text = String::from("| Principal | Resource | Operations |\n|---|---|---|\n");
    for (principal, resources) in by_resource(grants) {
        for ((resource_type, name, pattern), operations) in resources {
            let (star, kind) = match pattern {
                Pattern::Literal => ("", ""),
                Pattern::Prefixed => ("*", " prefix"),
            };
            let _ = writeln!(
                text,
                "| `{principal}` | {}{kind} `{name}{star}` | {} |",
                option(resource_type).replace('-', " "),
                join(&operations, ", ", same)
            );
        }
    }
    text
}

/// Apache Kafka's `kafka-acls.sh` (Amazon MSK, any self-managed cluster), run as a super user.
fn kafka_acls_commands(grants: &[Grant]) -> String {
    let mut text = String::from("```sh\n");
    for (principal, resources) in by_resource(grants) {
        for ((resource_type, name, pattern), operations) in resources {
            let operations: String = operations
                .iter()
                .map(|operation| format!(" --operation {operation:?}"))
                .collect();
            let _ = writeln!(
                text,
                "kafka-acls.sh --bootstrap-server \"$BOOTSTRAP\" --command-config admin.properties \
                 --add --allow-principal User:{principal}{operations} --{} {name} \
                 --resource-pattern-type {}",
                option(resource_type),
                format!("{pattern:?}").to_lowercase()
            );
        }
    }
    text.push_str("```\n");
    text
}

/// Confluent Cloud's CLI: each service's service account in `$<SERVICE>_SA`.
fn confluent_commands(grants: &[Grant]) -> String {
    let mut text = String::from("```sh\n");
    for (principal, resources) in by_resource(grants) {
        for ((resource_type, name, pattern), operations) in resources {
            let resource = match resource_type {
                ResourceType::Group => "consumer-group",
                other => option(other),
            };
            let prefix = match pattern {
                Pattern::Literal => "",
                Pattern::Prefixed => " --prefix",
            };
            let _ = writeln!(
                text,
                "confluent kafka acl create --allow --service-account \"${}_SA\" --operations {} --{resource} {name}{prefix}",
                principal.to_uppercase().replace('-', "_"),
                join(&operations, ",", kebab),
            );
        }
    }
    text.push_str("```\n");
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::acls::{all_grants, default_services, grants};

    fn repository_file(path: &str) -> String {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("reading {}: {error}", file.display()))
    }

    #[test]
    fn every_generated_file_is_up_to_date() {
        for generated in generated(&all_grants()) {
            let existing = repository_file(generated.path);
            let name = generated
                .block
                .map_or(String::new(), |block| format!(" (block \"{block}\")"));
            let expected = generated
                .apply(&existing)
                .unwrap_or_else(|| panic!("{}{name} has no generated block", generated.path));
            assert!(
                existing == expected,
                "{}{name} is out of date: regenerate with `{REGENERATE}`",
                generated.path
            );
        }
    }

    #[test]
    fn a_block_is_replaced_between_its_markers_only() {
        let generated = Generated {
            path: "x.md",
            block: Some("b"),
            text: "new\n".to_owned(),
        };
        let existing = "a\n<!-- BEGIN generated: b -->\nold\n<!-- END generated: b -->\nz\n";
        assert_eq!(
            generated.apply(existing).as_deref(),
            Some("a\n<!-- BEGIN generated: b -->\nnew\n<!-- END generated: b -->\nz\n")
        );
        assert_eq!(generated.apply("no markers\n"), None);
    }

    #[test]
    fn a_new_topic_appears_in_every_generated_text() {
        let mut flows = default_services();
        for flow in &mut flows {
            for (default, topic) in &mut flow.topics {
                if *default == crate::topics::ORDER_STATUS_CHANGE {
                    "new.topic".clone_into(topic);
                }
            }
        }
        for generated in generated(&grants(&flows)) {
            assert!(
                generated.text.contains("new.topic"),
                "{} {:?}",
                generated.path,
                generated.block
            );
        }
    }

    #[test]
    fn a_kafka_user_holds_its_principals_grants_as_literal_acls() {
        let grants = grants(&default_services()[..1]);
        assert_eq!(
            strimzi_users(&grants)
                .lines()
                .filter(|line| !line.starts_with('#'))
                .collect::<Vec<_>>(),
            [
                "apiVersion: kafka.strimzi.io/v1beta2",
                "kind: KafkaUser",
                "metadata:",
                "  name: accounts",
                "  namespace: kafka",
                "  labels:",
                "    strimzi.io/cluster: storefront",
                "spec:",
                "  authentication:",
                "    type: scram-sha-512",
                "  authorization:",
                "    type: simple",
                "    acls:",
                "      - resource:",
                "          type: topic",
                "          name: accounts.customer.change",
                "          patternType: literal",
                "        operations: [Write, Describe, DescribeConfigs]",
                "        host: \"*\"",
            ]
        );
    }
}
