//! The console's layout and the pieces its pages share, and the one place a core error becomes
//! words on a page.

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};
use roster_core::{Error, model::Mode, time::Timestamp};

use super::request::Session;
use crate::problem::native_name;
/// The status a page failing with an error answers: the native API's.
pub(crate) use crate::problem::status_of;

/// The sections of the console, as its navigation lists them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Organisations,
    Roles,
    Keys,
    Events,
    Webhooks,
}

const SECTIONS: [(Section, &str, &str); 5] = [
    (Section::Organisations, "/console/organisations", "Organisations"),
    (Section::Roles, "/console/roles", "Roles"),
    (Section::Keys, "/console/keys", "API keys"),
    (Section::Events, "/console/events", "Events"),
    (Section::Webhooks, "/console/webhooks", "Webhooks"),
];

/// What happened to the last thing asked, shown above a page's content.
pub(crate) enum Notice {
    Done(&'static str),
    Failed(Vec<String>),
}

impl Notice {
    /// The notice of a failure: its words, and, for one of Roster's own, its cause in the log
    /// (the page says only that something went wrong).
    pub fn of(error: &Error) -> Self {
        log_internal(error);
        Self::Failed(describe(error))
    }
}

fn log_internal(error: &Error) {
    if let Error::Internal(cause) = error {
        tracing::error!(%cause, "console request failed");
    }
}

/// A read a page can do without: its value, or `None` when it failed (an internal failure
/// logged).
pub(crate) fn unless_failed<T>(read: Result<T, Error>) -> Option<T> {
    read.inspect_err(log_internal).ok()
}

/// A core error in words a person reads; every variant decided here.
pub(crate) fn describe(error: &Error) -> Vec<String> {
    let sentence = |text: &str| {
        let mut chars = text.chars();
        chars.next().map_or_else(String::new, |first| format!("{}{}.", first.to_uppercase(), chars.as_str()))
    };
    match error {
        Error::Validation(errors) => {
            errors.iter().map(|error| format!("{}: {}.", native_name(&error.field), error.message)).collect()
        }
        Error::Unauthorised => vec!["That key cannot sign in to the console: use a secret key (sk_…).".to_owned()],
        Error::Forbidden => vec!["This key is not allowed to do that.".to_owned()],
        Error::NotFound => vec!["Not found.".to_owned()],
        Error::InvalidRequest(message) => vec![sentence(message)],
        Error::MembershipAlreadyExists { .. } => {
            vec!["That person is already a member of this organisation.".to_owned()]
        }
        Error::MembershipDeletionForbidden(message) | Error::MembershipUpdateForbidden(message) => {
            vec![sentence(message)]
        }
        Error::UserAlreadyExists => vec!["A user with this e-mail address already exists.".to_owned()],
        Error::RoleAlreadyExists => vec!["A role with this name already exists in the organisation.".to_owned()],
        Error::Unavailable | Error::Contention => {
            vec!["Roster is busy or cannot reach its database right now. Try again in a moment.".to_owned()]
        }
        Error::Internal(_) => vec!["Something went wrong on our side; nothing was changed.".to_owned()],
    }
}

/// A page made of `notice` alone, for an answer that has no page of its own to show.
pub(crate) fn message_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        main id="content" {
            h1 { "Roster console" }
            p.notice.failed role="alert" { (message) }
            p { a href="/console/organisations" { "Back to the console" } }
        }
    };
    (status, Html(document("Roster console", body).into_string())).into_response()
}

/// A page for a request that failed before it had a page to show.
pub(crate) fn failure_page(error: &Error) -> Response {
    log_internal(error);
    message_page(status_of(error), &describe(error).join(" "))
}

fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Roster" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#content" { "Skip to content" }
                (body)
            }
        }
    }
}

/// A signed-in page: the navigation (with `current` marked), the session's mode and its
/// switch, sign out, the notice, then `content`.
pub(crate) fn page(
    session: &Session,
    current: Section,
    title: &str,
    notice: Option<&Notice>,
    content: Markup,
) -> Markup {
    let mode = session.signed.session.mode;
    let (other, other_label) = match mode {
        Mode::Live => ("test", "Switch to test mode"),
        Mode::Test => ("live", "Switch to live mode"),
    };
    let body = html! {
        header.top {
            a.brand href="/console/organisations" { "Roster" }
            nav aria-label="Console" {
                ul {
                    @for (section, href, label) in SECTIONS {
                        li {
                            @if section == current {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                }
            }
            div.session {
                @match mode {
                    Mode::Live => span.mode.live { "Live" },
                    Mode::Test => span.mode.test { "Test" },
                }
                form.inline method="post" action="/console/mode" {
                    input type="hidden" name="csrf" value=(session.csrf());
                    input type="hidden" name="mode" value=(other);
                    button.quiet type="submit" { (other_label) }
                }
                form.inline method="post" action="/console/sign-out" {
                    input type="hidden" name="csrf" value=(session.csrf());
                    button.quiet type="submit" { "Sign out" }
                }
            }
        }
        main id="content" {
            h1 { (title) }
            @if let Some(notice) = notice {
                (notice_markup(notice))
            }
            (content)
        }
    };
    document(title, body)
}

pub(crate) fn notice_markup(notice: &Notice) -> Markup {
    match notice {
        Notice::Done(text) => html! { p.notice.done role="status" { (text) } },
        Notice::Failed(lines) => html! {
            div.notice.failed role="alert" {
                @if let [line] = lines.as_slice() {
                    (line)
                } @else {
                    "That did not work:"
                    ul { @for line in lines { li { (line) } } }
                }
            }
        },
    }
}

/// A page without a session (sign-in).
pub(crate) fn bare_page(title: &str, content: Markup) -> Markup {
    document(title, html! { main id="content" { h1 { (title) } (content) } })
}

/// The hidden CSRF field every signed-in form carries.
pub(crate) fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf()); }
}

pub(crate) fn when(at: Timestamp) -> Markup {
    let text = at.to_rfc3339();
    html! { time datetime=(text) { (text.replace('T', " ").trim_end_matches('Z')) " UTC" } }
}

/// A page answered with `status`.
pub(crate) fn answer(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}
