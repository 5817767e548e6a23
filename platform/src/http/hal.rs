//! HAL as Spring Data REST serves it: links to where an entity lives, and collection pages with
//! their neighbours; and the URLs they are built from, as the client addressed the service.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
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
