//! Read-your-writes when reads may be served by a standby (`STANDBY_DATABASE_URL`): every
//! successful write's response carries `Wallet-Api-Lsn`, the primary's WAL position after
//! its commit; a read that sends it back is served only by a server that holds that write
//! (`db::standby`). Without a standby the header is neither written nor needed.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};

use super::state::AppState;
use crate::codes;
use crate::db::standby::{Lsn, position};
use crate::db::{self, DbError};
use crate::jsonapi::ApiError;

/// The header a write's response carries and a later read sends back.
pub const HEADER: &str = "Wallet-Api-Lsn";

codes! {
    pub INVALID_LSN = (BAD_REQUEST, "invalid-lsn", "Invalid Wallet-Api-Lsn",
        "a Wallet-Api-Lsn that is not a WAL position as a write's response gave it (such as 0/3000060)");
}

/// The position a read must see, when the request sends one (an empty header sends none).
pub fn read_after(request: &HttpRequest) -> Result<Option<Lsn>, ApiError> {
    let Some(value) = request.headers().get(HEADER) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            &INVALID_LSN,
            "Wallet-Api-Lsn must be a WAL position as a write's response gave it, \
             such as 0/3000060",
        )
        .header(HEADER)
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Lsn::parse(text).map(Some).ok_or_else(invalid)
}

/// Middleware, installed when reads may go to a standby: a successful write's response gets
/// the primary's WAL position, read after the write committed. Should the primary not answer, the
/// response goes without it (and a read sent without it may lag behind the write).
pub async fn mark_writes(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.call(request).await;
    }
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let mut response = next.call(request).await?;
    let Some(state) = state.filter(|_| response.status().is_success()) else {
        return Ok(response);
    };
    let written: Result<_, DbError> = db::run(&state.db, position).await;
    match written {
        Ok(lsn) => {
            response.headers_mut().insert(
                HeaderName::from_static("wallet-api-lsn"),
                HeaderValue::from_str(&lsn.to_string()).expect("an LSN is ASCII"),
            );
        }
        Err(error) => {
            log::warn!("a write's response goes without {HEADER}: {error}");
        }
    }
    Ok(response)
}
