//! The JSON:API 1.1 protocol: media types, query parameters, request and response
//! documents, error objects. Nothing here knows about wallets or transactions.

pub mod atomic;
pub mod document;
pub mod error;
pub mod media_type;
pub mod query;
pub mod request;

pub use error::ApiError;
