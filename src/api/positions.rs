//! Read-your-writes when reads may be served by a standby (`STANDBY_DATABASE_URL`): every
//! successful write's response carries `Wallet-Api-Lsn`, the primary's WAL position after
//! its commit (read by the write pipeline on the write's own connection, `api::write`); a read
//! that sends it back is served only by a server that holds that write (`db::standby`).
//! Without a standby the header is neither written nor needed.

use actix_web::HttpRequest;

use crate::codes;
use crate::db::standby::Lsn;
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
