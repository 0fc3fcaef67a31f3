//! List pages: `limit` with either `offset` or an opaque keyset `cursor`. A cursor names the last
//! row of a page by (`created_at`, `id`), the list order, so the next page is an index seek and
//! costs the same at any depth.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_at, self.id))
    }

    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (created_at, id) = raw.split_once(':')?;
        let valid_id = !id.is_empty()
            && id.len() <= crate::ids::MAX_ID_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid_id.then_some(Self { created_at: created_at.parse().ok()?, id: id.to_owned() })
    }
}

/// Anything listed newest first: where it stands in its list.
pub trait Listed {
    fn position(&self) -> Cursor;
}

macro_rules! listed {
    ($($model:ty),+) => {
        $(impl Listed for $model {
            fn position(&self) -> Cursor {
                Cursor { created_at: self.created_at.millis(), id: self.id.clone() }
            }
        })+
    };
}

listed!(
    crate::model::Partner,
    crate::model::PartnerGroup,
    crate::model::Organisation,
    crate::model::User,
    crate::model::ApiKey,
    crate::model::Membership,
    crate::model::Role,
    crate::model::WebhookEndpoint,
    crate::model::WebhookDelivery
);

/// Events are listed in commit order, newest first: a cursor's number is an event's
/// `sequence`, which orders them within a partner.
impl Listed for crate::model::Event {
    fn position(&self) -> Cursor {
        Cursor { created_at: self.sequence, id: self.id.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    Offset(u64),
    After(Cursor),
    /// After the object with this id (a Stripe-style `starting_after`): the operations resolve
    /// it to the object's cursor, within the caller's scope, before the store sees it.
    StartingAfter(String),
}

/// What a list may be ordered by. Every order ends with newest first, then id descending, so
/// rows that tie still come in one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Created,
    Updated,
    Organisation,
    User,
    /// Memberships only: by id, by status, by their organisation's name.
    Id,
    Status,
    OrganisationName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: u32,
    pub position: Position,
    /// Empty: newest first. Cursors (`Position::After`, `StartingAfter`) page the newest-first
    /// order only.
    pub sort: Vec<Sort>,
}

impl ListQuery {
    /// Whether the list is in its natural order, newest first, which cursors page.
    pub fn newest_first(&self) -> bool {
        self.sort.iter().all(|sort| sort.key == SortKey::Created && sort.descending)
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        Self { limit: DEFAULT_LIMIT, position: Position::Offset(0), sort: Vec::new() }
    }
}

/// One page, newest first, with the number of every match in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub count: u64,
    /// Whether rows follow this page.
    pub has_more: bool,
}

impl<T> ListPage<T> {
    /// Builds a page from up to `limit + 1` rows fetched in list order.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, count: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { items: rows, count, has_more }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> ListPage<U> {
        ListPage { items: self.items.into_iter().map(f).collect(), count: self.count, has_more: self.has_more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor { created_at: 1_700_000_000_000, id: "mem_01ABC".into() };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x:mem_1")), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("1:mem'--")), None);
    }

    #[test]
    fn overfetching_one_row_tells_whether_more_follow() {
        let page = ListPage::from_overfetch(vec![1, 2, 3], 2, 10);
        assert_eq!((page.items, page.has_more), (vec![1, 2], true));
        let last = ListPage::from_overfetch(vec![1, 2], 2, 2);
        assert!(!last.has_more);
    }
}
