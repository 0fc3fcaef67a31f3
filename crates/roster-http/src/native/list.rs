//! The list conventions every native collection shares: `limit`, `offset` or `cursor`, and the
//! `{"object": "list", count, next, previous, next_cursor, results}` envelope.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    body::Body,
    http::{HeaderValue, Uri, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use roster_app::ListRowsHeld;
use roster_core::{
    Error, ValidationCode,
    input::{Fields, integer},
    page::{Cursor, DEFAULT_LIMIT, ListPage, ListQuery, Listed, MAX_LIMIT, Position},
};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::task::AbortHandle;

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
    let unsent = Arc::new(Mutex::new(Some(Unsent { items: page.items.into_iter(), _held: held })));
    let chunks = Chunks { pending: head, render, started: false, finished: false, unsent, watchdog: None };
    let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A streamed list body's chunks end after the result that takes them past this size: hyper
/// holds one chunk per connection beyond its own buffer until the client reads it, so a chunk
/// must stay small whatever the size of a page or of its rows.
const CHUNK_BYTES: usize = 64 * 1024;

/// How long a client may take to read a page that does not fit in one chunk. Its rows and its
/// share of the rows budget are then let go and the response is cut: a client that stops
/// reading must not hold, with a page of 1,000 rows, every other list request waiting.
pub const LIST_BODY_DEADLINE: Duration = Duration::from_secs(60);

/// The rows of a page not yet serialised, with the page's share of the budget.
struct Unsent<T> {
    items: std::vec::IntoIter<T>,
    _held: ListRowsHeld,
}

/// The chunks of a streamed list body, each made when the connection asks for it.
struct Chunks<T, W> {
    /// Bytes to send before the next results (the envelope, at first).
    pending: Vec<u8>,
    render: fn(&T) -> W,
    /// Whether a result was written, so the next one is preceded by a comma.
    started: bool,
    finished: bool,
    /// Taken when the last row is serialised, or by the watchdog at the deadline.
    unsent: Arc<Mutex<Option<Unsent<T>>>>,
    /// Started when a page needs more than one chunk; ends with the body.
    watchdog: Option<AbortHandle>,
}

impl<T: Send + 'static, W: Serialize> Iterator for Chunks<T, W> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let mut unsent = self.unsent.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(rows) = unsent.as_mut() else {
            self.finished = true;
            return Some(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client read too slowly")));
        };
        let mut chunk = std::mem::take(&mut self.pending);
        while chunk.len() < CHUNK_BYTES
            && let Some(item) = rows.items.next()
        {
            if self.started {
                chunk.push(b',');
            }
            if let Err(error) = serde_json::to_writer(&mut chunk, &(self.render)(&item)) {
                self.finished = true;
                return Some(Err(error.into()));
            }
            self.started = true;
        }
        if rows.items.len() == 0 {
            chunk.extend_from_slice(b"]}");
            self.finished = true;
            *unsent = None;
        } else if self.watchdog.is_none() {
            let unsent = Arc::clone(&self.unsent);
            let watchdog = tokio::spawn(async move {
                tokio::time::sleep(LIST_BODY_DEADLINE).await;
                unsent.lock().unwrap_or_else(PoisonError::into_inner).take();
            });
            self.watchdog = Some(watchdog.abort_handle());
        }
        Some(Ok(chunk))
    }
}

impl<T, W> Drop for Chunks<T, W> {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.abort();
        }
        self.unsent.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// A list's body as the response, whose body keeps the page's share of the list rows budget
/// until it has been written (see [`roster_app::App::hold_list_rows`]).
pub fn respond(listed: impl Serialize, held: ListRowsHeld) -> Response {
    super::json(listed).map(|body| {
        // The body owns the guard: it is dropped with the body, once the response is written.
        Body::new(body.map_frame(move |frame| {
            let _kept_until_written = &held;
            frame
        }))
    })
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

    use super::{LIST_BODY_DEADLINE, body, render};
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
    async fn a_client_that_stops_reading_gives_the_rows_budget_back_at_the_deadline() {
        let app = app().await;
        let uri = "/v1/organisations?limit=1000".parse().unwrap();
        let query = ListQuery { limit: MAX_LIMIT, ..ListQuery::default() };
        let held = app.hold_list_rows(MAX_LIMIT).await.unwrap();
        let mut stalled = render(&uri, &query, (page(1_000, 1_000), held), wire::organisation).into_body();
        assert!(next_frame(&mut stalled).await.unwrap().is_ok(), "the first chunk is sent");

        let waiting = tokio::spawn({
            let app = app.clone();
            async move { app.hold_list_rows(MAX_LIMIT).await.map(drop) }
        });
        tokio::time::sleep(LIST_BODY_DEADLINE - Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "the page still holds the budget while within its deadline");
        tokio::time::sleep(Duration::from_secs(2)).await;
        waiting.await.unwrap().unwrap();
        assert!(next_frame(&mut stalled).await.unwrap().is_err(), "the response is cut");
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
