//! The lifecycle status of a renewal.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenewalStatus {
    /// Awaiting a decision.
    Pending,
    /// The customer agreed to a change.
    Confirmed,
    /// Agreed, or rolled over after the deadline.
    Renewed,
    /// The customer asked to cancel.
    CancellationRequested,
}

impl RenewalStatus {
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::Confirmed,
        Self::Renewed,
        Self::CancellationRequested,
    ];

    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Renewed => "RENEWED",
            Self::CancellationRequested => "CANCELLATION_REQUESTED",
        }
    }
}

impl fmt::Display for RenewalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown renewal status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for RenewalStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_stored_value() {
        for status in RenewalStatus::ALL {
            assert_eq!(status.as_str().parse::<RenewalStatus>().unwrap(), status);
        }
        assert!("pending".parse::<RenewalStatus>().is_err());
    }
}
