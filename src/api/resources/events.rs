//! `/events`: the feed of every change, read-only. Pages come in the feed's one order (by
//! cursor, `page[after]`), only events below the horizon are served (`sql/55_events.sql`), a
//! cursor to events retention has removed is a 410, and `meta.feed` says how far the feed
//! trails. With `Accept: text/event-stream` the same request streams the events as they pass
//! the horizon (Server-Sent Events), resumable with `Last-Event-ID`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{Either, HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::api::context::{Collection, Context};
use crate::api::handlers;
use crate::api::listing::{list_query, outline};
use crate::api::resource::{Example, Resource, load_included, object, page};
use crate::api::routes::Routes;
use crate::api::state::AppState;
use crate::codes;
use crate::db;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use crate::models::event::{Event, FeedState, feed_state};
use crate::models::fields::Value as FieldValue;
use crate::models::keyset::read_page;
use crate::models::query::{ListQuery, Page, Position};

codes! {
    pub EVENT_NOT_FOUND = (NOT_FOUND, "event-not-found", "Event not found",
        "no event has this id, or it has not passed the feed's horizon yet");
    pub CURSOR_EXPIRED = (GONE, "cursor-expired", "Cursor expired",
        "events after this cursor were removed by retention: start again from the first page (or from filter[occurredAt.gte])");
    pub TOO_MANY_STREAMS = (TOO_MANY_REQUESTS, "too-many-streams", "Too many streams",
        "this key has as many event streams open as it may: close one first");
    pub STREAMS_FULL = (SERVICE_UNAVAILABLE, "streams-full", "Too many streams",
        "the server has as many event streams open as it serves: try again later");
}

const READ_ONLY: &str = "events are written by the database with every change; they cannot be \
     created, changed or deleted";

/// The media type of a stream.
pub const EVENT_STREAM: &str = "text/event-stream";

/// Events read per look at the feed, on a stream.
const STREAM_BATCH: u64 = 100;

pub fn routes(routes: &mut Routes) {
    handlers::read_only_listing::<Event, _, _>(routes, READ_ONLY, list);
}

impl Resource for Event {
    const NOT_FOUND: &'static crate::jsonapi::error::Code = &EVENT_NOT_FOUND;
    const SINGULAR: &'static str = "event";
    const LIST_ERRORS: &'static [&'static crate::jsonapi::error::Code] =
        &[&CURSOR_EXPIRED, &TOO_MANY_STREAMS, &STREAMS_FULL];
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "31", "position": 812, "eventType": "transaction.created",
            "walletSequence": 4, "occurredAt": "2026-12-01T12:00:00Z",
            "data": {"type": "transactions", "id": "42",
                     "attributes": {"txid": "deposit-42", "amount": "100.50", "currency": "USD",
                                    "createdAt": "2026-12-01T12:00:00Z", "metadata": {}},
                     "relationships": {"wallet": {"data": {"type": "wallets", "id": "1"}},
                                       "transfer": {"data": null}}},
            "origin": "api", "actorName": "local-admin", "wallet": "1", "actor": "1",
            "transaction": "42", "hold": null, "transfer": null, "exchange": null,
            "balanceChange": null, "monitor": null}"#,
        create: "{}",
        update: "{}",
        created_meta: None,
    };
}

/// Whether the request asks for a stream rather than a document.
fn wants_stream(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|range| range.trim().starts_with(EVENT_STREAM))
        })
}

/// GET /events: a page of the feed, or with `Accept: text/event-stream` the live stream.
async fn list(
    request: HttpRequest,
    context: Collection,
    state: web::Data<AppState>,
) -> Result<Either<Reply, HttpResponse>, ApiError> {
    if wants_stream(&request) {
        return stream(&request, (*context).clone(), state)
            .await
            .map(Either::Right);
    }
    let includes = context.includes::<Event>()?;
    let query = list_query::<Event>(&context, Vec::new())?;
    let cursor = cursor_of(&query);
    let session = context.actor.reading();
    let (feed, query, page_read, included) =
        db::run_in(context.reader(&state), &session, move |conn| {
            let feed = feed_state(conn)?;
            if let Some(cursor) = cursor {
                expired(&feed, cursor)?;
            }
            let page_read = read_page::<Event>(conn, &query)?;
            let included = load_included(conn, &includes, &page_read.rows)?;
            Ok::<_, ApiError>((feed, query, page_read, included))
        })
        .await?;
    let mut outline = outline(&context, &query, &page_read);
    outline.meta = Some(json!({ "feed": feed_meta(&feed) }));
    Ok(Either::Left(page(
        &context,
        &page_read.rows,
        outline,
        &included,
    )))
}

/// The (position, id) a page starts after or ends before.
fn cursor_of(
    query: &ListQuery<<Event as crate::models::fields::Model>::Field>,
) -> Option<(i64, i64)> {
    let Page::Cursor {
        position: Position::After(values) | Position::Before(values),
        ..
    } = &query.page
    else {
        return None;
    };
    match values.as_slice() {
        [FieldValue::Id(position), FieldValue::Id(id)] => Some((*position, *id)),
        _ => None,
    }
}

/// 410 when retention removed events after `cursor`: its reader would miss them.
fn expired(feed: &FeedState, cursor: (i64, i64)) -> Result<(), ApiError> {
    if cursor < (feed.pruned_position, feed.pruned_id) {
        return Err(ApiError::new(
            &CURSOR_EXPIRED,
            "events after this cursor are older than the retention (EVENT_RETENTION) and were \
             removed; start again from the first page",
        )
        .meta(
            json!({"retainedFrom": {"position": feed.pruned_position.to_string(),
                                       "id": feed.pruned_id.to_string()}}),
        ));
    }
    Ok(())
}

/// `meta.feed`: the horizon, and how long the oldest event not served yet has waited (0
/// when none waits).
fn feed_meta(feed: &FeedState) -> Value {
    json!({
        "horizon": feed.horizon.to_string(),
        "lagSeconds": feed.lag_seconds.unwrap_or(0.0).max(0.0),
    })
}

/// The open streams, per key and in all.
pub struct Streams {
    per_key: usize,
    total: usize,
    open: Mutex<HashMap<i64, usize>>,
    pub poll: Duration,
    pub heartbeat: Duration,
}

impl Streams {
    pub fn new(per_key: usize, total: usize, poll: Duration, heartbeat: Duration) -> Streams {
        Streams {
            per_key,
            total,
            open: Mutex::new(HashMap::new()),
            poll,
            heartbeat,
        }
    }

    /// A place for one more stream of `key`, or the 429 / 503 that refuses it.
    fn open(self: &Arc<Self>, key: i64) -> Result<Slot, ApiError> {
        let mut open = self
            .open
            .lock()
            .expect("the streams' lock is never poisoned");
        let all: usize = open.values().sum();
        if all >= self.total {
            return Err(ApiError::new(
                &STREAMS_FULL,
                format!(
                    "{all} event streams are open, as many as this server serves (EVENT_STREAMS)"
                ),
            )
            .with_header("Retry-After", "5"));
        }
        let mine = open.entry(key).or_insert(0);
        if *mine >= self.per_key {
            return Err(ApiError::new(
                &TOO_MANY_STREAMS,
                format!(
                    "this key has {} event streams open, as many as a key may \
                     (EVENT_STREAMS_PER_KEY)",
                    *mine
                ),
            )
            .with_header("Retry-After", "5"));
        }
        *mine += 1;
        Ok(Slot {
            streams: self.clone(),
            key,
        })
    }

    /// How many streams are open now.
    pub fn count(&self) -> usize {
        self.open
            .lock()
            .expect("the streams' lock is never poisoned")
            .values()
            .sum()
    }
}

/// One open stream's place, given back when the stream ends.
struct Slot {
    streams: Arc<Streams>,
    key: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .open
            .lock()
            .expect("the streams' lock is never poisoned");
        if let Some(mine) = open.get_mut(&self.key) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The body of a stream: what its task sends, until the client goes.
struct Body(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Body {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|bytes| bytes.map(Ok))
    }
}

/// The live stream: from `Last-Event-ID` (or `page[after]`) when given, else from now on;
/// each event as it passes the horizon, with the same filters and wallet limits as a page.
async fn stream(
    request: &HttpRequest,
    context: Context,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let last_event_id = request
        .headers()
        .get("Last-Event-ID")
        .map(|value| value.to_str().unwrap_or("").to_string());
    let mut query = list_query::<Event>(&context, Vec::new())?;
    if let Some(cursor) = last_event_id.filter(|id| !id.is_empty()) {
        query.page = Page::Cursor {
            position: Position::After(crate::api::listing::decode_cursor::<Event>(
                "Last-Event-ID",
                &cursor,
                &query.sort,
            )?),
            size: STREAM_BATCH,
        };
    }
    let session = context.actor.reading();
    // Where it starts: the cursor given (unless expired), or the horizon now.
    let start = cursor_of(&query);
    let feed = db::run_in(context.reader(&state), &session, move |conn| {
        let feed = feed_state(conn)?;
        if let Some(cursor) = start {
            expired(&feed, cursor)?;
        }
        Ok::<_, ApiError>(feed)
    })
    .await?;
    let cursor: Vec<FieldValue> = match start {
        Some((position, id)) => vec![FieldValue::Id(position), FieldValue::Id(id)],
        None => vec![FieldValue::Id(feed.horizon - 1), FieldValue::Id(i64::MAX)],
    };
    query.page = Page::Cursor {
        position: Position::After(cursor),
        size: STREAM_BATCH,
    };
    let slot = state.streams.open(context.actor.key_id())?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    actix_web::rt::spawn(follow(context, state.clone(), query, sender, slot));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(Body(receiver)))
}

/// Follows the feed for one stream until its client goes (a send fails) or the database
/// fails (the stream ends; the client resumes with its last id).
async fn follow(
    context: Context,
    state: web::Data<AppState>,
    mut query: ListQuery<<Event as crate::models::fields::Model>::Field>,
    sender: tokio::sync::mpsc::Sender<Bytes>,
    _slot: Slot,
) {
    let session = context.actor.reading();
    let (poll, heartbeat) = (state.streams.poll, state.streams.heartbeat);
    if sender
        .send(Bytes::from_static(b": open\n\n"))
        .await
        .is_err()
    {
        return;
    }
    let mut quiet_since = Instant::now();
    loop {
        let read = query.clone();
        let found = db::run_in(context.reader(&state), &session, move |conn| {
            read_page::<Event>(conn, &read).map_err(ApiError::from)
        })
        .await;
        let page_read = match found {
            Ok(page_read) => page_read,
            Err(error) => {
                let message = format!(": error {}\n\n", error.first().detail().replace('\n', " "));
                let _ = sender.send(Bytes::from(message)).await;
                return;
            }
        };
        let cursors = outline(&context, &query, &page_read)
            .cursors
            .unwrap_or_default();
        for (row, cursor) in page_read.rows.iter().zip(&cursors) {
            let data = object(row, &context, None).to_string();
            let frame = format!("id: {cursor}\nevent: {}\ndata: {data}\n\n", row.event_type);
            if sender.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
        if let Some(last) = page_read.rows.last() {
            query.page = Page::Cursor {
                position: Position::After(vec![
                    FieldValue::Id(last.position),
                    FieldValue::Id(last.id),
                ]),
                size: STREAM_BATCH,
            };
            quiet_since = Instant::now();
            if page_read.more_after {
                continue;
            }
        } else if quiet_since.elapsed() >= heartbeat {
            if sender
                .send(Bytes::from_static(b": heartbeat\n\n"))
                .await
                .is_err()
            {
                return;
            }
            quiet_since = Instant::now();
        }
        if sender.is_closed() {
            return;
        }
        actix_web::rt::time::sleep(poll).await;
    }
}
