//! A customer account, and the rules a new or changed one must satisfy.

use mongodb::bson::oid::ObjectId;
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, CustomerChangeEvent, Name};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CreditCardType {
    Primary,
    Alternate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditCard {
    #[serde(rename = "type")]
    pub card_type: CreditCardType,
    pub description: String,
    /// Shown masked (`****-****-****-0000`); a masked number sent back keeps the stored one.
    #[schema(example = "****-****-****-0000")]
    pub number: String,
    #[schema(example = "6/19")]
    pub expiration: String,
    pub name_on_card: String,
}

/// A stored customer. The id is the MongoDB ObjectId of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: ObjectId,
    pub draft: CustomerDraft,
}

/// Everything about a customer but the id: what clients send to create or replace one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDraft {
    pub name: Name,
    pub contact: Contact,
    #[serde(default)]
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub credit_cards: Vec<CreditCard>,
}

/// A partial change: the fields given replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPatch {
    pub name: Option<Name>,
    pub contact: Option<Contact>,
    pub addresses: Option<Vec<Address>>,
    pub credit_cards: Option<Vec<CreditCard>>,
}

/// Why a customer was refused; the sentence is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCustomer(pub String);

/// The character that stands for a hidden digit of a card number.
const MASK: char = '*';
/// Digits of a card number left visible.
const VISIBLE_DIGITS: usize = 4;

/// Hides all but the last four digits of a card number, keeping its separators:
/// `1234-6789-0000-0000` becomes `****-****-****-0000`.
pub fn mask_card_number(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let mut to_hide = digits.saturating_sub(VISIBLE_DIGITS);
    number
        .chars()
        .map(|character| {
            if character.is_ascii_digit() && to_hide > 0 {
                to_hide -= 1;
                MASK
            } else {
                character
            }
        })
        .collect()
}

impl CustomerDraft {
    /// Checks the draft. Card numbers sent back masked, as the API shows them, are replaced
    /// by the stored number of the card they mask; a masked number matching no stored card is
    /// refused, so a masked number is never stored.
    pub fn validated(mut self, stored_cards: &[CreditCard]) -> Result<Self, InvalidCustomer> {
        let required = [
            ("name.firstName", &self.name.first_name),
            ("name.lastName", &self.name.last_name),
            ("contact.primaryPhone", &self.contact.primary_phone),
            ("contact.email", &self.contact.email),
        ];
        for (field, value) in required {
            if value.trim().is_empty() {
                return Err(InvalidCustomer(format!("{field} must not be empty")));
            }
        }
        let email = &self.contact.email;
        let valid_email = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !valid_email {
            return Err(InvalidCustomer(format!(
                "contact.email `{email}` is not an email address"
            )));
        }
        for (index, card) in self.credit_cards.iter_mut().enumerate() {
            if card.number.contains(MASK) {
                let original = stored_cards
                    .iter()
                    .find(|stored| mask_card_number(&stored.number) == card.number)
                    .ok_or_else(|| {
                        InvalidCustomer(format!(
                            "creditCards[{index}].number is masked and matches no stored card; \
                             send the full number"
                        ))
                    })?;
                card.number.clone_from(&original.number);
            } else if card.number.chars().filter(char::is_ascii_digit).count() < 12 {
                return Err(InvalidCustomer(format!(
                    "creditCards[{index}].number must have at least 12 digits"
                )));
            }
        }
        Ok(self)
    }

    /// Applies a partial change.
    pub fn patched(mut self, patch: CustomerPatch) -> Self {
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(contact) = patch.contact {
            self.contact = contact;
        }
        if let Some(addresses) = patch.addresses {
            self.addresses = addresses;
        }
        if let Some(credit_cards) = patch.credit_cards {
            self.credit_cards = credit_cards;
        }
        self
    }
}

impl Customer {
    /// The event announcing this customer's current state; it never carries credit cards.
    pub fn change_event(&self) -> CustomerChangeEvent {
        CustomerChangeEvent {
            id: self.id.to_hex(),
            name: self.draft.name.clone(),
            contact: self.draft.contact.clone(),
            addresses: self.draft.addresses.clone(),
        }
    }

    /// The customer as the API shows it: card numbers masked.
    pub fn masked(&self) -> CustomerDraft {
        let mut draft = self.draft.clone();
        for card in &mut draft.credit_cards {
            card.number = mask_card_number(&card.number);
        }
        draft
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sample;

    fn john() -> CustomerDraft {
        sample::customers().remove(0)
    }

    #[test]
    fn masking_keeps_the_last_four_digits_and_the_separators() {
        assert_eq!(
            mask_card_number("1234-6789-0000-0000"),
            "****-****-****-0000"
        );
        assert_eq!(mask_card_number("4545676789890000"), "************0000");
        assert_eq!(mask_card_number("123"), "123");
    }

    #[test]
    fn the_api_view_masks_every_card() {
        let customer = Customer {
            id: ObjectId::parse_str("5b189af9a8d05613315b0212").unwrap(),
            draft: john(),
        };
        let shown = customer.masked();
        assert_eq!(shown.credit_cards[0].number, "****-****-****-0000");
        assert_eq!(shown.credit_cards[1].number, "****-****-****-6666");
        assert!(!serde_json::to_string(&shown).unwrap().contains("1234-6789"));
    }

    #[test]
    fn the_change_event_leaves_the_cards_out() {
        let customer = Customer {
            id: ObjectId::new(),
            draft: john(),
        };
        let event = serde_json::to_string(&customer.change_event()).unwrap();
        assert!(!event.contains("creditCards"));
        assert!(!event.contains("1234-6789-0000-0000"));
    }

    #[test]
    fn a_masked_number_sent_back_keeps_the_stored_number() {
        let stored = john();
        let mut edited = stored.clone();
        edited.credit_cards[0].number = "****-****-****-0000".into();
        edited.credit_cards[0].description = "Renamed".into();
        let validated = edited.validated(&stored.credit_cards).unwrap();
        assert_eq!(validated.credit_cards[0].number, "1234-6789-0000-0000");
        assert_eq!(validated.credit_cards[0].description, "Renamed");
    }

    #[test]
    fn a_masked_number_of_no_stored_card_is_refused() {
        let mut draft = john();
        draft.credit_cards[0].number = "****-****-****-1111".into();
        let error = draft.validated(&[]).unwrap_err();
        assert!(error.0.contains("creditCards[0].number"));
    }

    #[test]
    fn empty_names_and_bad_emails_are_refused() {
        let mut nameless = john();
        nameless.name.last_name = " ".into();
        assert_eq!(
            nameless.validated(&[]).unwrap_err().0,
            "name.lastName must not be empty"
        );
        let mut bad_email = john();
        bad_email.contact.email = "john.doe".into();
        assert!(bad_email.validated(&[]).unwrap_err().0.contains("email"));
    }

    #[test]
    fn a_patch_replaces_only_what_it_names() {
        let mut patch = CustomerPatch::default();
        let mut contact = john().contact;
        contact.email = "new@example.com".into();
        patch.contact = Some(contact.clone());
        let patched = john().patched(patch);
        assert_eq!(patched.contact, contact);
        assert_eq!(patched.name, john().name);
        assert_eq!(patched.credit_cards, john().credit_cards);
    }
}
