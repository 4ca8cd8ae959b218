//! A real OCI registry on loopback: CNCF distribution (Debian's
//! `docker-registry`, installed by `make test`), on a free port, with its
//! storage in a temporary directory, optionally behind htpasswd auth or TLS.
//! Dropping it kills the process.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::Rng;
use rand::distr::Alphanumeric;

/// Where `make test` installs it; `DOCKER_REGISTRY` overrides.
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How long the registry may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(30);

/// A user the registry's htpasswd file lets in, with a password made up
/// for this run.
#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl Login {
    pub fn random() -> Self {
        let password: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        Self {
            username: "kamaji".to_owned(),
            password,
        }
    }

    /// A Docker `config.json` that holds this login for `host`.
    pub fn docker_config(&self, host: &str) -> String {
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password));
        serde_json::json!({"auths": {host: {"auth": auth}}}).to_string()
    }
}

/// A running registry. Dropping it kills the process.
pub struct Registry {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A registry anyone may push to and pull from, in plain HTTP.
    pub fn start() -> Self {
        Self::launch(&Options::default())
    }

    /// A registry that lets only `login` in (HTTP basic auth, htpasswd).
    pub fn with_login(login: &Login) -> Self {
        Self::launch(&Options {
            login: Some(login.clone()),
            ..Options::default()
        })
    }

    /// A registry that speaks HTTPS only, with this certificate and key (PEM files).
    pub fn with_tls(cert: &Path, key: &Path) -> Self {
        Self::launch(&Options {
            tls: Some((cert.to_owned(), key.to_owned())),
            ..Options::default()
        })
    }

    fn launch(options: &Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(&config, config_yaml(dir.path(), port, options)).expect("write config");
        let mut registry = Self {
            child: None,
            port,
            dir,
        };
        registry.spawn();
        registry
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("registry.log")).expect("a log file");
        let child = Command::new(binary())
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary().display()));
        self.child = Some(child);
        self.wait_until_up();
    }

    /// `127.0.0.1:PORT`, as references and `--insecure-registry` name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:PORT/<repository_and_tag>`.
    pub fn reference(&self, repository_and_tag: &str) -> String {
        format!("oci://{}/{repository_and_tag}", self.host())
    }

    /// Kills the registry, as an outage would; [`Registry::restart`] brings it back.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// What the registry logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn wait_until_up(&mut self) {
        let started = Instant::now();
        loop {
            // It binds its port once it is ready to serve.
            if TcpStream::connect(self.host()).is_ok() {
                return;
            }
            let child = self.child.as_mut().expect("the registry runs");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the registry exited with {status}\n{}", self.log());
            }
            assert!(
                started.elapsed() < STARTUP,
                "the registry did not answer within {STARTUP:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- registry log ---\n{}", self.log());
        }
    }
}

fn binary() -> PathBuf {
    let path = std::env::var_os("DOCKER_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(REGISTRY_BIN));
    assert!(
        path.exists(),
        "{} not found: run `make test`, which installs Debian's docker-registry (or set DOCKER_REGISTRY)",
        path.display()
    );
    path
}

/// A port that was free a moment ago: the registry cannot be handed a
/// listening socket, so it binds the port itself.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("an address").port()
}

/// What the registry is configured with besides its storage and port.
#[derive(Debug, Default)]
struct Options {
    login: Option<Login>,
    /// Certificate and key files.
    tls: Option<(PathBuf, PathBuf)>,
}

fn config_yaml(dir: &Path, port: u16, options: &Options) -> String {
    let storage = dir.join("storage");
    let mut yaml = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    );
    if let Some((cert, key)) = &options.tls {
        yaml.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ));
    }
    if let Some(login) = &options.login {
        let htpasswd = dir.join("htpasswd");
        // The lowest cost bcrypt allows: the test needs a valid hash, not a strong one.
        let hash = bcrypt::hash(&login.password, 4).expect("a bcrypt hash");
        std::fs::write(&htpasswd, format!("{}:{hash}\n", login.username)).expect("htpasswd");
        yaml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: kamaji-test\n    path: {}\n",
            htpasswd.display()
        ));
    }
    yaml
}
