//! The business rules of renewals, as plain types and functions without I/O.

pub mod dates;
pub mod money;
pub mod owner;
pub mod search;
pub mod status;

pub use dates::{ActionWindow, DEADLINE_LEAD_DAYS, VISIBILITY_HORIZON_DAYS};
pub use money::{Currency, Money};
pub use owner::{OwnerParty, RenewalOwner};
pub use status::RenewalStatus;
