//! HAL as Spring Data REST serves it: links to where an entity lives, and collection pages with
//! their neighbours; the URLs they are built from, as the client addressed the service; and the
//! media type they answer with, negotiated from the request's `Accept`.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::http::header::{self, Accept, Header, Quality};
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::paging::PageRequest;

/// The absolute URL of the request's path, as the client addressed it.
pub fn request_url(request: &HttpRequest) -> String {
    let connection = request.connection_info();
    format!(
        "{}://{}{}",
        connection.scheme(),
        connection.host(),
        request.path()
    )
}

/// The base URL of the service (scheme, host and base path) as the client addressed it.
pub fn base_url(request: &HttpRequest, base_path: &str) -> String {
    let url = request_url(request);
    match url.find(base_path) {
        Some(start) => url[..start + base_path.len()].to_owned(),
        None => url,
    }
}

/// The media type of HAL, which Spring Data REST answers with unless asked for plain JSON.
pub const HAL_JSON: &str = "application/hal+json";

/// The media type a HAL resource answers with: the same body either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    HalJson,
    Json,
}

impl MediaType {
    /// The type the request prefers, as Spring Data REST chooses it: the acceptable types in
    /// order of preference (q, then specificity, then as listed), and the first that names
    /// either: `application/json` for plain JSON; `application/hal+json`, `application/*` or
    /// `*/*` for HAL (for plain JSON where the request refuses HAL with q=0). Without an
    /// `Accept`, with one that does not parse, or with one that accepts neither, HAL: the
    /// resource has no other form to offer, and an answer a client can read beats a 406.
    pub fn accepted_by(request: &HttpRequest) -> Self {
        let Ok(accept) = Accept::parse(request) else {
            return MediaType::HalJson;
        };
        let (acceptable, refused): (Vec<_>, Vec<_>) = accept
            .iter()
            .cloned()
            .partition(|item| item.quality > Quality::ZERO);
        let hal_refused = refused
            .iter()
            .any(|item| item.item.essence_str() == HAL_JSON);
        // `ranked` would keep the refused types, last; they must not be chosen.
        Accept(acceptable)
            .ranked()
            .iter()
            .find_map(|mime| match mime.essence_str() {
                "application/json" => Some(MediaType::Json),
                HAL_JSON => Some(MediaType::HalJson),
                "application/*" | "*/*" if hal_refused => Some(MediaType::Json),
                "application/*" | "*/*" => Some(MediaType::HalJson),
                _ => None,
            })
            .unwrap_or(MediaType::HalJson)
    }

    fn content_type(self) -> &'static str {
        match self {
            MediaType::HalJson => HAL_JSON,
            MediaType::Json => "application/json",
        }
    }
}

/// A HAL resource (an entity or a collection page) as an answer: 200 with the body as JSON,
/// typed as the request's `Accept` asks ([`MediaType::accepted_by`]). `customize()` sets
/// another status or headers (201 with `Location`).
pub struct Hal<T>(pub T);

impl<T: Serialize> Responder for Hal<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok()
            .content_type(MediaType::accepted_by(request).content_type())
            // The same URL answers two types, so a cache must key them on `Accept`.
            .insert_header((header::VARY, "Accept"))
            .json(self.0)
    }
}

/// A HAL link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub href: String,
}

/// The `_links` of an entity: where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SelfLinks {
    #[serde(rename = "self")]
    pub self_link: Link,
}

impl SelfLinks {
    pub fn to(href: String) -> Self {
        SelfLinks {
            self_link: Link { href },
        }
    }
}

/// Where a page sits in its collection, as Spring Data REST reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMetadata {
    pub size: u64,
    pub total_elements: u64,
    pub total_pages: u64,
    pub number: u64,
}

/// A HAL collection page: `_embedded.<relation>`, `_links` (self, first, prev, next, last)
/// and `page`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HalPage<T> {
    #[serde(rename = "_embedded")]
    pub embedded: BTreeMap<String, Vec<T>>,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
    pub page: PageMetadata,
}

impl<T> HalPage<T> {
    /// One page of `total` items, linked to its neighbours under `collection_url`.
    pub fn new(
        relation: &str,
        collection_url: &str,
        items: Vec<T>,
        request: &PageRequest,
        total: u64,
    ) -> Self {
        let total_pages = total.div_ceil(request.size);
        let link = |page: u64| Link {
            href: format!("{collection_url}?{}", request.query_string(page)),
        };
        let mut links = BTreeMap::new();
        links.insert("self".to_owned(), link(request.page));
        if total_pages > 0 {
            links.insert("first".to_owned(), link(0));
            links.insert("last".to_owned(), link(total_pages - 1));
        }
        if request.page > 0 {
            links.insert("prev".to_owned(), link(request.page - 1));
        }
        if request.page + 1 < total_pages {
            links.insert("next".to_owned(), link(request.page + 1));
        }
        HalPage {
            embedded: BTreeMap::from([(relation.to_owned(), items)]),
            links,
            page: PageMetadata {
                size: request.size,
                total_elements: total,
                total_pages,
                number: request.page,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::paging::PageQuery;

    fn negotiated(accept: Option<&str>) -> MediaType {
        let mut request = actix_web::test::TestRequest::default();
        if let Some(accept) = accept {
            request = request.insert_header((header::ACCEPT, accept));
        }
        MediaType::accepted_by(&request.to_http_request())
    }

    #[test]
    fn hal_is_answered_unless_plain_json_is_preferred() {
        use MediaType::{HalJson, Json};
        let table = [
            (None, HalJson),
            (Some(""), HalJson),
            (Some("*/*"), HalJson),
            (Some("application/*"), HalJson),
            (Some("application/hal+json"), HalJson),
            (Some("application/hal+json;charset=UTF-8"), HalJson),
            (Some("application/json"), Json),
            (Some("application/json;charset=UTF-8"), Json),
            (Some("application/json, */*"), Json),
            (Some("*/*, application/json"), Json),
            (Some("application/*, application/json"), Json),
            (Some("application/json, application/hal+json"), Json),
            (Some("application/hal+json, application/json"), HalJson),
            (Some("application/json, application/hal+json;q=0.9"), Json),
            (
                Some("application/json;q=0.8, application/hal+json"),
                HalJson,
            ),
            (Some("application/json;q=0.5, */*;q=0.8"), HalJson),
            (Some("application/json;q=0, */*"), HalJson),
            (Some("application/hal+json;q=0, */*"), Json),
            (Some("application/hal+json;q=0, application/json"), Json),
            (Some("text/html, application/xml;q=0.9, */*;q=0.8"), HalJson),
            (Some("text/plain"), HalJson),
            (Some("not a media type"), HalJson),
        ];
        for (accept, expected) in table {
            assert_eq!(negotiated(accept), expected, "Accept: {accept:?}");
        }
    }

    #[test]
    fn a_hal_page_links_its_neighbours() {
        let query = PageQuery {
            page: Some(1),
            size: Some(2),
            sort: None,
        };
        let request = PageRequest::parse(&query, &[]).unwrap();
        let page = serde_json::to_value(HalPage::new(
            "customers",
            "http://h/accounts/customers",
            vec![json!({"id": "a"})],
            &request,
            5,
        ))
        .unwrap();
        assert_eq!(
            page["page"],
            json!({"size": 2, "totalElements": 5, "totalPages": 3, "number": 1})
        );
        assert_eq!(
            page["_links"]["next"]["href"],
            "http://h/accounts/customers?page=2&size=2"
        );
        assert_eq!(
            page["_links"]["prev"]["href"],
            "http://h/accounts/customers?page=0&size=2"
        );
        assert_eq!(page["_embedded"]["customers"][0]["id"], "a");
    }

    #[test]
    fn an_empty_collection_has_no_pages_and_no_neighbours() {
        let request = PageRequest::parse(&PageQuery::default(), &[]).unwrap();
        let page = serde_json::to_value(HalPage::<Value>::new(
            "customers",
            "http://h/c",
            vec![],
            &request,
            0,
        ))
        .unwrap();
        assert_eq!(page["page"]["totalPages"], 0);
        assert!(page["_links"].get("next").is_none());
        assert!(page["_links"].get("prev").is_none());
        assert_eq!(page["_embedded"]["customers"], json!([]));
    }
}
