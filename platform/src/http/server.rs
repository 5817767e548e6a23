//! The HTTP server of a service: where routes, documentation, extractor settings and
//! middleware come together.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use mongodb::Database;
use utoipa_actix_web::{AppExt, scope};

use crate::http::actuator::{self, Actuator, Exposure};
use crate::http::errors::no_route;
use crate::http::extract::{json_config, path_config, query_config};
use crate::http::methods::{Routes, check_method};
use crate::http::middleware::{Limits, guard, observe};
use crate::http::openapi;
use crate::http::routes::RouteConfig;
use crate::mongo::Connector;
use crate::outbox::Outbox;
use crate::settings::HttpSettings;

/// What a service says about itself: the OpenAPI document's title and description, and the
/// AsyncAPI document of the events it sends and receives, served at `{base}/v3/asyncapi`.
pub struct About {
    pub title: &'static str,
    pub description: &'static str,
    pub events: serde_json::Value,
}

/// The HTTP server of a service, bound to `settings.host:port`: every route under
/// `settings.base_path` (the service's, registered by `configure` once per worker with that
/// worker's own MongoDB client from `databases`, and the
/// actuator's), the OpenAPI document and Swagger UI collected from those routes, JSON errors for
/// every rejected request, 405 with `Allow` for a method a served path does not answer, the
/// request deadline and the outbox's backpressure, and [`observe`] around it all. Returns the server and its port.
pub fn server<F>(
    settings: &HttpSettings,
    about: About,
    actuator: Actuator,
    outbox: Outbox,
    databases: Connector,
    configure: F,
) -> anyhow::Result<(Server, u16)>
where
    F: Fn(&mut RouteConfig<'_, '_>, &Database) + Clone + Send + 'static,
{
    let listener = TcpListener::bind((settings.host.as_str(), settings.port))
        .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
    let port = listener.local_addr()?.port();
    let exposure = Exposure::parse(&settings.actuator_exposure)?;
    let routes = move |cfg: &mut RouteConfig<'_, '_>, database: &Database| {
        configure(cfg, database);
        actuator::configure(cfg, actuator.clone(), exposure);
    };
    let limits = Limits {
        request_timeout: settings.request_timeout,
        outbox,
    };
    let base_path = settings.base_path.clone();
    let max_body_bytes = settings.max_body_bytes;
    // The document is collected from the same route registrations the workers make (with the
    // shared client: this pass serves nothing).
    let (_, api) = App::new()
        .into_utoipa_app()
        .service(
            scope(base_path.as_str())
                .configure(|cfg| routes(&mut RouteConfig::Document(cfg), databases.shared())),
        )
        .split_for_parts();
    let methods = std::sync::Arc::new(Routes::of(&api));
    let events = web::Data::new(about.events);
    let events_page = web::Data::new(openapi::events_page(about.title));
    let api_document = web::Data::new(openapi::api_document(about.title, about.description, api));
    let mut server = HttpServer::new(move || {
        let routes = routes.clone();
        // Called on the worker's own thread and runtime.
        let database = databases.worker_database();
        let limits = limits.clone();
        let methods = methods.clone();
        let events = events.clone();
        let events_page = events_page.clone();
        let api_document = api_document.clone();
        App::new()
            .wrap(from_fn(move |request, next| {
                check_method(methods.clone(), request, next)
            }))
            .wrap(from_fn(move |request, next| {
                guard(limits.clone(), request, next)
            }))
            .wrap(from_fn(observe))
            .app_data(json_config(max_body_bytes))
            .app_data(query_config())
            .app_data(path_config())
            // Before the scope: a scope that matches the prefix keeps every request under it.
            .service(
                web::resource(format!("{base_path}/v3/api-docs"))
                    .app_data(api_document)
                    .route(web::get().to(openapi::api_docs)),
            )
            .service(openapi::swagger_ui(&base_path))
            .service(
                web::resource(format!("{base_path}/v3/asyncapi"))
                    .app_data(events)
                    .route(web::get().to(openapi::events)),
            )
            .service(
                web::resource(format!("{base_path}/asyncapi"))
                    .route(web::get().to(openapi::events_viewer_redirect)),
            )
            .service(
                web::resource(format!("{base_path}/asyncapi/"))
                    .app_data(events_page)
                    .route(web::get().to(openapi::events_viewer)),
            )
            .service(
                web::resource(format!("{base_path}/asyncapi/{{asset}}"))
                    .route(web::get().to(openapi::events_viewer_asset)),
            )
            .service(
                web::scope(base_path.as_str())
                    .configure(move |cfg| routes(&mut RouteConfig::Serve(cfg), &database)),
            )
            .default_service(web::to(no_route))
    })
    // Shutdown is the service's to decide (SIGTERM stops the consumer and relay too).
    .disable_signals()
    .shutdown_timeout(10);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    let server = server.listen(listener)?.run();
    tracing::info!(port, "listening");
    Ok((server, port))
}
