//! Serving a service's OpenAPI document and Swagger UI under its base path, and its AsyncAPI
//! document.

use utoipa::openapi::info::InfoBuilder;
use utoipa::openapi::{ComponentsBuilder, OpenApi, OpenApiBuilder};
use utoipa_swagger_ui::SwaggerUi;

use crate::http::errors::ErrorBody;

/// `{base}/v3/api-docs` (the document) and `{base}/swagger-ui/` (its UI, assets compiled in).
pub fn documentation(
    base_path: &str,
    title: &str,
    description: &str,
    mut api: OpenApi,
) -> SwaggerUi {
    api.info = InfoBuilder::new()
        .title(title)
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(description))
        .build();
    // utoipa collects the schemas of `body = ...` responses only, not those that shared
    // responses such as `BodyRejected` refer to.
    api.merge(
        OpenApiBuilder::new()
            .components(Some(
                ComponentsBuilder::new().schema_from::<ErrorBody>().build(),
            ))
            .build(),
    );
    SwaggerUi::new(format!("{base_path}/swagger-ui/{{_:.*}}"))
        .url(format!("{base_path}/v3/api-docs"), api)
}

/// `GET {base}/v3/asyncapi`: the AsyncAPI document of the service's events.
pub(crate) async fn events(
    document: actix_web::web::Data<serde_json::Value>,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(document.get_ref())
}
