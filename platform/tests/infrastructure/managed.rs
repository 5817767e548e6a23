//! MongoDB Atlas is reachable by settings alone, without connecting anywhere. (Kafka clients for
//! Confluent Cloud and Amazon MSK, SASL_SSL with PLAIN or SCRAM: `platform::kafka`'s unit tests.)

use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;

#[test]
fn database_credentials_never_show_in_debug_output() {
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
