//! Building the orders app from settings.

use actix_web::web;
use platform::consumer::{Consumer, Subscription, dead_letter_headers};
use platform::http::actuator::Actuator;
use platform::http::server::About;
use platform::lifecycle::Application;
use platform::mongo::Connector;
use platform::outbox::Outbox;
use platform::relay::Relay;
use shared_events::asyncapi::EventFlow;
use shared_events::topics;

use crate::configuration::Settings;
use crate::events::OrdersHandler;
use crate::routes;
use crate::state::AppState;
use crate::storage::CustomerOrdersRepository;

const TITLE: &str = "Storefront orders";
const DESCRIPTION: &str = "Customers' orders. Keeps a copy of each accounts customer, \
    requests fulfillment of approved orders on `orders.order.fulfill`, and records the status \
    changes fulfillment reports.";

/// The service name in metrics, logs and `actuator/info`.
const NAME: &str = "orders";

/// Connects to the database and the broker and binds the listener: the HTTP server, the outbox
/// relay and the consumer, which run once [`Application::run_until_stopped`] is called.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    platform::lifecycle::install_observability(NAME, &settings.telemetry)?;
    let connector = Connector::new(&settings.database).await?;
    let database = connector.shared().clone();
    let outbox = Outbox::new(&settings.outbox);
    let customers = CustomerOrdersRepository::new(&database, outbox.clone(), settings.documents);
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
    let consumer = Consumer::new(
        &settings.kafka,
        Subscription {
            group_id: settings.consumer.group_id.clone(),
            instance_id: settings.consumer.instance_id.clone(),
            topics: vec![
                settings.topics.customer_change.clone(),
                settings.topics.order_status_change.clone(),
            ],
            dead_letter_topic: shared_events::topics::dead_letter,
            handler_timeout: settings.database.timeout,
            max_poll_interval: None,
            prefetch_kbytes: settings.consumer.prefetch_kbytes,
        },
        producer.clone(),
        OrdersHandler {
            customers: customers.clone(),
            topics: settings.topics.clone(),
        },
    )?;

    let actuator = Actuator::new(NAME, database.clone(), producer, Some(consumer.heartbeat()));
    let events = EventFlow {
        service: NAME,
        group: Some(settings.consumer.group_id.clone()),
        topics: vec![
            (
                topics::CUSTOMER_CHANGE,
                settings.topics.customer_change.clone(),
            ),
            (topics::ORDER_FULFILL, settings.topics.order_fulfill.clone()),
            (
                topics::ORDER_STATUS_CHANGE,
                settings.topics.order_status_change.clone(),
            ),
        ],
        dead_letter_headers: &dead_letter_headers::DESCRIBED,
    };
    let about = About {
        title: TITLE,
        description: DESCRIPTION,
        events: shared_events::asyncapi::document(&events, TITLE, DESCRIPTION),
    };
    let (topics, base_path) = (settings.topics.clone(), settings.http.base_path.clone());
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
                base_path: base_path.clone(),
            }));
            routes::configure(cfg);
        },
    )?;
    Ok(Application::new(server, port, relay).with_consumer(consumer))
}
