//! The three sample customers of upstream, with its exact values.

use shared_events::{Address, AddressType, Contact, Name};

use super::{CreditCard, CreditCardType, CustomerDraft};

fn name(title: &str, first: &str, middle: Option<&str>, last: &str, suffix: Option<&str>) -> Name {
    Name {
        title: title.into(),
        first_name: first.into(),
        middle_name: middle.map(Into::into),
        last_name: last.into(),
        suffix: suffix.map(Into::into),
    }
}

fn contact(primary: &str, secondary: &str, email: &str) -> Contact {
    Contact {
        primary_phone: primary.into(),
        secondary_phone: Some(secondary.into()),
        email: email.into(),
    }
}

/// A BILLING and a SHIPPING address at the same place.
fn addresses(
    billing: &str,
    shipping: &str,
    street: &str,
    city: &str,
    state: &str,
    postal: &str,
) -> Vec<Address> {
    let at = |address_type, description: &str| Address {
        address_type,
        description: description.into(),
        address1: street.into(),
        address2: None,
        city: city.into(),
        state: state.into(),
        postal_code: postal.into(),
    };
    vec![
        at(AddressType::Billing, billing),
        at(AddressType::Shipping, shipping),
    ]
}

fn card(
    card_type: CreditCardType,
    description: &str,
    number: &str,
    expiration: &str,
    name_on_card: &str,
) -> CreditCard {
    CreditCard {
        card_type,
        description: description.into(),
        number: number.into(),
        expiration: expiration.into(),
        name_on_card: name_on_card.into(),
    }
}

/// John Doe, Mary Smith and Susan Blackstone, in that order.
pub fn customers() -> Vec<CustomerDraft> {
    vec![
        CustomerDraft {
            name: name("Mr.", "John", Some("S."), "Doe", Some("Jr.")),
            contact: contact("555-666-7777", "555-444-9898", "john.doe@internet.com"),
            addresses: addresses(
                "My cc billing address",
                "My home address",
                "123 Oak Street",
                "Sunrise",
                "CA",
                "12345-6789",
            ),
            credit_cards: vec![
                card(
                    CreditCardType::Primary,
                    "VISA",
                    "1234-6789-0000-0000",
                    "6/19",
                    "John S. Doe",
                ),
                card(
                    CreditCardType::Alternate,
                    "Corporate American Express",
                    "9999-8888-7777-6666",
                    "3/20",
                    "John Doe",
                ),
            ],
        },
        CustomerDraft {
            name: name("Ms.", "Mary", None, "Smith", None),
            contact: contact("456-789-0001", "456-222-1111", "marysmith@yougotmail.com"),
            addresses: addresses(
                "My CC billing address",
                "Home Sweet Home",
                "1234 Main Street",
                "Anywhere",
                "NY",
                "45455-66677",
            ),
            credit_cards: vec![card(
                CreditCardType::Primary,
                "VISA",
                "4545-6767-8989-0000",
                "7/21",
                "Mary Smith",
            )],
        },
        CustomerDraft {
            name: name("Ms.", "Susan", None, "Blackstone", None),
            contact: contact(
                "433-544-6555",
                "223-445-6767",
                "susan.m.blackstone@emailisus.com",
            ),
            addresses: addresses(
                "My CC billing address",
                "Home Sweet Home",
                "33 Oak Avenue",
                "Nowhere",
                "VT",
                "444556-9090",
            ),
            credit_cards: vec![card(
                CreditCardType::Primary,
                "Master Card",
                "4545-5656-7878-9090",
                "4/19",
                "Susan M. Blackstone",
            )],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_samples_are_upstreams_three_customers_and_all_valid() {
        let customers = customers();
        let names: Vec<&str> = customers
            .iter()
            .map(|c| c.name.last_name.as_str())
            .collect();
        assert_eq!(names, ["Doe", "Smith", "Blackstone"]);
        for customer in customers {
            let shipping = customer
                .addresses
                .iter()
                .filter(|address| address.address_type == AddressType::Shipping)
                .count();
            assert_eq!(shipping, 1);
            assert!(customer.clone().validated(&[]).is_ok());
        }
    }

    #[test]
    fn john_keeps_his_middle_name_suffix_and_two_cards() {
        let john = customers().remove(0);
        assert_eq!(john.name.middle_name.as_deref(), Some("S."));
        assert_eq!(john.name.suffix.as_deref(), Some("Jr."));
        assert_eq!(john.credit_cards.len(), 2);
        assert_eq!(
            john.credit_cards[1].description,
            "Corporate American Express"
        );
    }
}
