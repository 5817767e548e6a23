//! The local servers' script, `scripts/infra.sh`, when a start cannot go ahead: one line says
//! why and where to look, nothing it started is left running, and nothing is wiped; and its
//! secured mode, which gives each service a user of its own with only its grants. And the
//! benchmark's script, asked for its options.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use platform::settings::KafkaSettings;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use system_tests::processes::write_probe;
use test_support::{EVENT_DEADLINE, eventually, free_port, unique_name};

/// `scripts/infra.sh start` with its data in `data` and these ports.
fn infra_start(data: &Path, kafka: u16, database: u16) -> Output {
    infra_start_with(data, kafka, database, "plaintext")
}

/// `scripts/infra.sh start` as above, with `STOREFRONT_KAFKA_SECURITY=security`.
fn infra_start_with(data: &Path, kafka: u16, database: u16, security: &str) -> Output {
    Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/infra.sh"))
        .arg("start")
        .env("STOREFRONT_KAFKA_SECURITY", security)
        .env("STOREFRONT_DATA_DIR", data)
        .env("STOREFRONT_KAFKA_PORT", kafka.to_string())
        .env("STOREFRONT_KAFKA_CONTROLLER_PORT", free_port().to_string())
        .env("STOREFRONT_DATABASE_PORT", database.to_string())
        .env("STOREFRONT_DATABASE_STORAGE", "memory")
        .env_remove("STOREFRONT_KAFKA_BOOTSTRAP")
        .env_remove("STOREFRONT_MONGODB_URI")
        .output()
        .expect("running scripts/infra.sh")
}

fn data_folder() -> PathBuf {
    std::env::temp_dir().join(unique_name("infra"))
}

/// The last line it wrote, and that its process ids are all gone.
fn last_line_with_nothing_left_running(output: &Output, data: &Path) -> String {
    assert!(!output.status.success(), "the start must fail");
    for name in ["kafka", "mongodb"] {
        assert!(
            !data.join(format!("{name}.pid")).exists(),
            "{name} left running"
        );
    }
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_taken_port_stops_the_start_with_one_line_naming_it() {
    let data = data_folder();
    let taken = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = taken.local_addr().expect("its address").port();
    let kafka = free_port();
    let output = infra_start(&data, kafka, port);
    let line = last_line_with_nothing_left_running(&output, &data);
    assert!(
        line.contains(&format!("mongodb: 127.0.0.1:{port} is taken")),
        "{line}"
    );
    // Kafka had started before the database's port turned out to be taken: it was stopped.
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("stopping kafka"),
        "{output:?}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", kafka)).is_err());
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn data_of_the_earlier_broker_is_explained_and_kept() {
    let data = data_folder();
    let broker = data.join("kafka");
    std::fs::create_dir_all(&broker).expect("a data folder");
    std::fs::write(broker.join("broker.db"), b"records").expect("old broker data");
    let output = infra_start(&data, free_port(), free_port());
    let line = last_line_with_nothing_left_running(&output, &data);
    assert!(line.contains("kafka exited during start"), "{line}");
    assert!(
        line.contains("sqlite files of the earlier local broker"),
        "{line}"
    );
    assert!(line.contains("kafka.log"), "names the log: {line}");
    assert_eq!(
        std::fs::read(broker.join("broker.db")).expect("still there"),
        b"records"
    );
    let _ = std::fs::remove_dir_all(&data);
}

/// Stops what `scripts/infra.sh start` started in a data folder, when dropped.
struct Started(PathBuf);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/infra.sh"))
            .arg("stop")
            .env("STOREFRONT_DATA_DIR", &self.0)
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `STOREFRONT_KAFKA_SECURITY=sasl_ssl`: the broker takes SASL_SSL only; a service's user, with
/// the password the script generated and the script's CA, may write its own topic and not
/// another's; no password appears in what the script prints.
#[tokio::test(flavor = "multi_thread")]
async fn the_secured_mode_gives_each_service_a_user_with_only_its_grants() {
    let data = data_folder();
    let started = Started(data.clone());
    let kafka = free_port();
    let output = infra_start_with(&data, kafka, free_port(), "sasl_ssl");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("ACLs on"), "{printed}");
    let security = data.join("kafka-security");
    let users = std::fs::read_to_string(security.join("users")).expect("the users file");
    let passwords: Vec<(String, String)> = users
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(user, password)| (user.to_owned(), password.to_owned()))
        .collect();
    let names: Vec<&str> = passwords.iter().map(|(user, _)| user.as_str()).collect();
    assert_eq!(
        names,
        ["admin", "accounts", "orders", "fulfillment", "lake-connect"]
    );
    for (user, password) in &passwords {
        assert!(
            !printed.contains(password.as_str()),
            "{user}'s password printed"
        );
    }
    let password = |name: &str| {
        passwords
            .iter()
            .find(|(user, _)| user == name)
            .map(|(_, password)| password.clone())
            .expect("a password")
    };
    let orders = platform::kafka::producer(&KafkaSettings {
        bootstrap_servers: format!("127.0.0.1:{kafka}"),
        security_protocol: "SASL_SSL".into(),
        sasl_mechanism: Some("SCRAM-SHA-512".into()),
        sasl_username: Some("orders".into()),
        sasl_password: Some(password("orders").into()),
        ssl_ca_location: Some(security.join("ca.pem").display().to_string()),
        delivery_timeout: Duration::from_secs(10),
        ..test_support::shared_kafka()
    })
    .expect("orders' producer");
    eventually("orders writing its own topic", EVENT_DEADLINE, || async {
        write_probe(&orders, shared_events::topics::ORDER_FULFILL)
            .await
            .ok()
    })
    .await;
    let refused = write_probe(&orders, shared_events::topics::CUSTOMER_CHANGE).await;
    assert!(
        matches!(
            refused,
            Err(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "orders writing accounts' topic: {refused:?}"
    );
    drop(started);
}

/// The topics `scripts/infra.sh start` made for this run (`scripts/test.sh` starts the shared
/// servers with it): the customer changes are a compacted changelog, the others are not.
#[tokio::test]
async fn the_local_topics_make_the_customer_changes_a_compacted_changelog() {
    let kafka = test_support::shared_kafka();
    for topic in shared_events::topics::ALL {
        let policy = test_support::topic_config(&kafka, topic, "cleanup.policy").await;
        let expected = if shared_events::topics::COMPACTED.contains(&topic) {
            "compact"
        } else {
            "delete"
        };
        assert_eq!(policy.as_deref(), Some(expected), "{topic}");
    }
}

/// `STOREFRONT_CHANGELOG_CLEANUP_POLICY` other than `compact` or `delete` stops the start before
/// anything is started.
#[test]
fn an_unknown_changelog_policy_stops_the_start_with_one_line() {
    let data = data_folder();
    let output = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/infra.sh"))
        .arg("start")
        .env("STOREFRONT_DATA_DIR", &data)
        .env("STOREFRONT_CHANGELOG_CLEANUP_POLICY", "keep")
        .output()
        .expect("running scripts/infra.sh");
    let line = last_line_with_nothing_left_running(&output, &data);
    assert!(
        line.contains("STOREFRONT_CHANGELOG_CLEANUP_POLICY is `keep`; use compact or delete"),
        "{line}"
    );
    assert!(!data.exists(), "nothing started, nothing written");
}

/// What `scripts/infra.sh start` runs to make the topics, with the changelog's policy as
/// `STOREFRONT_CHANGELOG_CLEANUP_POLICY` names it: `TOPIC:POLICY`.
fn create_topics(bootstrap: &str, topic: &str) -> Output {
    // An anonymous PLAINTEXT client: no client properties (/dev/null).
    Command::new("bash")
        .arg("-c")
        .arg(concat!(
            "source ",
            env!("CARGO_MANIFEST_DIR"),
            "/../dev/java.sh && java -cp \"$(java_classpath)\" storefront.dev.CreateTopics \"$1\" /dev/null 3 default \"$2\""
        ))
        .args(["create-topics", bootstrap, topic])
        .output()
        .expect("running CreateTopics")
}

/// The changelog is created with the policy asked for, and an existing one is switched: delete
/// while an upstream producer writes keyless records, compact again once it is gone.
#[tokio::test]
async fn the_changelog_policy_is_set_on_a_new_topic_and_switched_on_an_existing_one() {
    let kafka = test_support::shared_kafka();
    let topic = unique_name("changelog");
    for policy in ["delete", "compact", "delete"] {
        let output = create_topics(&kafka.bootstrap_servers, &format!("{topic}:{policy}"));
        assert!(output.status.success(), "{output:?}");
        // The broker's description catches up with a change a moment later.
        eventually(
            &format!("{topic} to be {policy}"),
            EVENT_DEADLINE,
            || async {
                let found = test_support::topic_config(&kafka, &topic, "cleanup.policy").await;
                (found.as_deref() == Some(policy)).then_some(())
            },
        )
        .await;
    }
    let refused = create_topics(&kafka.bootstrap_servers, &format!("{topic}:keep"));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("neither compact nor delete"),
        "{refused:?}"
    );
}

#[test]
fn the_benchmark_script_prints_its_options_without_building_or_starting_anything() {
    let tools = std::env::temp_dir().join(unique_name("no-tools"));
    // No cargo, no Java, no tools folder: a build or a server start would fail the script.
    let output = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/bench.sh"))
        .arg("--help")
        .env("PATH", "/usr/bin:/bin")
        .env("STOREFRONT_TOOLS_DIR", &tools)
        .env("STOREFRONT_DATA_DIR", &tools)
        .output()
        .expect("running scripts/bench.sh");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for option in [
        "--concurrency",
        "--flow-seconds",
        "backlog",
        "scale",
        "load",
    ] {
        assert!(printed.contains(option), "{option} in {printed}");
    }
    assert!(!tools.exists(), "the script set something up");
}
