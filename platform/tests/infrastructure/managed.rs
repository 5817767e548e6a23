//! Managed clusters are reachable by settings alone: the clients build from the settings
//! Confluent Cloud, Amazon MSK and MongoDB Atlas need, without connecting anywhere.

use std::time::Duration;

use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;
use platform::settings::KafkaSettings;
use rdkafka::consumer::BaseConsumer;

fn sasl(mechanism: &str) -> KafkaSettings {
    KafkaSettings {
        bootstrap_servers: "broker.example.invalid:9092".into(),
        security_protocol: "SASL_SSL".into(),
        sasl_mechanism: Some(mechanism.into()),
        sasl_username: Some("api-key".into()),
        sasl_password: Some("a-secret-value".into()),
        delivery_timeout: Duration::from_secs(5),
        idempotence: true,
        debug: None,
    }
}

#[test]
fn kafka_clients_build_for_sasl_ssl_with_plain_and_scram() {
    for mechanism in ["PLAIN", "SCRAM-SHA-512"] {
        let settings = sasl(mechanism);
        // Without TLS support compiled in, librdkafka refuses SASL_SSL right here.
        let _producer = platform::kafka::producer(&settings)
            .unwrap_or_else(|error| panic!("a {mechanism} producer: {error:#}"));
        let _consumer: BaseConsumer = platform::kafka::client_config(&settings)
            .set("group.id", "managed")
            .create()
            .unwrap_or_else(|error| panic!("a {mechanism} consumer: {error}"));
    }
}

#[test]
fn secrets_never_show_in_debug_output() {
    let settings = sasl("PLAIN");
    let printed = format!("{settings:?}");
    assert!(!printed.contains("a-secret-value"), "{printed}");
    let mut database = crate::database_settings();
    database.uri = "mongodb+srv://user:db-secret@cluster0.example.mongodb.net/".into();
    assert!(!format!("{database:?}").contains("db-secret"));
}

#[tokio::test]
async fn an_atlas_uri_is_accepted_by_the_driver_options() {
    // Parsing a mongodb+srv URI looks up its SRV record: failing at that lookup (and not at the
    // URI) shows the driver takes the scheme, with the DNS resolver compiled in.
    let error = ClientOptions::parse("mongodb+srv://user:secret@cluster0.example.invalid/")
        .await
        .expect_err("there is no such host to resolve here");
    assert!(
        matches!(*error.kind, ErrorKind::DnsResolve { .. }),
        "{error}"
    );
}
