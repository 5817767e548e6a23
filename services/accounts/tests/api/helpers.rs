use std::time::Duration;

use accounts::configuration::{self, Settings};
use mongodb::bson::{Document, doc};
use serde_json::Value;
use test_support::{
    ConsumedRecord, EVENT_DEADLINE, TopicReader, create_topics_with_dead_letters, eventually,
    unique_name,
};

/// A running accounts app with its own database and topic.
pub(crate) type TestApp = test_support::TestApp<Settings>;

/// Settings for a test: a free port, a database and a topic of its own.
pub(crate) async fn test_settings() -> Settings {
    let mut settings = configuration::load().expect("loading settings");
    settings.http.host = "127.0.0.1".into();
    settings.http.port = 0;
    settings.http.workers = 1;
    settings.database.name = unique_name("accounts");
    settings.topics.customer_change = unique_name("customer-change");
    settings.outbox.poll_interval = Duration::from_millis(200);
    create_topics_with_dead_letters(&settings.kafka, &[&settings.topics.customer_change]).await;
    settings
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings().await).await
}

pub(crate) async fn spawn_app_with(settings: Settings) -> TestApp {
    let application = accounts::startup::build(settings.clone())
        .await
        .expect("building the app");
    let (port, shutdown) = (application.port(), application.shutdown_token());
    let base_path = settings.http.base_path.clone();
    TestApp::spawn(
        settings,
        port,
        &base_path,
        shutdown,
        application.run_until_stopped(),
    )
}

/// What accounts tests ask of their app besides HTTP.
pub(crate) trait AccountsApp {
    /// Reads the app's customer change topic from its beginning.
    fn customer_events(&self) -> TopicReader;

    /// Creates a customer with this email; the created customer as answered (201).
    async fn create_customer(&self, email: &str) -> Value;

    /// Every record of the customer change topic once the relay has published every event the
    /// app's writes stored so far: the topic read to its end, nothing left to come.
    async fn published_customer_events(&self) -> Vec<ConsumedRecord>;
}

impl AccountsApp for TestApp {
    fn customer_events(&self) -> TopicReader {
        TopicReader::new(&self.settings.kafka, &self.settings.topics.customer_change)
    }

    async fn create_customer(&self, email: &str) -> Value {
        let response = self.post("/customers", &customer_body(email)).await;
        assert_eq!(response.status(), 201, "creating a customer");
        response.json().await.expect("the created customer")
    }

    async fn published_customer_events(&self) -> Vec<ConsumedRecord> {
        let database = platform::mongo::connect(&self.settings.database)
            .await
            .expect("connecting to the test's database");
        let pending = doc! { format!("{}.0", platform::outbox::FIELD): { "$exists": true } };
        eventually("the outbox to be drained", EVENT_DEADLINE, || async {
            let collections = database.list_collection_names().await.ok()?;
            for name in collections {
                let collection = database.collection::<Document>(&name);
                if collection.count_documents(pending.clone()).await.ok()? > 0 {
                    return None;
                }
            }
            Some(())
        })
        .await;
        self.customer_events()
            .read_all(EVENT_DEADLINE)
            .await
            .to_vec()
    }
}

/// A valid customer body.
pub(crate) fn customer_body(email: &str) -> Value {
    serde_json::json!({
        "name": {"title": "Dr.", "firstName": "Ada", "lastName": "Lovelace"},
        "contact": {"primaryPhone": "555-000-1111", "email": email},
        "addresses": [{
            "type": "SHIPPING", "description": "Home", "address1": "1 Analytical Way",
            "city": "London", "state": "LN", "postalCode": "00001"
        }],
        "creditCards": [{
            "type": "PRIMARY", "description": "VISA", "number": "4111-1111-1111-1234",
            "expiration": "1/30", "nameOnCard": "Ada Lovelace"
        }]
    })
}
