//! The products an order can contain: upstream's eight widgets.

use shared_events::Product;
use uuid::Uuid;

const PRODUCTS: [(&str, &str, &str, &str); 8] = [
    (
        "b5efd4a0-4eb9-4ad0-bc9e-2f5542cbe897",
        "Blue Widget",
        "Brilliant Blue Widget",
        "1.99",
    ),
    (
        "d01fde07-7c24-49c5-a5f1-bc2ce1f14c48",
        "Red Widget",
        "Reliable Red Widget",
        "3.99",
    ),
    (
        "a9d5a5c7-4245-4b4e-b1c3-1d3968f36b2d",
        "Yellow Widget",
        "Amazing Yellow Widget",
        "5.99",
    ),
    (
        "4efe33a1-722d-48c8-af8e-7879edcad2fa",
        "Purple Widget",
        "Pretty Purple Widget",
        "7.99",
    ),
    (
        "f3b9bdce-10d8-4c22-9861-27149879b3c1",
        "Orange Widget",
        "Opulent Orange Widget",
        "9.99",
    ),
    (
        "7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37",
        "Green Widget",
        "Gorgeous Green Widget",
        "11.99",
    ),
    (
        "b506b962-fcfa-4ad6-a955-8859797edf16",
        "Black Widget",
        "Beautiful Black Widget",
        "13.99",
    ),
    (
        "c8810c1d-b0ea-486b-acfa-7724bb70f5e6",
        "White Widget",
        "Wonderful White Widget",
        "15.99",
    ),
];

/// Every product, in catalog order.
pub fn products() -> Vec<Product> {
    PRODUCTS
        .iter()
        .map(|(guid, title, description, price)| Product {
            guid: Uuid::parse_str(guid).expect("catalog guids are valid"),
            title: (*title).to_owned(),
            description: Some((*description).to_owned()),
            price: Some(price.parse().expect("catalog prices are valid")),
        })
        .collect()
}

/// The product with that guid, if the catalog has it.
pub fn find(guid: Uuid) -> Option<Product> {
    products().into_iter().find(|product| product.guid == guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_upstreams_eight_widgets_at_exact_prices() {
        let products = products();
        assert_eq!(products.len(), 8);
        let green = find(Uuid::parse_str("7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37").unwrap()).unwrap();
        assert_eq!(green.title, "Green Widget");
        assert_eq!(green.price.unwrap().to_string(), "11.99");
        assert!(find(Uuid::nil()).is_none());
    }
}
