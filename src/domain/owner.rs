//! Renewal owners: the partner's default, a customer's override, the effective owner.

use std::str::FromStr;

/// The party responsible for carrying out an upcoming contract change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerParty {
    /// The vendor.
    Hubspot,
    /// The partner agency.
    Partner,
}

impl OwnerParty {
    pub const ALL: [Self; 2] = [Self::Hubspot, Self::Partner];

    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hubspot => "HUBSPOT",
            Self::Partner => "PARTNER",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown owner party {0:?}")]
pub struct UnknownParty(pub String);

impl FromStr for OwnerParty {
    type Err = UnknownParty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HUBSPOT" => Ok(Self::Hubspot),
            "PARTNER" => Ok(Self::Partner),
            _ => Err(UnknownParty(s.to_owned())),
        }
    }
}

/// An owner as set by someone: a party and, optionally, the partner user to notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnerChoice {
    pub party: OwnerParty,
    pub notify_user_id: Option<i64>,
}

impl OwnerChoice {
    /// Out of the box a partner's default owner is HubSpot, with nobody notified.
    pub const OUT_OF_THE_BOX: Self = Self {
        party: OwnerParty::Hubspot,
        notify_user_id: None,
    };
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OwnerChoiceError {
    #[error("a PARTNER owner needs a partner user to notify")]
    PartnerNeedsNotifyUser,
}

/// Checks the rule that a `PARTNER` owner names the partner user who is notified.
pub fn validate_choice(choice: OwnerChoice) -> Result<OwnerChoice, OwnerChoiceError> {
    match choice {
        OwnerChoice {
            party: OwnerParty::Partner,
            notify_user_id: None,
        } => Err(OwnerChoiceError::PartnerNeedsNotifyUser),
        valid => Ok(valid),
    }
}

/// The owner that applies to a customer: its override, else the partner's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalOwner {
    pub party: OwnerParty,
    pub notify_user_id: Option<i64>,
    /// True when the owner comes from the partner's default.
    pub is_default: bool,
}

/// The effective owner: the customer's override if it has one, else the default.
pub fn effective_owner(overridden: Option<OwnerChoice>, default: OwnerChoice) -> RenewalOwner {
    let (choice, is_default) = match overridden {
        Some(choice) => (choice, false),
        None => (default, true),
    };
    RenewalOwner {
        party: choice.party,
        notify_user_id: choice.notify_user_id,
        is_default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: OwnerChoice = OwnerChoice {
        party: OwnerParty::Partner,
        notify_user_id: Some(7),
    };

    #[test]
    fn without_an_override_the_default_applies() {
        let owner = effective_owner(None, DEFAULT);
        assert_eq!(owner.party, OwnerParty::Partner);
        assert_eq!(owner.notify_user_id, Some(7));
        assert!(owner.is_default);
    }

    #[test]
    fn an_override_wins_over_the_default() {
        let choice = OwnerChoice {
            party: OwnerParty::Hubspot,
            notify_user_id: Some(3),
        };
        let owner = effective_owner(Some(choice), DEFAULT);
        assert_eq!(owner.party, OwnerParty::Hubspot);
        assert_eq!(owner.notify_user_id, Some(3));
        assert!(!owner.is_default);
    }

    #[test]
    fn a_partner_owner_needs_a_notify_user_and_hubspot_does_not() {
        let partner_alone = OwnerChoice {
            party: OwnerParty::Partner,
            notify_user_id: None,
        };
        assert_eq!(
            validate_choice(partner_alone),
            Err(OwnerChoiceError::PartnerNeedsNotifyUser)
        );
        assert!(validate_choice(OwnerChoice::OUT_OF_THE_BOX).is_ok());
        assert!(validate_choice(DEFAULT).is_ok());
    }

    #[test]
    fn parties_round_trip_through_their_stored_values() {
        for party in [OwnerParty::Hubspot, OwnerParty::Partner] {
            assert_eq!(party.as_str().parse::<OwnerParty>().unwrap(), party);
        }
        assert!("hubspot".parse::<OwnerParty>().is_err());
    }
}
