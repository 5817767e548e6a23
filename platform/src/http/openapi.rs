//! Serving a service's OpenAPI document and Swagger UI under its base path, and its AsyncAPI
//! document with the AsyncAPI project's viewer (`platform/assets/asyncapi-viewer/`, vendored by
//! `scripts/vendor-asyncapi-viewer.sh` and compiled in, gzipped, so nothing is fetched at run
//! time).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_ENCODING, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::info::InfoBuilder;
use utoipa::openapi::{ComponentsBuilder, OpenApi, OpenApiBuilder};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::http::errors::ErrorBody;

/// The service's OpenAPI document, built once and shared by the HTTP workers: when each worker
/// built its own and handed it to Swagger UI to serve, that cost about 0.8 MiB of resident
/// memory per worker. It is serialized when asked for, so start-up does not run that code.
pub(crate) fn api_document(title: &str, description: &str, mut api: OpenApi) -> OpenApi {
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
    api
}

/// `GET {base}/v3/api-docs`: the document of [`api_document`].
pub(crate) async fn api_docs(document: web::Data<OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(document.get_ref())
}

/// `{base}/swagger-ui/`: Swagger UI (assets compiled in), showing `{base}/v3/api-docs`.
pub(crate) fn swagger_ui(base_path: &str) -> SwaggerUi {
    SwaggerUi::new(format!("{base_path}/swagger-ui/{{_:.*}}"))
        .config(Config::new([format!("{base_path}/v3/api-docs")]))
}

/// `GET {base}/v3/asyncapi`: the AsyncAPI document of the service's events.
pub(crate) async fn events(document: web::Data<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(document.get_ref())
}

/// The viewer's script and stylesheet, gzipped.
const VIEWER_SCRIPT: &[u8] = include_bytes!("../../assets/asyncapi-viewer/index.js.gz");
const VIEWER_STYLE: &[u8] = include_bytes!("../../assets/asyncapi-viewer/default.min.css.gz");

/// The page of `{base}/asyncapi/`, which shows `{base}/v3/asyncapi` in the viewer.
pub(crate) fn events_page(title: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: events</title>
<link rel="stylesheet" href="default.min.css">
</head>
<body>
<div id="asyncapi"></div>
<script src="index.js"></script>
<script>
AsyncApiStandalone.render(
  {{ schema: {{ url: "../v3/asyncapi", options: {{ method: "GET" }} }},
    config: {{ show: {{ sidebar: true }} }} }},
  document.getElementById("asyncapi"));
</script>
</body>
</html>
"#
    )
}

/// `GET {base}/asyncapi/`: the viewer's page.
pub(crate) async fn events_viewer(page: web::Data<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.get_ref().clone())
}

/// `GET {base}/asyncapi/{asset}`: the viewer's script or stylesheet.
pub(crate) async fn events_viewer_asset(asset: web::Path<String>) -> HttpResponse {
    let (body, kind) = match asset.as_str() {
        "index.js" => (VIEWER_SCRIPT, "text/javascript; charset=utf-8"),
        "default.min.css" => (VIEWER_STYLE, "text/css; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((CONTENT_ENCODING, "gzip"))
        .insert_header((CACHE_CONTROL, "public, max-age=86400"))
        .body(body)
}

/// `GET {base}/asyncapi`: to the page, whose relative links need the slash.
pub(crate) async fn events_viewer_redirect(request: HttpRequest) -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((LOCATION, format!("{}/", request.path())))
        .finish()
}
