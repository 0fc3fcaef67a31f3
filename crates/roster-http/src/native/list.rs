//! The list conventions every native collection shares: `limit`, `offset` or `cursor`, and the
//! `{"object": "list", count, next, previous, next_cursor, results}` envelope.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, Uri, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use roster_app::ListRowsHeld;
use roster_core::{
    Error, ValidationCode,
    input::{Fields, integer},
    page::{Cursor, DEFAULT_LIMIT, ListPage, ListQuery, Listed, MAX_LIMIT, Position},
};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::{task::AbortHandle, time::Instant};

use crate::problem::ApiError;

/// Reads a list's query string: the paging parameters and the filters `read_filter` takes.
/// Anything else is an unknown field; every invalid parameter is reported at once.
pub fn parse<F>(
    params: &Map<String, Value>,
    read_filter: impl FnOnce(&mut Fields<'_>) -> F,
) -> Result<(ListQuery, F), Error> {
    let mut fields = Fields::new(params);
    let query = read_paging(&mut fields);
    let filter = read_filter(&mut fields);
    fields.finish()?;
    Ok((query, filter))
}

fn read_paging(fields: &mut Fields<'_>) -> ListQuery {
    let limit = fields.optional("limit", integer(1, u64::from(MAX_LIMIT)));
    let offset = fields.optional("offset", integer(0, i64::MAX as u64));
    let cursor = fields.optional("cursor", |value| {
        value.as_str().and_then(Cursor::decode).ok_or_else(|| {
            roster_core::input::Invalid::new(ValidationCode::InvalidFormat, "is not a cursor from a previous page")
        })
    });
    if fields.is_present("offset") && fields.is_present("cursor") {
        fields.reject("cursor", ValidationCode::InvalidFormat, "cannot be combined with offset");
    }
    ListQuery {
        limit: limit.and_then(|l| u32::try_from(l).ok()).unwrap_or(DEFAULT_LIMIT),
        position: match cursor {
            Some(cursor) => Position::After(cursor),
            None => Position::Offset(offset.unwrap_or(0)),
        },
        sort: Vec::new(),
    }
}

/// The request's URL with `parameter` set to `value` in place of its own paging.
fn link(uri: &Uri, parameter: &str, value: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let original = uri.query().unwrap_or("");
    for (name, value) in form_urlencoded::parse(original.as_bytes()) {
        if name != "offset" && name != "cursor" {
            query.append_pair(&name, &value);
        }
    }
    query.append_pair(parameter, value);
    format!("{}?{}", uri.path(), query.finish())
}

/// The list envelope, serialised straight from its parts.
#[derive(Serialize)]
pub struct ListBody<W> {
    object: &'static str,
    pub count: u64,
    next: Option<String>,
    previous: Option<String>,
    next_cursor: Option<String>,
    pub results: Vec<W>,
}

/// The envelope of `page`, each item rendered by `render`, with links that keep the request's
/// other parameters.
pub fn body<T: Listed, W>(uri: &Uri, query: &ListQuery, page: ListPage<T>, render: impl Fn(&T) -> W) -> ListBody<W> {
    let mut listed = envelope(uri, query, &page);
    listed.results = page.items.iter().map(render).collect();
    listed
}

/// The envelope of a list that is not counted (events: counting millions of rows would cost
/// what a page must not): [`ListBody`] without `count`.
#[derive(Serialize)]
pub struct UncountedBody<W> {
    object: &'static str,
    next: Option<String>,
    previous: Option<String>,
    next_cursor: Option<String>,
    results: Vec<W>,
}

pub fn uncounted_body<T: Listed, W>(
    uri: &Uri,
    query: &ListQuery,
    page: ListPage<T>,
    render: impl Fn(&T) -> W,
) -> UncountedBody<W> {
    let ListBody { object, next, previous, next_cursor, results, .. } = body(uri, query, page, render);
    UncountedBody { object, next, previous, next_cursor, results }
}

/// The envelope of `page` with no results yet.
fn envelope<T: Listed, W>(uri: &Uri, query: &ListQuery, page: &ListPage<T>) -> ListBody<W> {
    let next_cursor = page.items.last().filter(|_| page.has_more).map(Listed::position);
    // The next page is always linked by cursor, from an offset page too: it costs the same at
    // any depth, where the next offset would cost more with every page.
    let next = next_cursor.as_ref().map(|cursor| link(uri, "cursor", &cursor.encode()));
    let previous = match &query.position {
        Position::Offset(offset) if *offset > 0 => {
            Some(link(uri, "offset", &offset.saturating_sub(u64::from(query.limit)).to_string()))
        }
        _ => None,
    };
    ListBody {
        object: "list",
        count: page.count,
        next,
        previous,
        next_cursor: next_cursor.map(|c| c.encode()),
        results: Vec::new(),
    }
}

/// The page as the response, its body streamed: the envelope, then the results serialised a
/// few at a time as the connection takes them, so a page is never held as rows and as its
/// whole JSON at once. The body keeps the page's share of the list rows budget until it has
/// been written (see [`roster_app::App::hold_list_rows`]). The bytes are those of [`body`].
pub fn render<T: Listed + Send + 'static, W: Serialize + 'static>(
    uri: &Uri,
    query: &ListQuery,
    (page, held): (ListPage<T>, ListRowsHeld),
    render: fn(&T) -> W,
) -> Response {
    let mut head = match serde_json::to_vec(&envelope::<T, W>(uri, query, &page)) {
        Ok(head) => head,
        Err(error) => return ApiError::from(Error::internal(error)).into_response(),
    };
    // The envelope ends with its empty results, `[]}`: the rows go between the brackets.
    head.truncate(head.len().saturating_sub(2));
    let mut started = false;
    let write = move |chunk: &mut Vec<u8>, item: T| {
        if std::mem::replace(&mut started, true) {
            chunk.push(b',');
        }
        serde_json::to_writer(chunk, &render(&item)).map_err(std::io::Error::from)
    };
    streamed(head, page.items, write, b"]}", held)
}

/// `items` as a JSON array, each rendered as the connection takes them (see [`render`]): the
/// body of a dialect whose lists are bare arrays.
pub fn stream_array<T: Send + 'static, W: Serialize>(
    items: Vec<T>,
    render: impl Fn(&T) -> W + Send + 'static,
    held: ListRowsHeld,
) -> Response {
    let mut started = false;
    let write = move |chunk: &mut Vec<u8>, item: T| {
        if std::mem::replace(&mut started, true) {
            chunk.push(b',');
        }
        serde_json::to_writer(chunk, &render(&item)).map_err(std::io::Error::from)
    };
    streamed(b"[".to_vec(), items, write, b"]", held)
}

/// A list's body already built (the roles' list, whose built-in roles are added to the page)
/// as the response, sent in chunks and holding the page's share of the list rows budget until
/// its last chunk is taken.
pub fn respond(listed: impl Serialize, held: ListRowsHeld) -> Response {
    let whole = match serde_json::to_vec(&listed) {
        Ok(whole) => Bytes::from(whole),
        Err(error) => return ApiError::from(Error::internal(error)).into_response(),
    };
    let slices = (0..whole.len()).step_by(CHUNK_BYTES).map(|at| whole.slice(at..whole.len().min(at + CHUNK_BYTES)));
    let write = |chunk: &mut Vec<u8>, slice: Bytes| {
        chunk.extend_from_slice(&slice);
        Ok(())
    };
    streamed(Vec::new(), slices.collect(), write, b"", held)
}

/// `head`, then each item written by `write` as the connection asks for more, then `tail`.
fn streamed<T: Send + 'static>(
    head: Vec<u8>,
    items: Vec<T>,
    write: impl FnMut(&mut Vec<u8>, T) -> std::io::Result<()> + Send + 'static,
    tail: &'static [u8],
    held: ListRowsHeld,
) -> Response {
    let unsent = Unsent { items: items.into_iter(), _held: held, last_taken: Instant::now() };
    let chunks = Chunks {
        pending: head,
        write,
        tail,
        finished: false,
        unsent: Arc::new(Mutex::new(Some(unsent))),
        watchdog: None,
    };
    let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A streamed list body's chunks end after the result that takes them past this size: hyper
/// holds one chunk per connection beyond its own buffer until the client reads it, so a chunk
/// must stay small whatever the size of a page or of its rows.
const CHUNK_BYTES: usize = 64 * 1024;

/// How long a client may go without taking the next chunk of a page larger than one. Its rows
/// and its share of the rows budget are then let go and the response is cut: a client that
/// stops reading must not keep every other list request waiting for long.
pub const LIST_BODY_STALL: Duration = Duration::from_secs(10);

/// The items of a page not yet written, with the page's share of the budget.
struct Unsent<T> {
    items: std::vec::IntoIter<T>,
    _held: ListRowsHeld,
    /// When the connection last took a chunk.
    last_taken: Instant,
}

type Shared<T> = Arc<Mutex<Option<Unsent<T>>>>;

/// The chunks of a streamed list body, each made when the connection asks for it.
struct Chunks<T, F> {
    /// Bytes to send before the next items (the envelope, at first).
    pending: Vec<u8>,
    write: F,
    tail: &'static [u8],
    finished: bool,
    /// Taken when the last item is written, or by the watchdog when the client stalls.
    unsent: Shared<T>,
    /// Started when a page needs more than one chunk; ends with the body.
    watchdog: Option<AbortHandle>,
}

impl<T: Send + 'static, F: FnMut(&mut Vec<u8>, T) -> std::io::Result<()>> Iterator for Chunks<T, F> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let mut unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(rows) = unsent.as_mut() else {
            self.finished = true;
            return Some(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")));
        };
        rows.last_taken = Instant::now();
        let mut chunk = std::mem::take(&mut self.pending);
        while chunk.len() < CHUNK_BYTES
            && let Some(item) = rows.items.next()
        {
            if let Err(error) = (self.write)(&mut chunk, item) {
                self.finished = true;
                return Some(Err(error));
            }
        }
        if rows.items.len() == 0 {
            chunk.extend_from_slice(self.tail);
            self.finished = true;
            *unsent = None;
        } else if self.watchdog.is_none() {
            self.watchdog = Some(tokio::spawn(cut_when_stalled(Arc::clone(&self.unsent))).abort_handle());
        }
        Some(Ok(chunk))
    }
}

/// Lets the page's items and budget go once the connection has taken no chunk for
/// [`LIST_BODY_STALL`].
async fn cut_when_stalled<T>(unsent: Shared<T>) {
    loop {
        let due = match unsent.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            Some(rows) => rows.last_taken + LIST_BODY_STALL,
            None => return,
        };
        tokio::time::sleep_until(due).await;
        let mut unsent = unsent.lock().unwrap_or_else(PoisonError::into_inner);
        if unsent.as_ref().is_none_or(|rows| rows.last_taken + LIST_BODY_STALL <= Instant::now()) {
            unsent.take();
            return;
        }
    }
}

impl<T, F> Drop for Chunks<T, F> {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.abort();
        }
        self.unsent.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use http_body_util::BodyExt;
    use roster_app::{App, Config};
    use roster_core::{
        model::{Mode, Organisation, OrganisationSettings},
        page::{ListPage, ListQuery, MAX_LIMIT},
        time::Timestamp,
    };

    use super::{LIST_BODY_STALL, body, render, respond};
    use crate::native::wire;

    async fn app() -> App {
        let store = roster_store::open("sqlite::memory:").await.unwrap();
        App::new(store, Config::default())
    }

    /// A page of `count` organisations whose names are `name_bytes` long.
    fn page(count: usize, name_bytes: usize) -> ListPage<Organisation> {
        let items = (0..count)
            .map(|n| Organisation {
                id: format!("org_{n:026}"),
                partner_id: "ptn_1".into(),
                mode: Mode::Live,
                name: "n".repeat(name_bytes),
                settings: OrganisationSettings { enforce_twofactor: false, abuse_contact_email: None },
                created_at: Timestamp(1_700_000_000_000),
                updated_at: Timestamp(1_700_000_000_000),
            })
            .collect();
        ListPage { items, has_more: true, count: 5_000 }
    }

    async fn next_frame(body: &mut Body) -> Option<Result<Vec<u8>, axum::Error>> {
        let frame = body.frame().await?;
        Some(frame.map(|frame| frame.into_data().map(|data| data.to_vec()).unwrap_or_default()))
    }

    #[tokio::test]
    async fn a_streamed_page_is_byte_for_byte_its_whole_body() {
        let app = app().await;
        let uri = "/v1/organisations?limit=300&offset=300".parse().unwrap();
        let query = ListQuery { limit: 300, position: roster_core::page::Position::Offset(300), sort: Vec::new() };
        for (count, name_bytes) in [(0, 1), (3, 10), (300, 1_000)] {
            let held = app.hold_list_rows(query.limit).await.unwrap();
            let response = render(&uri, &query, (page(count, name_bytes), held), wire::organisation);
            assert_eq!(response.headers()["content-type"], "application/json");
            let streamed = response.into_body().collect().await.unwrap().to_bytes();
            let whole = serde_json::to_vec(&body(&uri, &query, page(count, name_bytes), wire::organisation)).unwrap();
            assert_eq!(streamed, whole, "{count} results");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_gives_the_rows_budget_back_but_a_slow_one_is_served() {
        let app = app().await;
        let uri = "/v1/organisations?limit=1000".parse().unwrap();
        let query = ListQuery { limit: MAX_LIMIT, ..ListQuery::default() };
        let held = app.hold_list_rows(MAX_LIMIT).await.unwrap();
        let mut body = render(&uri, &query, (page(1_000, 1_000), held), wire::organisation).into_body();
        // Slow but steady: a chunk every nine seconds, for longer than the stall allows.
        for _ in 0..3 {
            assert!(next_frame(&mut body).await.unwrap().is_ok(), "a steady reader is served");
            tokio::time::sleep(LIST_BODY_STALL - Duration::from_secs(1)).await;
        }
        assert!(next_frame(&mut body).await.unwrap().is_ok());

        let waiting = tokio::spawn({
            let app = app.clone();
            async move { app.hold_list_rows(MAX_LIMIT).await.map(drop) }
        });
        tokio::time::sleep(LIST_BODY_STALL - Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "the page holds the budget while its reader keeps up");
        tokio::time::sleep(Duration::from_secs(2)).await;
        waiting.await.unwrap().unwrap();
        assert!(next_frame(&mut body).await.unwrap().is_err(), "the response is cut");
    }

    #[tokio::test]
    async fn a_built_body_is_sent_in_chunks_holding_the_budget_until_its_last() {
        let app = app().await;
        let uri = "/v1/organisations?limit=1000".parse().unwrap();
        let query = ListQuery { limit: MAX_LIMIT, ..ListQuery::default() };
        let listed = body(&uri, &query, page(1_000, 1_000), wire::organisation);
        let whole = serde_json::to_vec(&listed).unwrap();
        let held = app.hold_list_rows(MAX_LIMIT).await.unwrap();
        let mut sent = respond(listed, held).into_body();
        let mut received = next_frame(&mut sent).await.unwrap().unwrap();
        assert!(received.len() < whole.len(), "more than one chunk");
        let blocked = tokio::time::timeout(Duration::from_millis(50), app.hold_list_rows(MAX_LIMIT)).await;
        assert!(blocked.is_err(), "the budget is held while chunks remain");
        while let Some(frame) = next_frame(&mut sent).await {
            received.extend(frame.unwrap());
        }
        assert_eq!(received, whole);
        drop(sent);
        app.hold_list_rows(MAX_LIMIT).await.unwrap();
    }

    #[tokio::test]
    async fn a_body_dropped_unread_gives_the_rows_budget_back_at_once() {
        let app = app().await;
        let uri = "/v1/organisations?limit=1000".parse().unwrap();
        let query = ListQuery { limit: MAX_LIMIT, ..ListQuery::default() };
        let held = app.hold_list_rows(MAX_LIMIT).await.unwrap();
        let mut dropped = render(&uri, &query, (page(1_000, 1_000), held), wire::organisation).into_body();
        assert!(next_frame(&mut dropped).await.unwrap().is_ok());
        drop(dropped);
        let again = tokio::time::timeout(Duration::from_secs(5), app.hold_list_rows(MAX_LIMIT)).await;
        assert!(again.is_ok(), "the budget is free once the body is gone");
    }
}
