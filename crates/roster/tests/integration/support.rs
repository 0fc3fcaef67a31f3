//! Running the real `roster` binary as a child process.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;

pub const MASTER_KEY: &str = "binary-test-master-key";

pub struct Server {
    pub child: Child,
    pub base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `roster serve` on an ephemeral port and waits until it listens.
    pub fn start(database_url: &str, master_key: Option<&str>) -> Self {
        Self::start_with(database_url, master_key, &[])
    }

    pub fn start_with(database_url: &str, master_key: Option<&str>, extra_args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
            .args(extra_args)
            .env_remove("ROSTER_MASTER_KEY")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(key) = master_key {
            command.args(["--master-key", key]);
        }
        let mut child = command.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let started = Instant::now();
        let address = loop {
            let found = stderr.lock().unwrap().iter().find_map(|line| {
                // Text logs say `address=…`, JSON logs `"address":"…"`.
                let (_, rest) = line.split_once("address=").or_else(|| line.split_once("\"address\":\""))?;
                Some(rest.split(|c: char| c.is_whitespace() || c == '"').next().unwrap_or("").to_owned())
            });
            if let Some(address) = found {
                break address;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "roster did not start: {:?}", stderr.lock().unwrap());
            std::thread::sleep(Duration::from_millis(10));
        };
        Self { child, base: format!("http://{address}"), stderr }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn admin_key(stderr: &str, mode: &str) -> String {
    stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{mode} admin key: ")))
        .unwrap_or_else(|| panic!("no {mode} admin key in {stderr}"))
        .to_owned()
}

pub async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> reqwest::Result<reqwest::Response> {
    client.post(url).bearer_auth(key).json(&body).send().await
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A TCP proxy in front of PostgreSQL that a test can take down and bring back, to see what
/// the service does while its database is unreachable.
pub struct Proxy {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (is_up, tracked) = (up.clone(), connections.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !is_up.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let connection = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(connection);
            }
        });
        Self { port, up, connections, accepting }
    }

    /// Refuses new connections and cuts every open one, as a crashed database would.
    pub fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.down();
    }
}

/// The `host:port` a PostgreSQL URL connects to.
pub fn postgres_authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains(':') { authority.to_owned() } else { format!("{authority}:5432") }
}
