//! The list conventions every native collection shares: `limit`, `offset` or `cursor`, and the
//! `{"object": "list", count, next, previous, next_cursor, results}` envelope.

use axum::{http::Uri, response::Response};
use roster_core::{
    Error, ValidationCode,
    input::{Fields, integer},
    page::{Cursor, DEFAULT_LIMIT, ListPage, ListQuery, Listed, MAX_LIMIT, Position},
};
use serde::Serialize;
use serde_json::{Map, Value};

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
        results: page.items.iter().map(render).collect(),
    }
}

pub fn render<T: Listed, W: Serialize>(
    uri: &Uri,
    query: &ListQuery,
    page: ListPage<T>,
    render: impl Fn(&T) -> W,
) -> Response {
    super::json(body(uri, query, page, render))
}
