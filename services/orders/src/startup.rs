//! Building the orders app from settings and running it until it is told to stop.

use actix_web::dev::Server;
use actix_web::web;
use platform::consumer::{Consumer, Subscription};
use platform::http::actuator::Actuator;
use platform::outbox::{Outbox, Relay};
use tokio_util::sync::CancellationToken;

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

/// The running pieces of the service: the HTTP server, the outbox relay and the consumer.
pub struct Application {
    port: u16,
    server: Server,
    relay: Relay,
    consumer: Consumer<OrdersHandler>,
    shutdown: CancellationToken,
}

impl Application {
    /// Connects to the database and the broker and binds the listener; nothing runs until
    /// [`Application::run_until_stopped`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        platform::metrics::install(NAME);
        if let Some(endpoint) = &settings.telemetry.otlp_endpoint {
            platform::trace::export::install(endpoint, NAME)?;
        }
        let database = platform::mongo::connect(&settings.database).await?;
        let outbox = Outbox::new(&settings.outbox);
        let customers = CustomerOrdersRepository::new(&database, outbox.clone());
        customers.create_indexes().await?;
        let producer = platform::kafka::producer(&settings.kafka)?;
        let relay = Relay::new(
            customers.documents(),
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
            },
            producer.clone(),
            OrdersHandler {
                customers: customers.clone(),
                topics: settings.topics.clone(),
            },
        )?;

        let probe_producer = producer;
        let state = web::Data::new(AppState {
            customers,
            topics: settings.topics.clone(),
            base_path: settings.http.base_path.clone(),
        });
        let actuator = Actuator::new(NAME, database, probe_producer, Some(consumer.heartbeat()));
        let (server, port) = platform::http::server::server(
            &settings.http,
            TITLE,
            DESCRIPTION,
            actuator,
            outbox,
            move |cfg| {
                cfg.app_data(state.clone());
                routes::configure(cfg);
            },
        )?;
        Ok(Application {
            port,
            server,
            relay,
            consumer,
            shutdown: CancellationToken::new(),
        })
    }

    /// The port the HTTP server listens on (the one picked when the settings said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cancelling this token stops the service as SIGTERM would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves and consumes until SIGTERM, Ctrl-C or the shutdown token: then stops taking
    /// requests and messages, lets those in flight finish, and lets the relay publish what
    /// they wrote.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        platform::lifecycle::serve_and_consume(
            self.server,
            self.relay,
            self.consumer,
            self.shutdown,
        )
        .await
    }
}
