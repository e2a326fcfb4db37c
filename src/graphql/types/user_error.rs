//! Business failures of mutations, returned as data.

use async_graphql::{Enum, SimpleObject};

/// Why a mutation did not happen. Stable: clients can match on these.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    /// The input is malformed or out of range (see the message).
    InvalidInput,
    /// No such object, or not one of the partner's.
    NotFound,
    /// A PARTNER owner needs a notify user.
    NotifyUserRequired,
    /// The customer's services have ended; it can no longer change.
    ServicesEnded,
    /// Services for this customer have already been ended.
    AlreadyEnded,
}

/// A business failure of a mutation. Nothing was changed.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// The path to the input field at fault, e.g. `["input", "customerIds", "2"]`.
    pub field: Option<Vec<String>>,
    /// What went wrong, in English, for people; match on `code` instead.
    pub message: String,
    /// Why, as a stable code to match on.
    pub code: UserErrorCode,
}

impl UserError {
    pub fn new(code: UserErrorCode, field: &[&str], message: impl Into<String>) -> Self {
        Self {
            field: Some(field.iter().map(|f| (*f).to_owned()).collect()),
            message: message.into(),
            code,
        }
    }
}
