//! `/transactions`: book, read, change and delete transactions; each one's wallet as a
//! relationship. The database moves the money; these handlers only say what to write.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::pg::PgConnection;
use serde_json::{Map, Value, json};

use super::context::{AppState, Context, path_id};
use super::input::{
    Target, all_or_nothing, attribute_pointer, check_identity, decimal_attribute, missing,
    read_only, relationship_pointer, string_attribute, unknown_field, wallet_target,
};
use super::listing::{Fields, cursor_meta, list_query, outline, timestamp};
use super::wallets;
use crate::db::{self, DbError};
use crate::domain::{Amount, Txid, format_money};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{ResourceObject, document, identifier, respond, self_links};
use crate::jsonapi::request::{
    Linkage, parse_relationship_document, parse_resource_document, read_body,
};
use crate::models::listing::{
    Condition, Filter, ListPage, ListQuery, Op, Value as FieldValue, read_page,
};
use crate::models::{NewTransaction, Transaction, TransactionChanges, TransactionField, Wallet};

pub const TYPE: &str = "transactions";

pub const FIELDS: Fields<TransactionField> = Fields {
    filter: &[
        ("id", TransactionField::Id),
        ("wallet", TransactionField::Wallet),
        ("txid", TransactionField::Txid),
        ("amount", TransactionField::Amount),
        ("createdAt", TransactionField::CreatedAt),
    ],
    sort: &[
        ("id", TransactionField::Id),
        ("amount", TransactionField::Amount),
        ("txid", TransactionField::Txid),
        ("createdAt", TransactionField::CreatedAt),
    ],
};

const WRITABLE: [&str; 3] = ["txid", "amount", "wallet"];

fn self_path(id: i64) -> String {
    format!("/transactions/{id}")
}

/// The `wallet` relationship object of a transaction.
fn wallet_relationship(transaction: &Transaction, context: &Context) -> Value {
    let path = self_path(transaction.id);
    json!({
        "links": {
            "self": context.url(&format!("{path}/relationships/wallet")),
            "related": context.url(&format!("{path}/wallet")),
        },
        "data": identifier(wallets::TYPE, transaction.wallet_id),
    })
}

fn resource(transaction: &Transaction, context: &Context, meta: Option<Value>) -> Value {
    let mut object = ResourceObject::new(
        TYPE,
        transaction.id,
        context.url(&self_path(transaction.id)),
        &context.fieldsets,
    )
    .attribute("txid", transaction.txid.clone())
    .attribute("amount", format_money(&transaction.amount))
    .attribute("createdAt", timestamp(&transaction.created_at))
    .relationship("wallet", wallet_relationship(transaction, context));
    if let Some(meta) = meta {
        object = object.meta(meta);
    }
    object.build()
}

/// The wallets of `transactions`, each once, when `include=wallet` was asked.
fn included_wallets(
    conn: &mut PgConnection,
    transactions: &[Transaction],
    include_wallet: bool,
) -> Result<Vec<Wallet>, ApiError> {
    if !include_wallet {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = transactions.iter().map(|t| t.wallet_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(Wallet::find_many(conn, &ids)?)
}

fn included(context: &Context, wallets: &[Wallet]) -> Option<Vec<Value>> {
    context.include_given().then(|| {
        wallets
            .iter()
            .map(|wallet| wallets::resource(wallet, context, None))
            .collect()
    })
}

/// `include=wallet` is the one inclusion transactions offer.
fn include_wallet(context: &Context) -> Result<bool, ApiError> {
    Ok(context.include(&["wallet"], &[])?[0])
}

/// A response holding one transaction (and its wallet, when included).
fn single(
    status: StatusCode,
    transaction: &Transaction,
    wallets: &[Wallet],
    context: &Context,
) -> HttpResponse {
    let body = document(
        resource(transaction, context, None),
        self_links(context.self_link()),
        included(context, wallets),
        None,
    );
    respond(status, &body)
}

/// A page of transactions, and their wallets when `include_wallet`; a wallet's own collection
/// (`of_wallet`) is a 404 when the wallet does not exist.
async fn read_transactions(
    state: &web::Data<AppState>,
    query: ListQuery<TransactionField>,
    of_wallet: Option<i64>,
    include_wallet: bool,
) -> Result<
    (
        ListQuery<TransactionField>,
        ListPage<Transaction>,
        Vec<Wallet>,
    ),
    ApiError,
> {
    db::run(&state.pool, move |conn| {
        if let Some(id) = of_wallet
            && Wallet::find(conn, id)?.is_none()
        {
            return Err(super::wallet_not_found(&id.to_string()));
        }
        let page = read_page::<Transaction>(conn, &query)?;
        let wallets = included_wallets(conn, &page.rows, include_wallet)?;
        Ok((query, page, wallets))
    })
    .await
}

/// A page of transactions matching `query`, with pagination links and included wallets.
async fn respond_with_page(
    context: Context,
    state: web::Data<AppState>,
    query: ListQuery<TransactionField>,
    of_wallet: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let include_wallet = include_wallet(&context)?;
    let (query, page, wallets) =
        read_transactions(&state, query, of_wallet, include_wallet).await?;
    let outline = outline(&context, &query, &page);
    let data: Vec<Value> = page
        .rows
        .iter()
        .enumerate()
        .map(|(i, transaction)| {
            let meta = outline
                .cursors
                .as_ref()
                .map(|cursors| cursor_meta(&cursors[i]));
            resource(transaction, &context, meta)
        })
        .collect();
    Ok(respond(
        StatusCode::OK,
        &document(
            Value::Array(data),
            outline.links,
            included(&context, &wallets),
            outline.meta,
        ),
    ))
}

/// GET /transactions
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::new(&request, &state)?;
    let query = list_query::<Transaction>(&context, &FIELDS, Vec::new())?;
    respond_with_page(context, state, query, None).await
}

/// The filter that makes the collection one wallet's.
fn of_wallet(id: i64) -> Filter<TransactionField> {
    Filter {
        field: TransactionField::Wallet,
        condition: Condition::Compare(Op::Eq, FieldValue::Id(id)),
    }
}

/// GET /wallets/{id}/transactions: the same collection, of one wallet.
pub async fn list_of_wallet(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::new(&request, &state)?;
    let id = path_id(&request, super::wallet_not_found)?;
    let query = list_query::<Transaction>(&context, &FIELDS, vec![of_wallet(id)])?;
    respond_with_page(context, state, query, Some(id)).await
}

/// GET /wallets/{id}/relationships/transactions: the wallet's transactions as linkage,
/// paginated like the collection.
pub async fn linkage_of_wallet(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::new(&request, &state)?;
    context.include(&[], &[])?;
    let id = path_id(&request, super::wallet_not_found)?;
    let query = list_query::<Transaction>(&context, &FIELDS, vec![of_wallet(id)])?;
    let (query, page, _) = read_transactions(&state, query, Some(id), false).await?;
    let mut outline = outline(&context, &query, &page);
    outline.links.insert(
        "related".into(),
        Value::String(context.url(&format!("{}/transactions", wallets::self_path(id)))),
    );
    let data: Vec<Value> = page
        .rows
        .iter()
        .map(|transaction| identifier(TYPE, transaction.id))
        .collect();
    Ok(respond(
        StatusCode::OK,
        &document(Value::Array(data), outline.links, None, outline.meta),
    ))
}

/// The `wallet` of a relationship linkage at `pointer`: a single wallet identifier.
fn wallet_of_linkage(linkage: &Linkage, pointer: &str) -> Result<i64, ApiError> {
    match linkage {
        Linkage::One(identifier) => wallet_target(identifier, pointer),
        Linkage::Null => Err(ApiError::invalid_attribute(
            pointer,
            "a transaction always belongs to a wallet; give {\"type\": \"wallets\", \"id\": ...}",
        )),
        Linkage::Many(_) => Err(ApiError::invalid_document(
            pointer,
            "wallet is a to-one relationship: give one resource identifier, not an array",
        )),
    }
}

/// What a transaction document asks to write.
fn read_changes(body: &[u8], target: Target) -> Result<TransactionChanges, ApiError> {
    let input = parse_resource_document(body)?;
    check_identity(&input, TYPE, target)?;
    let mut changes = TransactionChanges::default();
    let mut errors = Vec::new();
    for (name, raw) in &input.attributes {
        let pointer = attribute_pointer(name);
        let parsed = match name.as_str() {
            "txid" => string_attribute(raw, name).and_then(|text| {
                Txid::parse(&text)
                    .map(|txid| changes.txid = Some(txid.into_inner()))
                    .map_err(|why| ApiError::invalid_attribute(&pointer, why.0))
            }),
            "amount" => decimal_attribute(raw, name).and_then(|text| {
                Amount::parse(&text)
                    .map(|amount| changes.amount = Some(amount.into_inner()))
                    .map_err(|why| ApiError::invalid_attribute(&pointer, why.0))
            }),
            "createdAt" => Err(read_only(pointer, "createdAt is set by the server")),
            _ => Err(unknown_field(pointer, TYPE, &WRITABLE)),
        };
        errors.extend(parsed.err());
    }
    for (name, linkage) in &input.relationships {
        let pointer = relationship_pointer(name);
        match name.as_str() {
            "wallet" => match wallet_of_linkage(linkage, &format!("{pointer}/data")) {
                Ok(id) => changes.wallet_id = Some(id),
                Err(error) => errors.push(error),
            },
            _ => errors.push(unknown_field(pointer, TYPE, &WRITABLE)),
        }
    }
    if target == Target::Create {
        let attribute_given = |name: &str| input.attributes.iter().any(|(n, _)| n == name);
        if !attribute_given("txid") {
            errors.push(missing(
                "/data/attributes",
                "a transaction needs a txid: your unique reference for it (1 to 255 characters)",
            ));
        }
        if !attribute_given("amount") {
            errors.push(missing(
                "/data/attributes",
                "a transaction needs an amount: a non-zero decimal, negative to withdraw",
            ));
        }
        if !input.relationships.iter().any(|(n, _)| n == "wallet") {
            errors.push(missing(
                "/data/relationships",
                "a transaction needs a wallet: relationships.wallet.data = {\"type\": \"wallets\", \"id\": ...}",
            ));
        }
    }
    all_or_nothing(errors)?;
    Ok(changes)
}

/// Database outcomes of writing a transaction, pointed at the member that caused them.
fn write_error(
    error: diesel::result::Error,
    wallet_pointer: &str,
    amount_pointer: &str,
) -> ApiError {
    let database = DbError::from(error);
    let pointer = match &database {
        DbError::InsufficientFunds { .. } | DbError::BalanceOverflow { .. } => Some(amount_pointer),
        DbError::WalletReference => Some(wallet_pointer),
        _ => None,
    };
    let error = ApiError::from(database);
    match pointer {
        Some(pointer) => error.pointer(pointer),
        None => error,
    }
}

/// POST /transactions: one INSERT; the trigger moves the money or refuses the whole write.
pub async fn create(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    let include_wallet = include_wallet(&context)?;
    let body = read_body(payload).await?;
    let changes = read_changes(&body, Target::Create)?;
    let new = NewTransaction {
        wallet_id: changes.wallet_id.expect("checked: required"),
        txid: changes.txid.expect("checked: required"),
        amount: changes.amount.expect("checked: required"),
    };
    let (transaction, wallets) = db::run(&state.pool, move |conn| {
        let transaction = Transaction::create(conn, &new).map_err(|error| {
            let error = write_error(
                error,
                "/data/relationships/wallet/data",
                "/data/attributes/amount",
            );
            if error.errors[0].code == "duplicate-txid" {
                // Point a retrying client at what its txid already booked.
                if let Ok(Some(existing)) = Transaction::find_by_txid(conn, &new.txid) {
                    return error.meta(json!({"existing": identifier(TYPE, existing.id)}));
                }
            }
            error
        })?;
        let wallets = included_wallets(conn, std::slice::from_ref(&transaction), include_wallet)?;
        Ok::<_, ApiError>((transaction, wallets))
    })
    .await?;
    let mut response = single(StatusCode::CREATED, &transaction, &wallets, &context);
    response.headers_mut().insert(
        LOCATION,
        context
            .url(&self_path(transaction.id))
            .parse()
            .expect("a URL is a valid header value"),
    );
    Ok(response)
}

async fn find(
    state: &web::Data<AppState>,
    id: i64,
    include_wallet: bool,
) -> Result<(Transaction, Vec<Wallet>), ApiError> {
    db::run(&state.pool, move |conn| {
        let transaction = Transaction::find(conn, id)?.ok_or_else(|| not_found(id))?;
        let wallets = included_wallets(conn, std::slice::from_ref(&transaction), include_wallet)?;
        Ok((transaction, wallets))
    })
    .await
}

fn not_found(id: i64) -> ApiError {
    super::transaction_not_found(&id.to_string())
}

/// GET /transactions/{id}
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    let include_wallet = include_wallet(&context)?;
    let id = path_id(&request, super::transaction_not_found)?;
    let (transaction, wallets) = find(&state, id, include_wallet).await?;
    Ok(single(StatusCode::OK, &transaction, &wallets, &context))
}

/// PATCH /transactions/{id}: txid, amount and wallet may change; one UPDATE, whose trigger
/// moves the difference (or the whole amount to the new wallet).
pub async fn update(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    let include_wallet = include_wallet(&context)?;
    let id = path_id(&request, super::transaction_not_found)?;
    let body = read_body(payload).await?;
    let changes = read_changes(&body, Target::Update(id))?;
    let (transaction, wallets) = db::run(&state.pool, move |conn| {
        let transaction = Transaction::update(conn, id, &changes)
            .map_err(|error| {
                write_error(
                    error,
                    "/data/relationships/wallet/data",
                    "/data/attributes/amount",
                )
            })?
            .ok_or_else(|| not_found(id))?;
        let wallets = included_wallets(conn, std::slice::from_ref(&transaction), include_wallet)?;
        Ok::<_, ApiError>((transaction, wallets))
    })
    .await?;
    Ok(single(StatusCode::OK, &transaction, &wallets, &context))
}

/// DELETE /transactions/{id}: its amount leaves the wallet's balance, which must stay >= 0.
pub async fn delete(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &[])?;
    let id = path_id(&request, super::transaction_not_found)?;
    let deleted = db::run(&state.pool, move |conn| {
        Transaction::delete(conn, id).map_err(ApiError::from)
    })
    .await?;
    if !deleted {
        return Err(not_found(id));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// GET /transactions/{id}/wallet: the related wallet.
pub async fn wallet(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &[])?;
    let id = path_id(&request, super::transaction_not_found)?;
    let (_, wallets) = find(&state, id, true).await?;
    let wallet = wallets.first().ok_or_else(ApiError::internal)?;
    Ok(wallets::single(StatusCode::OK, wallet, &context))
}

fn linkage_response(transaction: &Transaction, context: &Context) -> HttpResponse {
    let relationship = wallet_relationship(transaction, context);
    let mut links: Map<String, Value> = relationship["links"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    links.insert("self".into(), Value::String(context.self_link()));
    respond(
        StatusCode::OK,
        &document(relationship["data"].clone(), links, None, None),
    )
}

/// GET /transactions/{id}/relationships/wallet
pub async fn wallet_linkage(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &[])?;
    let id = path_id(&request, super::transaction_not_found)?;
    let (transaction, _) = find(&state, id, false).await?;
    Ok(linkage_response(&transaction, &context))
}

/// PATCH /transactions/{id}/relationships/wallet: moves the transaction, and its money, to
/// another wallet.
pub async fn move_to_wallet(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let context = Context::single(&request, &state)?;
    context.include(&[], &[])?;
    let id = path_id(&request, super::transaction_not_found)?;
    let body = read_body(payload).await?;
    let wallet_id = wallet_of_linkage(&parse_relationship_document(&body)?, "/data")?;
    let changes = TransactionChanges {
        wallet_id: Some(wallet_id),
        ..TransactionChanges::default()
    };
    let transaction = db::run(&state.pool, move |conn| {
        Transaction::update(conn, id, &changes)
            .map_err(|error| write_error(error, "/data", "/data"))?
            .ok_or_else(|| not_found(id))
    })
    .await?;
    Ok(linkage_response(&transaction, &context))
}
