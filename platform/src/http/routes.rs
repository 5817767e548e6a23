//! Where a service registers its routes: one type that both the server and the actuator, and
//! every service's route table, register through.

use actix_web::dev::HttpServiceFactory;
use actix_web::web;
use utoipa_actix_web::OpenApiFactory;

/// Where a service registers its routes: into an HTTP worker's app, which serves them, or into
/// the OpenAPI document, which also collects each route's operation and schemas. The server
/// builds the document once; a worker that built it too would keep the peak of that build in
/// its allocator arena (about 1 MiB per worker) for nothing.
pub enum RouteConfig<'c, 's> {
    Serve(&'c mut web::ServiceConfig),
    Document(&'c mut utoipa_actix_web::service_config::ServiceConfig<'s>),
}

impl RouteConfig<'_, '_> {
    pub fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        match self {
            RouteConfig::Serve(cfg) => {
                cfg.service(factory);
            }
            RouteConfig::Document(cfg) => {
                cfg.service(factory);
            }
        }
        self
    }

    /// Data for the handlers of a worker's app; the document's pass serves nothing and keeps none.
    pub fn app_data<U: 'static>(&mut self, data: U) -> &mut Self {
        if let RouteConfig::Serve(cfg) = self {
            cfg.app_data(data);
        }
        self
    }
}
