//! Paging and sorting of a collection, as Spring Data REST takes them: `page` (from 0), `size`,
//! `sort=property,dir`. Checked here once; storage turns a [`PageRequest`] into a query
//! (`mongo::page_sort`), and the HTTP side into HAL links (`http::hal`).

use serde::Deserialize;
use utoipa::IntoParams;

/// The paging query parameters of a collection.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page number, from 0.
    pub page: Option<u64>,
    /// Items per page, 1 to 1000; 20 when absent.
    #[param(minimum = 1, maximum = 1000)]
    pub size: Option<u64>,
    /// `property` or `property,asc|desc`.
    pub sort: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub size: u64,
    /// Property and ascending (`true`) or descending.
    pub sort: Option<(String, bool)>,
}

/// Page size when none is asked for, as in Spring Data REST.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page served.
pub const MAX_PAGE_SIZE: u64 = 1000;
/// The most documents a page may skip: MongoDB takes the skip as a signed 64-bit integer.
const MAX_OFFSET: u64 = i64::MAX.unsigned_abs();

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("size must be between 1 and {MAX_PAGE_SIZE}")]
    Size,
    #[error("page must be at most {0} with that size")]
    Page(u64),
    #[error("cannot sort by `{0}`; sortable properties: {1}")]
    Property(String, String),
    #[error("sort direction must be asc or desc, not `{0}`")]
    Direction(String),
}

impl PageRequest {
    /// Checks the query against the properties this collection can be sorted by.
    pub fn parse(query: &PageQuery, sortable: &[&str]) -> Result<Self, PageError> {
        let size = query.size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(PageError::Size);
        }
        let page = query.page.unwrap_or(0);
        let last_page = MAX_OFFSET / size;
        if page > last_page {
            return Err(PageError::Page(last_page));
        }
        let sort = match query.sort.as_deref().filter(|sort| !sort.is_empty()) {
            None => None,
            Some(sort) => {
                let (property, direction) = sort.split_once(',').unwrap_or((sort, "asc"));
                if !sortable.contains(&property) {
                    return Err(PageError::Property(
                        property.to_owned(),
                        sortable.join(", "),
                    ));
                }
                let ascending = match direction.to_ascii_lowercase().as_str() {
                    "asc" => true,
                    "desc" => false,
                    _ => return Err(PageError::Direction(direction.to_owned())),
                };
                Some((property.to_owned(), ascending))
            }
        };
        Ok(PageRequest { page, size, sort })
    }

    /// Documents to skip before this page.
    pub fn offset(&self) -> u64 {
        self.page.saturating_mul(self.size)
    }

    /// The most documents of this page, as MongoDB's `limit` takes it.
    pub fn limit(&self) -> i64 {
        i64::try_from(self.size).unwrap_or(i64::MAX)
    }

    /// The query string that asks for `page` with this size and sort.
    pub fn query_string(&self, page: u64) -> String {
        let mut query = format!("page={page}&size={}", self.size);
        if let Some((property, ascending)) = &self.sort {
            let direction = if *ascending { "asc" } else { "desc" };
            query.push_str(&format!("&sort={property},{direction}"));
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: Option<u64>, size: Option<u64>, sort: Option<&str>) -> PageQuery {
        PageQuery {
            page,
            size,
            sort: sort.map(str::to_owned),
        }
    }

    #[test]
    fn a_page_request_defaults_to_the_first_twenty_unsorted() {
        let request = PageRequest::parse(&PageQuery::default(), &["id"]).unwrap();
        assert_eq!(
            request,
            PageRequest {
                page: 0,
                size: 20,
                sort: None
            }
        );
    }

    #[test]
    fn a_page_request_checks_size_property_and_direction() {
        let sortable = &["id", "name.lastName"];
        assert_eq!(
            PageRequest::parse(&query(None, Some(0), None), sortable),
            Err(PageError::Size)
        );
        assert!(matches!(
            PageRequest::parse(&query(None, None, Some("password")), sortable),
            Err(PageError::Property(..))
        ));
        assert!(matches!(
            PageRequest::parse(&query(None, None, Some("id,sideways")), sortable),
            Err(PageError::Direction(_))
        ));
        let sorted =
            PageRequest::parse(&query(Some(2), None, Some("name.lastName,DESC")), sortable)
                .unwrap();
        assert_eq!(sorted.sort, Some(("name.lastName".into(), false)));
        assert_eq!(sorted.offset(), 40);
        assert_eq!(
            sorted.query_string(3),
            "page=3&size=20&sort=name.lastName,desc"
        );
    }

    #[test]
    fn a_page_request_refuses_a_page_past_what_the_database_can_skip() {
        let last = i64::MAX.unsigned_abs() / 20;
        assert_eq!(
            PageRequest::parse(&query(Some(last + 1), None, None), &[]),
            Err(PageError::Page(last))
        );
        let furthest = PageRequest::parse(&query(Some(last), None, None), &[]).unwrap();
        assert!(i64::try_from(furthest.offset()).is_ok());
        assert!(PageRequest::parse(&query(Some(u64::MAX), Some(1), None), &[]).is_err());
    }

    #[test]
    fn the_documented_page_size_bounds_are_those_checked() {
        let size = PageQuery::into_params(|| None)
            .into_iter()
            .find(|parameter| parameter.name == "size")
            .and_then(|parameter| parameter.schema);
        let bounds = serde_json::to_value(size).unwrap();
        assert_eq!(bounds["minimum"], 1);
        assert_eq!(bounds["maximum"], MAX_PAGE_SIZE);
    }
}
