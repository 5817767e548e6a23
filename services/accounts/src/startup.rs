//! Building the accounts app from settings and running it until it is told to stop.

use actix_web::dev::Server;
use actix_web::web;
use platform::http::actuator::Actuator;
use platform::outbox::{Outbox, Relay};
use tokio_util::sync::CancellationToken;

use crate::configuration::Settings;
use crate::routes;
use crate::state::AppState;
use crate::storage::CustomerRepository;

const TITLE: &str = "Storefront accounts";
const DESCRIPTION: &str = "Customer accounts. Every change is published on \
    `accounts.customer.change`; card numbers are always shown masked.";

/// The service name in metrics, logs and `actuator/info`.
const NAME: &str = "accounts";

/// The running pieces of the service: the HTTP server and the outbox relay.
pub struct Application {
    port: u16,
    server: Server,
    relay: Relay,
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
        let customers = CustomerRepository::new(&database, outbox.clone());
        customers.create_indexes().await?;
        let producer = platform::kafka::producer(&settings.kafka)?;
        let probe_producer = producer.clone();
        let relay = Relay::new(
            customers.documents(),
            producer,
            settings.outbox.clone(),
            settings.database.timeout,
        );

        let state = web::Data::new(AppState {
            customers,
            topics: settings.topics.clone(),
            base_path: settings.http.base_path.clone(),
        });
        let actuator = Actuator::new(NAME, database, probe_producer, None);
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

    /// Serves until SIGTERM, Ctrl-C or the shutdown token: then stops taking requests, lets
    /// those in flight finish, and lets the relay publish what they wrote.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        platform::lifecycle::serve(self.server, self.relay, self.shutdown).await
    }
}
