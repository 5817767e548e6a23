//! Which methods each path answers, from the API's own OpenAPI document: a request for a path
//! the API serves, with a method that path does not answer, gets 405 with an `Allow` header
//! (and `OPTIONS` gets the `Allow` header alone), as Spring MVC answers.
//!
//! A path is the path of its most specific route, as Spring matches: a literal segment wins
//! over a variable one at the first place they differ, so `PUT customers/sample` is a method
//! the sample route does not serve (405), not a `PUT customers/{id}` for the id "sample".

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::PathItem;

use crate::http::errors::{ApiError, Code};

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Variable,
}

/// The routes of an API and the methods each answers.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<(Vec<Segment>, Vec<Method>)>,
}

impl Routes {
    /// Every path of the document with the methods it documents.
    pub fn of(api: &OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| (segments(path), methods(item)))
            .filter(|(_, methods)| !methods.is_empty())
            .collect();
        Routes { routes }
    }

    /// The methods `path` answers, if the API serves it at all.
    pub fn allowed(&self, path: &str) -> Option<&[Method]> {
        let requested: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .filter(|(route, _)| matches(route, &requested))
            .max_by(|(left, _), (right, _)| specificity(left).cmp(&specificity(right)))
            .map(|(_, methods)| methods.as_slice())
    }
}

fn segments(path: &str) -> Vec<Segment> {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                Segment::Variable
            } else {
                Segment::Literal(segment.to_owned())
            }
        })
        .collect()
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (&item.get, Method::GET),
        (&item.put, Method::PUT),
        (&item.post, Method::POST),
        (&item.delete, Method::DELETE),
        (&item.patch, Method::PATCH),
        (&item.head, Method::HEAD),
    ]
    .into_iter()
    .filter(|(operation, _)| operation.is_some())
    .map(|(_, method)| method)
    .collect()
}

fn matches(route: &[Segment], requested: &[&str]) -> bool {
    route.len() == requested.len()
        && route
            .iter()
            .zip(requested)
            .all(|(segment, requested)| match segment {
                Segment::Literal(literal) => literal == requested,
                Segment::Variable => !requested.is_empty(),
            })
}

/// Orders routes of one length: literal before variable, from the first segment on.
fn specificity(route: &[Segment]) -> Vec<bool> {
    route
        .iter()
        .map(|segment| matches!(segment, Segment::Literal(_)))
        .collect()
}

/// The methods as the `Allow` header lists them.
fn listed(methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    names.join(", ")
}

/// Answers a method the requested path does not serve with 405 and `Allow`, and `OPTIONS`
/// with 200 and `Allow`; every other request goes on to the routes.
pub(crate) async fn check_method(
    routes: Arc<Routes>,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(allowed) = routes
        .allowed(request.path())
        .filter(|allowed| !allowed.contains(request.method()))
    else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    let allow = listed(allowed);
    let mut response = if request.method() == Method::OPTIONS {
        HttpResponse::Ok().finish()
    } else {
        ApiError::new(
            Code::MethodNotAllowed,
            format!(
                "{} is not served at {}; it answers {allow}",
                request.method(),
                request.path()
            ),
        )
        .response()
    };
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(ALLOW, value);
    }
    Ok(request.into_response(response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder};

    use super::*;

    fn api(paths: &[(&str, &[HttpMethod])]) -> OpenApi {
        let mut builder = PathsBuilder::new();
        for (path, methods) in paths {
            for method in *methods {
                builder = builder.path(
                    *path,
                    PathItem::new(method.clone(), OperationBuilder::new().build()),
                );
            }
        }
        OpenApiBuilder::new()
            .info(InfoBuilder::new().title("t").version("1").build())
            .paths(builder.build())
            .build()
    }

    #[test]
    fn the_most_specific_route_decides_what_a_path_answers() {
        let routes = Routes::of(&api(&[
            ("/accounts/customers", &[HttpMethod::Get, HttpMethod::Post]),
            (
                "/accounts/customers/sample",
                &[HttpMethod::Get, HttpMethod::Post],
            ),
            (
                "/accounts/customers/{id}",
                &[HttpMethod::Get, HttpMethod::Put, HttpMethod::Delete],
            ),
            ("/accounts/{any}/orders", &[HttpMethod::Get]),
        ]));
        assert_eq!(
            routes.allowed("/accounts/customers/sample"),
            Some(&[Method::GET, Method::POST][..]),
            "the literal segment wins over {{id}}"
        );
        assert_eq!(
            routes.allowed("/accounts/customers/5b18"),
            Some(&[Method::GET, Method::PUT, Method::DELETE][..])
        );
        assert_eq!(
            routes.allowed("/accounts/customers/"),
            None,
            "a trailing slash is another path, which nothing serves"
        );
        assert_eq!(routes.allowed("/accounts/customers/a/b"), None);
        assert_eq!(routes.allowed("/accounts/nothing"), None);
        assert_eq!(
            routes.allowed("/accounts/x/orders"),
            Some(&[Method::GET][..])
        );
    }

    #[test]
    fn the_allow_header_lists_the_methods_in_order() {
        assert_eq!(listed(&[Method::GET, Method::POST]), "GET, POST");
    }
}
