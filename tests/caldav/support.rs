//! The servers under test and raw WebDAV calls standing in for "another
//! client" on the same server.

use calsync::model::{AccountId, EventDetails, EventId};
use calsync::providers::caldav::CalDavProvider;
use calsync::providers::{AccountProvider, Connection, Credentials, Session, WriteContext};
use chrono::{DateTime, TimeZone, Utc};
use reqwest::Method;

/// One running CalDAV server.
#[derive(Clone, Debug)]
pub struct Server {
    /// Radicale or Xandikos.
    pub name: &'static str,
    /// Its base URL.
    pub url: String,
    /// The login.
    pub user: String,
    /// The password.
    pub password: String,
    /// Whether it checks passwords (Xandikos only does over its own TLS).
    pub checks_passwords: bool,
}

/// The servers started by `scripts/caldav-servers.sh`; none (with a visible
/// note) when the variables are unset, and a failure when `CI` is set.
pub fn servers(test: &str) -> Vec<Server> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (Some(user), Some(password)) = (
        var("CALSYNC_TEST_CALDAV_USER"),
        var("CALSYNC_TEST_CALDAV_PASSWORD"),
    ) else {
        return skip(test);
    };
    let mut found = Vec::new();
    for (name, variable, checks_passwords) in [
        ("radicale", "CALSYNC_TEST_RADICALE_URL", true),
        ("xandikos", "CALSYNC_TEST_XANDIKOS_URL", false),
    ] {
        match var(variable) {
            Some(url) => found.push(Server {
                name,
                url,
                user: user.clone(),
                password: password.clone(),
                checks_passwords,
            }),
            None => return skip(test),
        }
    }
    found
}

fn skip(test: &str) -> Vec<Server> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CALSYNC_TEST_RADICALE_URL, CALSYNC_TEST_XANDIKOS_URL, CALSYNC_TEST_CALDAV_USER \
         and CALSYNC_TEST_CALDAV_PASSWORD must be set in CI (eval \"$(scripts/caldav-servers.sh start)\")"
    );
    eprintln!(
        "SKIPPED {test}: no CalDAV test servers; run eval \"$(scripts/caldav-servers.sh start)\" first"
    );
    Vec::new()
}

/// The adapter under test.
pub fn provider() -> CalDavProvider {
    CalDavProvider::new().expect("the HTTP client builds")
}

impl Server {
    /// Credentials for this server, optionally naming a calendar.
    pub fn credentials(&self, calendar: Option<&str>) -> Credentials {
        let mut credentials = Credentials::default();
        credentials.set_str("username", self.user.as_str());
        credentials.set_str("password", self.password.as_str());
        credentials.set_str("url", self.url.as_str());
        if let Some(calendar) = calendar {
            credentials.set_str("calendar", calendar);
        }
        credentials
    }

    /// A raw request as this server's user.
    pub async fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (u16, Option<String>, String) {
        let client = reqwest::Client::new();
        let method = Method::from_bytes(method.as_bytes()).expect("valid method");
        let mut request = client
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("the test server answers");
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        (
            status,
            etag,
            response.text().await.expect("a readable body"),
        )
    }

    /// The URL of the user's calendar home, found by the adapter's discovery.
    pub async fn home(&self) -> String {
        let connection = provider()
            .connect(&self.credentials(None))
            .await
            .expect("connect to find the home");
        connection
            .credentials
            .get_str("home_url")
            .expect("connect keeps the home URL")
            .to_owned()
    }

    /// A new event calendar of a fresh, unique name in the user's home;
    /// answers its name. Uses the adapter's discovery to find the home.
    pub async fn new_calendar(&self) -> String {
        let home = self.home().await;
        let name = format!("t-{}", uuid::Uuid::new_v4().simple());
        let body = format!(
            "<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" \
             xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:set><D:prop>\
             <D:displayname>{name}</D:displayname></D:prop></D:set></C:mkcalendar>"
        );
        let (status, _, text) = self
            .raw(
                "MKCALENDAR",
                &format!("{home}{name}/"),
                &[("Content-Type", "application/xml")],
                Some(body),
            )
            .await;
        assert!((200..300).contains(&status), "MKCALENDAR {status}: {text}");
        name
    }

    /// Connects to a new calendar of its own; answers the connection and a session.
    pub async fn connect_fresh(&self) -> (Connection, Session) {
        let name = self.new_calendar().await;
        let connection = provider()
            .connect(&self.credentials(Some(&name)))
            .await
            .expect("connect to the new calendar");
        let session = Session {
            account: AccountId::from("account-1"),
            credentials: connection.credentials.clone(),
            calendar_id: connection.calendar_id.clone(),
        };
        (connection, session)
    }

    /// The `.ics` members of a calendar collection.
    pub async fn members(&self, calendar_url: &str) -> Vec<String> {
        let body = "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/>\
                    </D:prop></D:propfind>"
            .to_owned();
        let (status, _, text) = self
            .raw(
                "PROPFIND",
                calendar_url,
                &[("Depth", "1"), ("Content-Type", "application/xml")],
                Some(body),
            )
            .await;
        assert_eq!(status, 207, "{text}");
        text.split(['<', '>'])
            .filter(|part| part.ends_with(".ics"))
            .map(str::to_owned)
            .collect()
    }
}

/// 2030-03-04 at `hour`:00 UTC.
pub fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 4, hour, 0, 0)
        .single()
        .expect("valid instant")
}

/// A timed event in Berlin with a location.
pub fn meeting(title: &str) -> EventDetails {
    let mut event = EventDetails::timed(title, at(9), at(10));
    event.time_zone = Some("Europe/Berlin".into());
    event.location = Some("Room 1".into());
    event.description = Some("Agenda: one, two; three".into());
    event
}

/// A write context with a fresh key.
pub fn context() -> WriteContext {
    WriteContext {
        idempotency_key: format!("op-{}", uuid::Uuid::new_v4()),
        synced_id: EventId::fresh(),
        invite_attendees: false,
        retry: false,
    }
}

/// A concept over an embedded store in `dir` with the CalDAV adapter as
/// `apple`, behaving as `config` says; a fixed vault key, so that a second
/// instance over the same store can read the credentials (a restart).
pub async fn calendar_sync(
    dir: &std::path::Path,
    config: calsync::Config,
) -> calsync::CalendarSync {
    calendar_sync_on(
        dir,
        config,
        std::sync::Arc::new(calsync::clock::SystemClock),
    )
    .await
}

/// [`calendar_sync`], reading time from `clock` (a clock the test moves
/// sees operation leases run out exactly when it says).
pub async fn calendar_sync_on(
    dir: &std::path::Path,
    config: calsync::Config,
    clock: std::sync::Arc<dyn calsync::clock::Clock>,
) -> calsync::CalendarSync {
    use calsync::store::{SqliteStore, Store};
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
        SqliteStore::open(dir.join("calsync.db"), "CalendarSync.")
            .await
            .expect("store"),
    );
    calsync::CalendarSync::builder(store)
        .providers(calsync::providers::Providers::new().with(std::sync::Arc::new(provider())))
        .vault(calsync::vault::Vault::new(&[7; 32]))
        .clock(clock)
        .config(config)
        .build()
}

/// A Radicale of the test's own (from the venv `scripts/caldav-servers.sh`
/// made), which the test may stop and start again on the same port and
/// storage. Stopped when dropped.
pub struct OwnRadicale {
    binary: std::path::PathBuf,
    dir: tempfile::TempDir,
    /// Its base URL.
    pub url: String,
    child: Option<std::process::Child>,
}

impl OwnRadicale {
    /// Starts one; none (with a note) when the venv is missing outside CI.
    pub async fn start(test: &str) -> Option<OwnRadicale> {
        let venvs = std::env::var_os("CALSYNC_VENV_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|home| std::path::Path::new(&home).join(".cache/calsync-venvs"))
            })?;
        let binary = venvs.join("radicale/bin/radicale");
        if !binary.exists() {
            skip(test);
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        std::fs::write(dir.path().join("htpasswd"), "calsync:secret\n").expect("htpasswd");
        let config = format!(
            "[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n\
             htpasswd_filename = {dir}/htpasswd\nhtpasswd_encryption = plain\ndelay = 0\n\
             [storage]\nfilesystem_folder = {dir}/data\n[logging]\nlevel = warning\n",
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("radicale.conf"), config).expect("config");
        let mut server = OwnRadicale {
            binary,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            child: None,
        };
        server.resume().await;
        Some(server)
    }

    /// The server as a [`Server`] for raw calls.
    pub fn server(&self) -> Server {
        Server {
            name: "radicale",
            url: self.url.clone(),
            user: "calsync".into(),
            password: "secret".into(),
            checks_passwords: true,
        }
    }

    /// Kills the process (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill Radicale");
            child.wait().expect("reap Radicale");
        }
    }

    /// Starts the process again on the same port and storage; waits until it
    /// answers (however long a loaded machine takes to start it), failing
    /// when the process exits instead.
    pub async fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("radicale.log")).expect("log");
        let child = std::process::Command::new(&self.binary)
            .arg("--config")
            .arg(self.dir.path().join("radicale.conf"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start Radicale");
        let child = self.child.insert(child);
        let deadline = tokio::time::Instant::now() + crate::patience::GIVE_UP;
        while reqwest::get(&self.url).await.is_err() {
            if let Some(status) = child.try_wait().expect("Radicale's status") {
                let log = std::fs::read_to_string(self.dir.path().join("radicale.log"));
                panic!("Radicale exited at start ({status}): {log:?}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Radicale did not answer at {} within {:?}",
                self.url,
                crate::patience::GIVE_UP
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for OwnRadicale {
    fn drop(&mut self) {
        self.kill();
    }
}
