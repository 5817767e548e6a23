//! The Kafka access each service needs, derived from the event contract: what it sends to, what
//! it receives (and as which consumer group), and the dead-letter topics of what it receives.
//! Plain data, so that whatever creates ACLs (a broker's Admin API, an operator's custom
//! resources) turns them into its own form; nothing here talks to a broker.
//!
//! Least privilege: a service's grant names one topic or one group exactly (no wildcard, no
//! prefix), and no grant is cluster-wide. An idempotent producer needs none: since Kafka 2.8
//! (KIP-679), `Write` on a topic allows the `InitProducerId` the idempotent producer sends.
//!
//! The data lake's Kafka Connect worker ([`lake_connect`], docs/lake.md) is a principal too: it
//! reads the three topics into the lake, and besides its own group and topics needs two
//! prefixes, for the names Apache Iceberg's sink makes up with a random UUID (its control
//! groups and its transactional ids).

pub mod render;

use std::fmt;

use crate::asyncapi::{Direction, EventFlow};
use crate::topics;

/// What kind of Kafka resource a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Topic,
    Group,
    TransactionalId,
}

/// How a grant's name matches: exactly, or every name that starts with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    Literal,
    Prefixed,
}

/// What a grant allows on its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Read,
    Write,
    Describe,
    DescribeConfigs,
}

/// One allowed operation of one principal on one named resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// The service's name, which is its Kafka user name (`User:<principal>`).
    pub principal: String,
    pub resource_type: ResourceType,
    /// The name of the topic, group or transactional id, or its prefix.
    pub name: String,
    pub pattern: Pattern,
    pub operation: Operation,
}

impl fmt::Display for Grant {
    /// `principal,ResourceType,name,Operation`: the form dev/.../CreateAcls.java reads (names
    /// hold no commas); a prefix ends with `*` (`name*`), which no topic or group name of ours
    /// holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{:?},{}{},{:?}",
            self.principal,
            self.resource_type,
            self.name,
            self.pattern_suffix(),
            self.operation
        )
    }
}

impl Grant {
    fn new(principal: &str, resource_type: ResourceType, name: &str, operation: Operation) -> Self {
        Grant {
            principal: principal.to_owned(),
            resource_type,
            name: name.to_owned(),
            pattern: Pattern::Literal,
            operation,
        }
    }

    /// `*` after a prefix, nothing after a literal name.
    pub fn pattern_suffix(&self) -> &'static str {
        match self.pattern {
            Pattern::Literal => "",
            Pattern::Prefixed => "*",
        }
    }
}

/// The three services as they are configured by default: each one's name is its Kafka user,
/// each consumer's group is named as the service, every topic has its contract name. What the
/// deployments' users and ACLs are generated from ([`render`]).
pub fn default_services() -> Vec<EventFlow> {
    vec![
        EventFlow::with_default_topics("accounts", None),
        EventFlow::with_default_topics("orders", Some("orders")),
        EventFlow::with_default_topics("fulfillment", Some("fulfillment")),
    ]
}

/// Every grant the services of `flows` need, sorted and without repeats: `Write` and
/// `Describe` on each topic a service sends to and on the dead-letter topic of each topic it
/// receives; `Read` and `Describe` on each topic it receives, and `Read` on its group; and
/// `DescribeConfigs` on each compacted topic it sends to or receives, whose `cleanup.policy`
/// the service reads at start-up (`platform::kafka::spawn_changelog_policy_report`).
pub fn grants(flows: &[EventFlow]) -> Vec<Grant> {
    let mut grants = Vec::new();
    for flow in flows {
        let grant = |resource_type, name: &str, operation| {
            Grant::new(flow.service, resource_type, name, operation)
        };
        for (contract, topic, direction) in flow.messages() {
            if topics::COMPACTED.contains(&contract.topic) {
                grants.push(grant(
                    ResourceType::Topic,
                    &topic,
                    Operation::DescribeConfigs,
                ));
            }
            let written = match direction {
                Direction::Sends => topic,
                Direction::Receives => {
                    grants.push(grant(ResourceType::Topic, &topic, Operation::Read));
                    grants.push(grant(ResourceType::Topic, &topic, Operation::Describe));
                    if let Some(group) = &flow.group {
                        grants.push(grant(ResourceType::Group, group, Operation::Read));
                    }
                    topics::dead_letter(&topic)
                }
            };
            grants.push(grant(ResourceType::Topic, &written, Operation::Write));
            grants.push(grant(ResourceType::Topic, &written, Operation::Describe));
        }
    }
    grants.sort();
    grants.dedup();
    grants
}

/// The Kafka user of the lake's Connect worker.
pub const LAKE_PRINCIPAL: &str = "lake-connect";
/// The lake's name (`STOREFRONT_LAKE_NAME`, the connector's and the KafkaConnect's name), which
/// every name below derives from: the worker's group, its configuration, offset and status
/// topics `<name>.configs`, `.offsets` and `.status`, the sink's control topic `<name>.control`
/// and dead-letter topic `<name>.DLT`, and the prefixes of the sink's control groups
/// (`<name>-control`) and transactional ids (`<name>-`), as dev/lake/iceberg-sink.json sets them.
pub const LAKE_NAME: &str = "storefront-lake";

/// What the lake's Connect worker needs, as Kafka Connect 4.0 and Apache Iceberg's sink use
/// the broker: `Read` and `Describe` on each topic it copies (the contract's topics); `Read` on
/// the worker's group, on the sink's consumer group `connect-<name>` (whose offsets the sink
/// commits inside its transactions) and on the coordinator's `connect-<name>-coord`, and on
/// the prefix of the control groups (`<prefix><UUID>`, one per task); `Read`, `Write`,
/// `Describe` and `DescribeConfigs` (the worker checks that they are compacted) on its three
/// internal topics; `Read`, `Write` and `Describe` on the control topic; `Write` and `Describe`
/// on the dead-letter topic; `Write` and `Describe` on the prefix of the transactional ids of
/// the sink's producers (`<prefix>worker-txn-<UUID>-<task>`, `<prefix>coordinator-…`). No
/// `Create`: every topic is made beforehand, and the worker goes on without creating them.
pub fn lake_connect(name: &str) -> Vec<Grant> {
    use Operation::{Describe, DescribeConfigs, Read, Write};
    use ResourceType::{Group, Topic, TransactionalId};
    let grant = |resource_type, name: &str, operation| {
        Grant::new(LAKE_PRINCIPAL, resource_type, name, operation)
    };
    let prefix = |resource_type, name: &str, operation| Grant {
        pattern: Pattern::Prefixed,
        ..grant(resource_type, name, operation)
    };
    let mut grants = Vec::new();
    for topic in topics::ALL {
        grants.extend([grant(Topic, topic, Read), grant(Topic, topic, Describe)]);
    }
    for internal in ["configs", "offsets", "status"] {
        let topic = format!("{name}.{internal}");
        grants.extend(
            [Read, Write, Describe, DescribeConfigs]
                .map(|operation| grant(Topic, &topic, operation)),
        );
    }
    let control = format!("{name}.control");
    grants.extend([Read, Write, Describe].map(|operation| grant(Topic, &control, operation)));
    let dead_letter = topics::dead_letter(name);
    grants.extend([Write, Describe].map(|operation| grant(Topic, &dead_letter, operation)));
    for group in [
        name.to_owned(),
        format!("connect-{name}"),
        format!("connect-{name}-coord"),
    ] {
        grants.push(grant(Group, &group, Read));
    }
    grants.push(prefix(Group, &format!("{name}-control"), Read));
    let transactional = format!("{name}-");
    grants.extend(
        [Write, Describe].map(|operation| prefix(TransactionalId, &transactional, operation)),
    );
    grants.sort();
    grants
}

/// Every grant of the deployments: the three services' and the lake's Connect worker's.
pub fn all_grants() -> Vec<Grant> {
    let mut all = grants(&default_services());
    all.extend(lake_connect(LAKE_NAME));
    all.sort();
    all
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::asyncapi::document;

    fn of(grants: &[Grant], principal: &str) -> BTreeSet<String> {
        grants
            .iter()
            .filter(|grant| grant.principal == principal)
            .map(|grant| {
                format!(
                    "{:?} {} {:?}",
                    grant.resource_type, grant.name, grant.operation
                )
            })
            .collect()
    }

    fn set(lines: &[&str]) -> BTreeSet<String> {
        lines.iter().map(|line| (*line).to_owned()).collect()
    }

    #[test]
    fn each_service_gets_exactly_what_it_sends_and_receives() {
        let grants = grants(&default_services());
        assert_eq!(
            of(&grants, "accounts"),
            set(&[
                "Topic accounts.customer.change Write",
                "Topic accounts.customer.change Describe",
                "Topic accounts.customer.change DescribeConfigs",
            ])
        );
        assert_eq!(
            of(&grants, "orders"),
            set(&[
                "Group orders Read",
                "Topic accounts.customer.change Read",
                "Topic accounts.customer.change Describe",
                "Topic accounts.customer.change DescribeConfigs",
                "Topic accounts.customer.change.DLT Write",
                "Topic accounts.customer.change.DLT Describe",
                "Topic fulfillment.order.change Read",
                "Topic fulfillment.order.change Describe",
                "Topic fulfillment.order.change.DLT Write",
                "Topic fulfillment.order.change.DLT Describe",
                "Topic orders.order.fulfill Write",
                "Topic orders.order.fulfill Describe",
            ])
        );
        assert_eq!(
            of(&grants, "fulfillment"),
            set(&[
                "Group fulfillment Read",
                "Topic orders.order.fulfill Read",
                "Topic orders.order.fulfill Describe",
                "Topic orders.order.fulfill.DLT Write",
                "Topic orders.order.fulfill.DLT Describe",
                "Topic fulfillment.order.change Write",
                "Topic fulfillment.order.change Describe",
            ])
        );
        assert_eq!(grants.len(), 3 + 12 + 7, "no repeats, no other principal");
    }

    #[test]
    fn grants_match_each_services_asyncapi_document_and_nothing_else() {
        for flow in default_services() {
            let grants = grants(std::slice::from_ref(&flow));
            let document = document(&flow, "t", "d");
            let mut expected = BTreeSet::new();
            for operation in document["operations"].as_object().unwrap().values() {
                let channel = operation["channel"]["$ref"].as_str().unwrap();
                let channel = channel.strip_prefix("#/channels/").unwrap();
                let topic = document["channels"][channel]["address"].as_str().unwrap();
                let operations: &[&str] = match operation["action"].as_str().unwrap() {
                    "send" => &["Write", "Describe"],
                    "receive" => {
                        let group = &operation["bindings"]["kafka"]["groupId"]["enum"][0];
                        expected.insert(format!("Group {} Read", group.as_str().unwrap()));
                        &["Read", "Describe"]
                    }
                    other => panic!("action {other}"),
                };
                for name in operations {
                    expected.insert(format!("Topic {topic} {name}"));
                }
                let bindings = &document["channels"][channel]["bindings"]["kafka"];
                if bindings["topicConfiguration"]["cleanup.policy"] == json!(["compact"]) {
                    expected.insert(format!("Topic {topic} DescribeConfigs"));
                }
            }
            assert_eq!(of(&grants, flow.service), expected, "{}", flow.service);
            assert!(
                grants.iter().all(|grant| grant.principal == flow.service),
                "{grants:?}"
            );
        }
    }

    #[test]
    fn configured_topic_and_group_names_are_the_ones_granted() {
        let mut flow = EventFlow::with_default_topics("fulfillment", Some("fulfillment-blue"));
        flow.topics = vec![
            (topics::ORDER_FULFILL, "test.fulfill".to_owned()),
            (topics::ORDER_STATUS_CHANGE, "test.status".to_owned()),
        ];
        let names: BTreeSet<String> = grants(&[flow])
            .into_iter()
            .map(|grant| grant.name)
            .collect();
        assert_eq!(
            names,
            set(&[
                "fulfillment-blue",
                "test.fulfill",
                "test.fulfill.DLT",
                "test.status"
            ])
        );
    }

    /// The value of `key` in `section` of a TOML file (plain `key = "value"` lines).
    fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
        text.lines()
            .skip_while(|line| line.trim() != format!("[{section}]"))
            .skip(1)
            .take_while(|line| !line.starts_with('['))
            .find_map(|line| {
                let (name, value) = line.split_once('=')?;
                (name.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
            })
    }

    #[test]
    fn the_default_services_are_the_services_default_configuration() {
        for flow in default_services() {
            let path = format!(
                "{}/../services/{}/configuration/base.toml",
                env!("CARGO_MANIFEST_DIR"),
                flow.service
            );
            let text = std::fs::read_to_string(&path).expect("a service's base.toml");
            assert_eq!(
                toml_value(&text, "consumer", "group_id"),
                flow.group,
                "{path}"
            );
            // The services' `[topics]` keys, by contract topic.
            let keys = [
                (topics::CUSTOMER_CHANGE, "customer_change"),
                (topics::ORDER_FULFILL, "order_fulfill"),
                (topics::ORDER_STATUS_CHANGE, "order_status_change"),
            ];
            for (_, topic, _) in flow.messages() {
                let (_, key) = keys
                    .iter()
                    .find(|(default, _)| *default == topic)
                    .expect("a contract topic");
                assert_eq!(
                    toml_value(&text, "topics", key).as_deref(),
                    Some(topic.as_str()),
                    "{path}: {key}"
                );
            }
        }
    }

    #[test]
    fn a_grant_prints_as_the_acl_helper_reads_it() {
        let grant = Grant::new("orders", ResourceType::Group, "orders", Operation::Read);
        assert_eq!(grant.to_string(), "orders,Group,orders,Read");
        let prefix = Grant {
            pattern: Pattern::Prefixed,
            ..Grant::new(
                "lake-connect",
                ResourceType::TransactionalId,
                "lake-",
                Operation::Write,
            )
        };
        assert_eq!(
            prefix.to_string(),
            "lake-connect,TransactionalId,lake-*,Write"
        );
    }

    #[test]
    fn the_lake_connect_grants_name_what_the_sink_configuration_uses() {
        let path = format!(
            "{}/../dev/lake/iceberg-sink.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("the sink's config"))
                .expect("JSON");
        let setting = |key: &str| config[key].as_str().expect(key).to_owned();
        let grants = lake_connect(LAKE_NAME);
        let has = |resource_type, name: &str, pattern, operation| {
            grants.iter().any(|grant| {
                grant.resource_type == resource_type
                    && grant.name == name
                    && grant.pattern == pattern
                    && grant.operation == operation
            })
        };
        use Operation::{Read, Write};
        use Pattern::{Literal, Prefixed};
        use ResourceType::{Group, Topic, TransactionalId};
        for topic in setting("topics").split(',') {
            assert!(has(Topic, topic, Literal, Read), "{topic}");
        }
        let control = setting("iceberg.control.topic");
        assert!(has(Topic, &control, Literal, Read) && has(Topic, &control, Literal, Write));
        let dead_letter = setting("errors.deadletterqueue.topic.name");
        assert!(has(Topic, &dead_letter, Literal, Write));
        assert!(has(
            Group,
            &setting("iceberg.control.group-id-prefix"),
            Prefixed,
            Read
        ));
        let transactional = setting("iceberg.coordinator.transactional.prefix");
        assert!(has(TransactionalId, &transactional, Prefixed, Write));
        assert!(grants.iter().all(|grant| grant.principal == LAKE_PRINCIPAL));
        assert!(
            grants
                .iter()
                .all(|grant| grant.operation != Write || grant.resource_type != Group),
            "{grants:?}"
        );
    }
}
