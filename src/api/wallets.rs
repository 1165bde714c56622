//! `/wallets`: list, create, read, relabel and delete wallets; a wallet's transactions as
//! a relationship.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::context::{AppState, Context, path_id};
use super::input::{
    Target, all_or_nothing, attribute_pointer, check_identity, missing, read_only,
    relationship_pointer, string_attribute, unknown_field,
};
use super::listing::{Fields, cursor_meta, list_query, outline, timestamp};
use crate::db::{self, DbError};
use crate::domain::{Label, format_money};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{ResourceObject, document, respond, self_links};
use crate::jsonapi::request::{parse_resource_document, read_body};
use crate::models::listing::read_page;
use crate::models::{Wallet, WalletField};

pub const TYPE: &str = "wallets";

pub const FIELDS: Fields<WalletField> = Fields {
    filter: &[
        ("id", WalletField::Id),
        ("label", WalletField::Label),
        ("balance", WalletField::Balance),
        ("createdAt", WalletField::CreatedAt),
    ],
    sort: &[
        ("id", WalletField::Id),
        ("label", WalletField::Label),
        ("balance", WalletField::Balance),
        ("createdAt", WalletField::CreatedAt),
    ],
};

/// Why `include=transactions` is refused.
const NO_INCLUDE: [(&str, &str); 1] = [(
    "transactions",
    "a wallet may have millions of transactions; page through /wallets/{id}/transactions instead",
)];

pub fn self_path(id: i64) -> String {
    format!("/wallets/{id}")
}

/// The resource object of a wallet. Its transactions are a relationship with links only.
pub fn resource(wallet: &Wallet, context: &Context, meta: Option<Value>) -> Value {
    let path = self_path(wallet.id);
    let mut object = ResourceObject::new(TYPE, wallet.id, context.url(&path), &context.fieldsets)
        .attribute("label", wallet.label.clone())
        .attribute("balance", format_money(&wallet.balance))
        .attribute("createdAt", timestamp(&wallet.created_at))
        .attribute("updatedAt", timestamp(&wallet.updated_at))
        .relationship(
            "transactions",
            json!({"links": {
                "self": context.url(&format!("{path}/relationships/transactions")),
                "related": context.url(&format!("{path}/transactions")),
            }}),
        );
    if let Some(meta) = meta {
        object = object.meta(meta);
    }
    object.build()
}

/// A response holding one wallet.
pub fn single(status: StatusCode, wallet: &Wallet, context: &Context) -> HttpResponse {
    let included = context.include_given().then(Vec::new);
    let body = document(
        resource(wallet, context, None),
        self_links(context.self_link()),
        included,
        None,
    );
    respond(status, &body)
}

/// GET /wallets
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::new(&request, &state)?;
    context.include(&[], &NO_INCLUDE)?;
    let query = list_query::<Wallet>(&context, &FIELDS, Vec::new())?;
    let (query, page) = db::run(&state.pool, move |conn| {
        let page = read_page::<Wallet>(conn, &query)?;
        Ok::<_, ApiError>((query, page))
    })
    .await?;
    let outline = outline(&context, &query, &page);
    let data: Vec<Value> = page
        .rows
        .iter()
        .enumerate()
        .map(|(i, wallet)| {
            let meta = outline
                .cursors
                .as_ref()
                .map(|cursors| cursor_meta(&cursors[i]));
            resource(wallet, &context, meta)
        })
        .collect();
    let included = context.include_given().then(Vec::new);
    Ok(respond(
        StatusCode::OK,
        &document(Value::Array(data), outline.links, included, outline.meta),
    ))
}

/// What a wallet document asks to change: only the label is writable.
fn read_label(body: &[u8], target: Target) -> Result<Option<Label>, ApiError> {
    let input = parse_resource_document(body)?;
    check_identity(&input, TYPE, target)?;
    let mut label = None;
    let mut errors = Vec::new();
    for (name, raw) in &input.attributes {
        let pointer = attribute_pointer(name);
        match name.as_str() {
            "label" => match string_attribute(raw, name)
                .and_then(|text| Label::parse(&text).map_err(|why| ApiError::invalid_attribute(&pointer, why.0)))
            {
                Ok(parsed) => label = Some(parsed),
                Err(error) => errors.push(error),
            },
            "balance" => errors.push(read_only(
                pointer,
                "balance is the sum of the wallet's transactions and cannot be written; create a transaction to change it",
            )),
            "createdAt" | "updatedAt" => errors.push(read_only(
                pointer,
                format!("{name} is set by the server"),
            )),
            _ => errors.push(unknown_field(pointer, TYPE, &["label"])),
        }
    }
    for (name, _) in &input.relationships {
        let pointer = relationship_pointer(name);
        errors.push(match name.as_str() {
            "transactions" => read_only(
                pointer,
                "a wallet's transactions are created through /transactions (with this wallet as their wallet)",
            ),
            _ => unknown_field(pointer, TYPE, &["label"]),
        });
    }
    if target == Target::Create
        && label.is_none()
        && !input.attributes.iter().any(|(n, _)| n == "label")
    {
        errors.push(missing(
            "/data/attributes",
            "a wallet needs a label (1 to 255 characters)",
        ));
    }
    all_or_nothing(errors)?;
    Ok(label)
}

/// POST /wallets
pub async fn create(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &NO_INCLUDE)?;
    let body = read_body(payload).await?;
    let label = read_label(&body, Target::Create)?.expect("checked: a label is required");
    let wallet = db::run(&state.pool, move |conn| {
        Ok::<_, ApiError>(Wallet::create(conn, label)?)
    })
    .await?;
    let mut response = single(StatusCode::CREATED, &wallet, &context);
    response.headers_mut().insert(
        LOCATION,
        context
            .url(&self_path(wallet.id))
            .parse()
            .expect("a URL is a valid header value"),
    );
    Ok(response)
}

/// GET /wallets/{id}
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &NO_INCLUDE)?;
    let id = path_id(&request, super::wallet_not_found)?;
    let wallet = db::run(&state.pool, move |conn| {
        Ok::<_, ApiError>(Wallet::find(conn, id)?)
    })
    .await?
    .ok_or_else(|| super::wallet_not_found(&id.to_string()))?;
    Ok(single(StatusCode::OK, &wallet, &context))
}

/// PATCH /wallets/{id}: only the label changes.
pub async fn update(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &NO_INCLUDE)?;
    let id = path_id(&request, super::wallet_not_found)?;
    let body = read_body(payload).await?;
    let label = read_label(&body, Target::Update(id))?;
    let wallet = db::run(&state.pool, move |conn| {
        Ok::<_, ApiError>(match label {
            Some(label) => Wallet::relabel(conn, id, label)?,
            None => Wallet::find(conn, id)?,
        })
    })
    .await?
    .ok_or_else(|| super::wallet_not_found(&id.to_string()))?;
    Ok(single(StatusCode::OK, &wallet, &context))
}

/// DELETE /wallets/{id}: only a wallet without transactions; history is never deleted as a
/// side effect.
pub async fn delete(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &[])?;
    let id = path_id(&request, super::wallet_not_found)?;
    let deleted = db::run(&state.pool, move |conn| {
        Wallet::delete(conn, id).map_err(|error| match DbError::from(error) {
            DbError::WalletReference => ApiError::conflict(
                "wallet-has-transactions",
                "Wallet has transactions",
                format!(
                    "wallet {id} has transactions and cannot be deleted: its history would be lost; delete or move its transactions first"
                ),
            ),
            other => other.into(),
        })
    })
    .await?;
    if !deleted {
        return Err(super::wallet_not_found(&id.to_string()));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// POST, PATCH, DELETE /wallets/{id}/relationships/transactions.
pub async fn transactions_linkage_is_read_only() -> Result<HttpResponse, ApiError> {
    Err(ApiError::forbidden(
        "read-only-relationship",
        "a wallet's transactions cannot be added, removed or replaced here: a transaction always belongs to a wallet; move one with PATCH /transactions/{id}/relationships/wallet",
    ))
}
