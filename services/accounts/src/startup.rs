//! Building the accounts app from settings.

use actix_web::web;
use platform::consumer::dead_letter_headers;
use platform::http::actuator::Actuator;
use platform::http::server::About;
use platform::lifecycle::Application;
use platform::mongo::Connector;
use platform::outbox::Outbox;
use platform::relay::Relay;
use shared_events::asyncapi::EventFlow;
use shared_events::topics;

use crate::configuration::Settings;
use crate::routes;
use crate::state::AppState;
use crate::storage::CustomerRepository;

const TITLE: &str = "Storefront accounts";
const DESCRIPTION: &str = "Customer accounts. Every change is published on \
    `accounts.customer.change`; card numbers are always shown masked.";

/// The service name in metrics, logs and `actuator/info`.
const NAME: &str = "accounts";

/// Connects to the database and the broker and binds the listener: the HTTP server and the
/// outbox relay, which run once [`Application::run_until_stopped`] is called.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    platform::lifecycle::install_observability(NAME, &settings.telemetry)?;
    let connector = Connector::new(&settings.database).await?;
    let database = connector.shared().clone();
    let outbox = Outbox::new(&settings.outbox);
    let customers = CustomerRepository::new(&database, outbox.clone(), settings.documents);
    customers.create_indexes().await?;
    let producer = platform::kafka::producer(&settings.kafka)?;
    // Whether an upstream producer's keyless records can reach the changelog: logged and
    // exported once, in the background.
    platform::kafka::spawn_changelog_policy_report(
        &settings.kafka,
        &settings.topics.customer_change,
    );
    // The same `outbox` as `customers`: each of their writes that adds events wakes the relay
    // (which would otherwise wait for its next poll), and the relay's backlog reaches them.
    let relay = Relay::new(
        customers.documents().collection(),
        &outbox,
        producer.clone(),
        settings.outbox.clone(),
        settings.database.timeout,
    );

    let actuator = Actuator::new(NAME, database.clone(), producer, None);
    let events = EventFlow {
        service: NAME,
        group: None,
        topics: vec![(
            topics::CUSTOMER_CHANGE,
            settings.topics.customer_change.clone(),
        )],
        dead_letter_headers: &dead_letter_headers::DESCRIBED,
    };
    let about = About {
        title: TITLE,
        description: DESCRIPTION,
        events: shared_events::asyncapi::document(&events, TITLE, DESCRIPTION),
    };
    let (topics, events, base_path) = (
        settings.topics.clone(),
        settings.events.clone(),
        settings.http.base_path.clone(),
    );
    let (server, port) = platform::http::server::server(
        &settings.http,
        about,
        actuator,
        outbox,
        connector,
        move |cfg, database| {
            // Built in each worker, on the worker's own MongoDB client.
            cfg.app_data(web::Data::new(AppState {
                customers: customers.on(database),
                topics: topics.clone(),
                events: events.clone(),
                base_path: base_path.clone(),
            }));
            routes::configure(cfg);
        },
    )?;
    Ok(Application::new(server, port, relay))
}
