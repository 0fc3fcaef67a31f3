//! The console through HTTP: signing in and out, the session cookie, CSRF, the keys that may
//! sign in, scope, the rules' words, keys shown once, modes, paging, and bad forms. (The
//! browser suite, `console-tests/`, drives the same pages in Chromium.)

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::json;

use crate::support::{MASTER_KEY, TestApp, jwt_for};

/// A browser's part: the cookies it holds, the pages it gets.
struct Browser<'a> {
    app: &'a TestApp,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|value| value.to_str().ok())
    }

    /// The CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no form on {}", self.body)) + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|value| value.to_str().unwrap()).collect()
    }
}

fn encode(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    form.finish().into_bytes()
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, cookies: HashMap::new() }
    }

    /// Signs in with `secret` and expects it to work.
    async fn signed_in(app: &'a TestApp, secret: &str) -> Self {
        let mut browser = Self::new(app);
        let signed = browser.sign_in(secret).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
        browser
    }

    async fn sign_in(&mut self, secret: &str) -> Page {
        let form = self.get("/console/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        self.post_bytes("/console/sign-in", encode(&[("csrf", &form.csrf()), ("secret", secret)])).await
    }

    async fn request(&mut self, method: Method, path: &str, body: Option<Vec<u8>>) -> Page {
        let cookie = self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ");
        let mut headers = vec![("cookie", cookie.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/x-www-form-urlencoded"));
        }
        let (status, headers, body) = self.app.send_text(method, path, &headers, body).await;
        let page = Page { status, headers, body };
        for set in page.set_cookies() {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    async fn post_bytes(&mut self, path: &str, body: Vec<u8>) -> Page {
        self.request(Method::POST, path, Some(body)).await
    }

    /// Posts `fields` with the CSRF token of the page at `from`.
    async fn submit(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_bytes(path, encode(&all)).await
    }
}

async fn organisation_names(app: &TestApp) -> Vec<String> {
    let listed = app.get("/v1/organisations", &app.live).await;
    listed.body["results"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_owned()).collect()
}

on_both_backends! {
    /// Signing in sets an HttpOnly, SameSite=Strict session cookie for the console's paths;
    /// pages carry a strict Content-Security-Policy; signing out ends the session on the server.
    async fn a_session_is_a_strict_cookie_and_signing_out_ends_it(app) {
        let mut browser = Browser::new(&app);
        let form = browser.get("/console/sign-in").await;
        let policy = form.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(form.headers[header::X_FRAME_OPTIONS], "DENY");
        let signed = browser.post_bytes("/console/sign-in", encode(&[("csrf", &form.csrf()), ("secret", &app.live)])).await;
        assert_eq!((signed.status, signed.location()), (StatusCode::SEE_OTHER, Some("/console/organisations")));
        let session = signed.set_cookies().into_iter().find(|c| c.starts_with("roster_console=")).unwrap().to_owned();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=28800"] {
            assert!(session.contains(attribute), "{session}");
        }
        assert!(!session.contains("Secure"), "plain HTTP from a client that is no proxy: {session}");
        assert!(!session.contains(&app.live), "the cookie is not the key");

        let organisations = browser.get("/console/organisations").await;
        assert_eq!(organisations.status, StatusCode::OK);
        assert!(organisations.body.contains("<h1>Organisations</h1>"), "{}", organisations.body);

        let out = browser.submit("/console/organisations", "/console/sign-out", &[]).await;
        assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, Some("/console/sign-in")));
        let mut stolen = Browser::new(&app);
        stolen.cookies.insert("roster_console".into(), session.split(';').next().unwrap()["roster_console=".len()..].into());
        let after = stolen.get("/console/organisations").await;
        assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, Some("/console/sign-in")), "the session is gone");
    }

    /// A form without the session's CSRF token, or with another, is refused and changes nothing;
    /// so is a sign-in that did not come from the sign-in form.
    async fn forms_without_their_csrf_token_are_refused_and_change_nothing(app) {
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let mut other = Browser::signed_in(&app, &app.live).await;
        let foreign = other.get("/console/organisations").await.csrf();
        for csrf in [None, Some(""), Some("not-a-token"), Some(foreign.as_str())] {
            let mut fields = vec![("name", "Forged")];
            if let Some(csrf) = csrf {
                fields.push(("csrf", csrf));
            }
            let refused = browser.post_bytes("/console/organisations", encode(&fields)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
            assert!(refused.body.contains("did not come from the console"), "{}", refused.body);
        }
        assert!(!organisation_names(&app).await.contains(&"Forged".to_owned()));

        let mut fresh = Browser::new(&app);
        let login = fresh.post_bytes("/console/sign-in", encode(&[("csrf", "x"), ("secret", &app.live)])).await;
        assert_eq!(login.status, StatusCode::FORBIDDEN, "a sign-in another site made");
        assert!(!fresh.cookies.contains_key("roster_console"));
    }

    /// Only secret keys of groups and organisations sign in: not publishable keys, user tokens,
    /// JWTs, the master key, or anything else; and no cookie is set for them.
    async fn only_secret_keys_sign_in(app) {
        let organisation = app.organisation(&app.live, "Acme").await;
        let member = app.member(&app.live, &organisation, "ann@example.com", "ADMIN").await;
        let user_id = app.get(&format!("/v1/memberships/{member}"), &app.live).await.body["user_id"].as_str().unwrap().to_owned();
        let publishable = app.key(&app.live, json!({"name": "web", "type": "publishable", "organisation_id": organisation})).await;
        let user_token = app.key(&app.live, json!({"name": "ann", "type": "user_token", "user_id": user_id})).await;
        for secret in [publishable.as_str(), user_token.as_str(), &jwt_for(&user_id), MASTER_KEY, "sk_live_nonsense", ""] {
            let mut browser = Browser::new(&app);
            let refused = browser.sign_in(secret).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{secret}");
            assert!(refused.body.contains("use a secret key"), "{}", refused.body);
            assert!(!browser.cookies.contains_key("roster_console"), "{secret}");
        }
        let organisation_key = app.key(&app.live, json!({"name": "acme", "organisation_id": organisation, "abilities": ["*"]})).await;
        let mut browser = Browser::signed_in(&app, &organisation_key).await;
        let page = browser.get("/console/organisations").await;
        assert!(page.body.contains("Acme"), "{}", page.body);
    }

    /// Invite someone, change their role, and meet the last-admin rule in words; nothing of a
    /// refused change is written.
    async fn members_are_invited_changed_and_the_last_admin_rule_is_shown_in_words(app) {
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let created = browser.submit("/console/organisations", "/console/organisations", &[("name", "Acme")]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let organisation_page = created.location().unwrap().split('?').next().unwrap().to_owned();
        let organisation = organisation_page.rsplit('/').next().unwrap().to_owned();
        let admin = app.member(&app.live, &organisation, "admin@example.com", "ADMIN").await;

        let invited = browser
            .submit(&organisation_page, &format!("{organisation_page}/members"), &[
                ("email", "bea@example.com"), ("first_name", "Bea"), ("last_name", "Brown"), ("role", "STANDARD"),
            ])
            .await;
        assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.body);
        let listed = browser.get(&format!("{organisation_page}?email=BEA@example.com")).await;
        assert!(listed.body.contains("bea@example.com") && listed.body.contains("pending"), "{}", listed.body);
        let members = app.get(&format!("/v1/memberships?organisation_id={organisation}&email=bea@example.com"), &app.live).await;
        let bea = members.body["results"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(members.body["results"][0]["status"], "pending");

        let page = format!("/console/memberships/{bea}");
        let changed = browser.submit(&page, &page, &[("role", "ADMIN"), ("is_owner", "false"), ("permissions", "invoices:read")]).await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        let after = app.get(&format!("/v1/memberships/{bea}"), &app.live).await;
        assert_eq!((after.body["role"].as_str(), after.body["permissions"].clone()), (Some("ADMIN"), json!(["invoices:read"])));

        // Bea is pending: with another accepted member, the accepted admin is the last one,
        // and may neither step down nor leave.
        app.member(&app.live, &organisation, "carl@example.com", "STANDARD").await;
        let admin_page = format!("/console/memberships/{admin}");
        let refused = browser.submit(&admin_page, &admin_page, &[("role", "STANDARD"), ("is_owner", "false")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.body.contains("last admin"), "{}", refused.body);
        assert_eq!(app.get(&format!("/v1/memberships/{admin}"), &app.live).await.body["role"], "ADMIN");
        let removed = browser.submit(&admin_page, &format!("{admin_page}/remove"), &[]).await;
        assert_eq!(removed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(removed.body.contains("last admin"), "{}", removed.body);

        let invalid = browser
            .submit(&organisation_page, &format!("{organisation_page}/members"), &[("email", "not-an-email"), ("first_name", "X"), ("last_name", "Y"), ("role", "STANDARD")])
            .await;
        assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(invalid.body.contains("email:"), "{}", invalid.body);
    }

    /// A non-admin group's key sees its organisations and no other: another's page is not found.
    async fn a_non_admin_group_key_sees_only_its_organisations(app) {
        let mine = app.organisation(&app.live, "Mine").await;
        let theirs = app.organisation(&app.live, "Theirs").await;
        let member = app.member(&app.live, &theirs, "zed@example.com", "ADMIN").await;
        let group_key = app.group_key(&[&mine]).await;
        let mut browser = Browser::signed_in(&app, &group_key).await;
        let listed = browser.get("/console/organisations").await;
        assert!(listed.body.contains("Mine") && !listed.body.contains("Theirs"), "{}", listed.body);
        for path in [format!("/console/organisations/{theirs}"), format!("/console/memberships/{member}"), "/console/organisations/org_missing".into(), "/console/memberships/..%2F..".into()] {
            assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        let forged = browser.submit("/console/organisations", &format!("/console/memberships/{member}/remove"), &[]).await;
        assert_eq!(forged.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/v1/memberships/{member}"), &app.live).await.status, StatusCode::OK);
    }

    /// A key created in the console shows its secret once; a revoked key, or an expired session,
    /// is signed out.
    async fn a_new_key_shows_its_secret_once_and_revoked_keys_and_old_sessions_sign_out(app) {
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let created = browser.submit("/console/keys", "/console/keys", &[("name", "ops"), ("type", "secret"), ("abilities", "organisations:read")]).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let marker = r#"<code id="new-secret">"#;
        let start = created.body.find(marker).unwrap() + marker.len();
        let secret = created.body[start..].split('<').next().unwrap().to_owned();
        assert!(secret.starts_with("sk_live_"), "{secret}");
        assert!(!browser.get("/console/keys").await.body.contains(&secret), "shown once");
        assert_eq!(app.get("/v1/organisations", &secret).await.status, StatusCode::OK);

        let mut ops = Browser::signed_in(&app, &secret).await;
        let keys = app.get("/v1/api-keys", &app.live).await;
        let ops_id = keys.body["results"].as_array().unwrap().iter().find(|k| k["name"] == "ops").unwrap()["id"].as_str().unwrap().to_owned();
        let revoked = browser.submit("/console/keys", &format!("/console/keys/{ops_id}/revoke"), &[]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
        assert_eq!(ops.get("/console/organisations").await.location(), Some("/console/sign-in"), "its sessions end with it");

        app.clock.advance(std::time::Duration::from_secs(8 * 3600));
        assert_eq!(browser.get("/console/organisations").await.location(), Some("/console/sign-in"), "expired");
    }

    /// Switching to test mode asks for a test key, then shows test data only.
    async fn live_and_test_modes_each_show_their_own(app) {
        app.organisation(&app.live, "Live Co").await;
        app.organisation(&app.test, "Test Co").await;
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let asked = browser.submit("/console/organisations", "/console/mode", &[("mode", "test")]).await;
        assert_eq!(asked.status, StatusCode::OK);
        assert!(asked.body.contains("Sign in to test mode"), "{}", asked.body);
        let (other_live, _) = app.new_partner("other").await;
        let refused = browser.submit("/console/organisations", "/console/add-key", &[("secret", &other_live)]).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a live key, and another partner's");
        let added = browser.submit("/console/organisations", "/console/add-key", &[("secret", &app.test)]).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let test = browser.get("/console/organisations").await;
        assert!(test.body.contains("Test Co") && !test.body.contains("Live Co"), "{}", test.body);
        let back = browser.submit("/console/organisations", "/console/mode", &[("mode", "live")]).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
        let live = browser.get("/console/organisations").await;
        assert!(live.body.contains("Live Co") && !live.body.contains("Test Co"), "{}", live.body);
    }

    /// Members page by cursor, fifty at a time, with the filters kept.
    async fn members_are_paged_by_cursor_with_their_filters(app) {
        let organisation = app.organisation(&app.live, "Big").await;
        for n in 0..55 {
            app.member(&app.live, &organisation, &format!("m{n}@example.com"), "STANDARD").await;
        }
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let first = browser.get(&format!("/console/organisations/{organisation}?role=STANDARD")).await;
        assert_eq!(first.body.matches("/console/memberships/").count(), 50);
        let marker = r#"<a href=""#;
        let next = first.body[..first.body.find(r#"rel="next""#).unwrap()].rfind(marker).unwrap() + marker.len();
        let next = first.body[next..].split('"').next().unwrap().replace("&amp;", "&");
        assert!(next.contains("role=STANDARD") && next.contains("after="), "{next}");
        let second = browser.get(&next).await;
        assert_eq!(second.body.matches("/console/memberships/").count(), 5, "{}", second.body);
        assert!(!second.body.contains(r#"rel="next""#));
        assert!(second.body.contains(&format!(r#"<a href="/console/organisations/{organisation}?role=STANDARD">First page</a>"#)), "{}", second.body);
    }

    /// Forms that cannot be read are refused with a page, and write nothing: bytes that are
    /// not UTF-8, a form too large, NUL bytes.
    async fn bad_forms_are_refused_and_write_nothing(app) {
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let csrf = browser.get("/console/organisations").await.csrf();
        let mut not_utf8 = format!("csrf={csrf}&name=").into_bytes();
        not_utf8.extend_from_slice(b"%FF%FE");
        assert_eq!(browser.post_bytes("/console/organisations", not_utf8).await.status, StatusCode::BAD_REQUEST);
        let huge = encode(&[("csrf", &csrf), ("name", &"x".repeat(70_000))]);
        assert_eq!(browser.post_bytes("/console/organisations", huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
        let nul = browser.post_bytes("/console/organisations", encode(&[("csrf", &csrf), ("name", "a\0b")])).await;
        assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nul.body);
        assert!(organisation_names(&app).await.is_empty());
    }

    /// Saving a membership leaves its custom roles alone when the key cannot read them all (it
    /// is not shown them, so it cannot be taken as clearing them).
    async fn saving_a_membership_keeps_the_custom_roles_the_key_cannot_read(app) {
        let organisation = app.organisation(&app.live, "Acme").await;
        let member = app.member(&app.live, &organisation, "ann@example.com", "STANDARD").await;
        let role = app.post("/v1/roles", &app.live, json!({"organisation_id": organisation, "name": "Billing", "permissions": ["invoices:read"]})).await;
        assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
        let role_id = role.id();
        assert_eq!(app.patch(&format!("/v1/memberships/{member}"), &app.live, json!({"role_ids": [role_id]})).await.status, StatusCode::OK);
        let abilities = ["organisations:read", "memberships:read", "memberships:write"];
        let blind = app.key(&app.live, json!({"name": "blind", "partner_group_id": admin_group(&app).await, "abilities": abilities})).await;

        let mut browser = Browser::signed_in(&app, &blind).await;
        let page = format!("/console/memberships/{member}");
        let shown = browser.get(&page).await;
        assert!(!shown.body.contains("custom_roles_shown") && shown.body.contains("left as they are"), "{}", shown.body);
        let saved = browser.submit(&page, &page, &[("role", "ADMIN"), ("is_owner", "false"), ("permissions", "")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let after = app.get(&format!("/v1/memberships/{member}"), &app.live).await;
        assert_eq!((after.body["role"].clone(), after.body["role_ids"].clone()), (json!("ADMIN"), json!([role_id])));

        // A key that reads them is shown every role, and unticking one removes it.
        let mut admin = Browser::signed_in(&app, &app.live).await;
        assert!(admin.get(&page).await.body.contains("Billing"));
        let cleared = admin.submit(&page, &page, &[("role", "ADMIN"), ("is_owner", "false"), ("custom_roles_shown", "1")]).await;
        assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
        assert_eq!(app.get(&format!("/v1/memberships/{member}"), &app.live).await.body["role_ids"], json!([]));
    }

    /// The members filter is read as the API reads it: a bad value is refused in words (422),
    /// never a failure of Roster's.
    async fn a_bad_members_filter_is_refused_in_words(app) {
        let organisation = app.organisation(&app.live, "Acme").await;
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let long = "a".repeat(300);
        for query in ["email=a%00b", &format!("email={long}"), "role=OWNER", "status=gone"] {
            let page = browser.get(&format!("/console/organisations/{organisation}?{query}")).await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", page.body);
            assert!(page.body.contains(r#"role="alert""#) && !page.body.contains("went wrong"), "{query}: {}", page.body);
        }
    }

    /// Whether the key may at all is decided before its input is read, as in the API; and
    /// every answer under /console carries the console's headers, also those given outside its
    /// routes.
    async fn a_key_that_may_not_learns_nothing_and_every_console_answer_is_protected(app) {
        let reader = app.key(&app.live, json!({"name": "reader", "partner_group_id": admin_group(&app).await, "abilities": ["organisations:read"]})).await;
        let mut browser = Browser::signed_in(&app, &reader).await;
        let refused = browser.submit("/console/organisations", "/console/organisations", &[("name", "")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        for (method, path) in [(Method::GET, "/console/nowhere"), (Method::GET, "/console/sign-out"), (Method::DELETE, "/console/organisations")] {
            let answer = browser.request(method.clone(), path, None).await;
            assert!(answer.status.is_client_error(), "{method} {path}: {}", answer.status);
            let policy = answer.headers.get(header::CONTENT_SECURITY_POLICY).map(|value| value.to_str().unwrap().to_owned());
            assert!(policy.is_some_and(|policy| policy.contains("default-src 'none'")), "{method} {path}");
            assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY", "{method} {path}");
        }
    }

    /// Signing in again ends the session the browser held: its old cookie no longer works.
    async fn signing_in_again_ends_the_previous_session(app) {
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let old = browser.cookies["roster_console"].clone();
        assert_eq!(browser.sign_in(&app.live).await.status, StatusCode::SEE_OTHER);
        assert_ne!(browser.cookies["roster_console"], old);
        let mut stale = Browser::new(&app);
        stale.cookies.insert("roster_console".into(), old);
        assert_eq!(stale.get("/console/organisations").await.location(), Some("/console/sign-in"));
    }
}

on_both_backends! {
    /// Organisations are found by the start of their name, in any case, within the key's
    /// scope; a search that cannot be a name is refused in words.
    async fn organisations_are_found_by_the_start_of_their_name_within_scope(app) {
        let acme = app.organisation(&app.live, "Acme Corp").await;
        app.organisation(&app.live, "acme labs").await;
        app.organisation(&app.live, "Beta").await;
        app.organisation(&app.test, "Acme Test").await;
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let found = browser.get("/console/organisations?name=ACME").await;
        assert_eq!(found.status, StatusCode::OK);
        let (corp, labs) = (found.body.find("Acme Corp").unwrap(), found.body.find("acme labs").unwrap());
        assert!(corp < labs, "in name order");
        assert!(!found.body.contains("Beta") && !found.body.contains("Acme Test"), "{}", found.body);
        let group_key = app.group_key(&[&acme]).await;
        let mut grouped = Browser::signed_in(&app, &group_key).await;
        let own = grouped.get("/console/organisations?name=acme").await;
        assert!(own.body.contains("Acme Corp") && !own.body.contains("acme labs"), "{}", own.body);
        let refused = browser.get("/console/organisations?name=a%00b").await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    }

    /// Members are found by the start of their name (first, then last), with the role and
    /// status filters, in name order.
    async fn members_are_found_by_the_start_of_their_name(app) {
        let organisation = app.organisation(&app.live, "Acme").await;
        for (email, first, last, role) in [("zoe@example.com", "Zoe", "Adams", "ADMIN"), ("al@example.com", "Al", "Zed", "STANDARD"), ("zack@example.com", "zack", "Brown", "STANDARD")] {
            let body = json!({"organisation_id": organisation, "email": email, "first_name": first, "last_name": last, "role": role});
            assert_eq!(app.post("/v1/memberships", &app.live, body).await.status, StatusCode::CREATED);
        }
        let mut browser = Browser::signed_in(&app, &app.live).await;
        let found = browser.get(&format!("/console/organisations/{organisation}?name=Z")).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        let (zack, zoe) = (found.body.find("zack@example.com").unwrap(), found.body.find("zoe@example.com").unwrap());
        assert!(zack < zoe && !found.body.contains("al@example.com"), "{}", found.body);
        let admins = browser.get(&format!("/console/organisations/{organisation}?name=z&role=ADMIN")).await;
        assert!(admins.body.contains("zoe@example.com") && !admins.body.contains("zack@example.com"), "{}", admins.body);
    }
}

on_both_backends! {
    /// Ids of the other mode, of another partner, or outside an organisation key's own
    /// organisation are not found, on every page and form that takes one, and change nothing.
    async fn other_modes_partners_and_organisations_look_missing(app) {
        let own = app.organisation(&app.live, "Own").await;
        let sibling = app.organisation(&app.live, "Sibling").await;
        let sibling_member = app.member(&app.live, &sibling, "sib@example.com", "ADMIN").await;
        let test_organisation = app.organisation(&app.test, "Test side").await;
        let test_member = app.member(&app.test, &test_organisation, "test@example.com", "ADMIN").await;
        let (other_live, _) = app.new_partner("other").await;
        let foreign = app.organisation(&other_live, "Foreign").await;
        let foreign_member = app.member(&other_live, &foreign, "far@example.com", "ADMIN").await;
        let foreign_key_id = app.get("/v1/api-keys", &other_live).await.body["results"][0]["id"].as_str().unwrap().to_owned();
        let organisation_key = app.key(&app.live, json!({"name": "own", "organisation_id": own, "abilities": ["*"]})).await;

        for (who, secret, hidden) in [
            ("admin", app.live.clone(), vec![test_organisation.clone(), foreign.clone()]),
            ("organisation key", organisation_key, vec![sibling.clone(), test_organisation.clone(), foreign.clone()]),
        ] {
            let mut browser = Browser::signed_in(&app, &secret).await;
            for organisation in &hidden {
                let path = format!("/console/organisations/{organisation}");
                assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND, "{who} {path}");
                let renamed = browser.submit("/console/organisations", &path, &[("name", "Taken")]).await;
                assert_eq!(renamed.status, StatusCode::NOT_FOUND, "{who} rename {path}");
                let invited = browser
                    .submit("/console/organisations", &format!("{path}/members"), &[("email", "x@example.com"), ("first_name", "X"), ("last_name", "Y"), ("role", "ADMIN")])
                    .await;
                assert_eq!(invited.status, StatusCode::NOT_FOUND, "{who} invite {path}");
            }
            let mut members = vec![test_member.clone(), foreign_member.clone()];
            if who == "organisation key" {
                members.push(sibling_member.clone());
            }
            for member in &members {
                let path = format!("/console/memberships/{member}");
                assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND, "{who} {path}");
                let changed = browser.submit("/console/organisations", &path, &[("role", "STANDARD"), ("is_owner", "false")]).await;
                assert_eq!(changed.status, StatusCode::NOT_FOUND, "{who} change {path}");
                let removed = browser.submit("/console/organisations", &format!("{path}/remove"), &[]).await;
                assert_eq!(removed.status, StatusCode::NOT_FOUND, "{who} remove {path}");
            }
            let revoked = browser.submit("/console/organisations", &format!("/console/keys/{foreign_key_id}/revoke"), &[]).await;
            assert_eq!(revoked.status, StatusCode::NOT_FOUND, "{who} revoke a foreign key");
        }
        for (key, organisation, name) in [(&app.test, &test_organisation, "Test side"), (&other_live, &foreign, "Foreign"), (&app.live, &sibling, "Sibling")] {
            assert_eq!(app.get(&format!("/v1/organisations/{organisation}"), key).await.body["name"], name);
            let invited = app.get(&format!("/v1/memberships?organisation_id={organisation}&email=x@example.com"), key).await;
            assert_eq!(invited.body["count"], 0, "{name}");
        }
        assert_eq!(app.get(&format!("/v1/memberships/{sibling_member}"), &app.live).await.body["role"], "ADMIN");
        assert_eq!(app.get(&format!("/v1/memberships/{test_member}"), &app.test).await.body["role"], "ADMIN");
        assert_eq!(app.get(&format!("/v1/memberships/{foreign_member}"), &other_live).await.body["role"], "ADMIN");
        assert_eq!(app.get("/v1/organisations", &other_live).await.status, StatusCode::OK, "the foreign key still works");
    }
}

/// The id of the partner's admin group, which holds its admin keys.
async fn admin_group(app: &TestApp) -> String {
    let groups = app.get("/v1/partner-groups", &app.live).await;
    groups.body["results"].as_array().unwrap().iter().find(|group| group["is_admin"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The console's cookies are `Secure` when a trusted proxy says the request came over HTTPS,
/// and only then: a client cannot claim it itself.
#[tokio::test]
async fn cookies_are_secure_behind_a_trusted_tls_proxy_only() {
    for trusted in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let trusted_proxies = if trusted { vec!["127.0.0.1/32".parse().unwrap()] } else { Vec::new() };
        let config = roster_http::Config { trusted_proxies, ..crate::support::test_config() };
        let app = TestApp::start_with(url, Box::new(dir), config).await;
        let https = [("x-forwarded-proto", "https")];
        let (_, headers, body) = app.send_text(Method::GET, "/console/sign-in", &https, None).await;
        let form = Page { status: StatusCode::OK, headers, body };
        let form_cookie = form.set_cookies()[0].to_owned();
        let cookie = form_cookie.split(';').next().unwrap().to_owned();
        let body = encode(&[("csrf", &form.csrf()), ("secret", &app.live)]);
        let headers = [
            ("x-forwarded-proto", "https"),
            ("cookie", &cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let (status, headers, _) = app.send_text(Method::POST, "/console/sign-in", &headers, Some(body)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let session = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("roster_console="))
            .unwrap()
            .to_owned();
        for set in [form_cookie, session] {
            assert_eq!(set.contains("; Secure"), trusted, "trusted proxy: {trusted}: {set}");
        }
    }
}
