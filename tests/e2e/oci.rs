//! Plugins from a real OCI registry (CNCF distribution on loopback): push and
//! pull by tag and by digest, a digest pin in `preview`, a tag followed by
//! `serve` as it moves (to a good plugin and to a bad one), a restart while
//! the registry is down, and a registry that wants a login.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::host::{Run, WEBHOOK_SERVE, run, sample};
use kamaji_telemetry_e2e::receiver::Receiver;
use kamaji_telemetry_e2e::registry::{Login, Registry};
use kamaji_telemetry_e2e::{default_plugin, hostile_plugin, plugin_variant};
use serde_json::Value;

const SOON: Duration = Duration::from_secs(60);
const REPOSITORY: &str = "kamaji/telemetry-plugin";
const SWAPS_OK: &str = "kamaji_telemetry_plugin_swaps_total{result=\"succeeded\"}";
const SWAPS_FAILED: &str = "kamaji_telemetry_plugin_swaps_total{result=\"failed\"}";

/// The host binary, speaking plain HTTP to `registry`, with its own cache.
fn host(registry: &Registry, cache: &Path) -> Command {
    let mut command = host_command();
    command
        .env("KAMAJI_TELEMETRY_CACHE_DIR", cache)
        .args(["--insecure-registry", &registry.host()]);
    command
}

fn tagged(registry: &Registry, tag: &str) -> String {
    registry.reference(&format!("{REPOSITORY}:{tag}"))
}

fn pinned(registry: &Registry, digest: &str) -> String {
    registry.reference(&format!("{REPOSITORY}@{digest}"))
}

/// Pushes `file` under `reference`; returns the manifest digest it printed.
fn push(registry: &Registry, cache: &Path, file: &Path, reference: &str) -> String {
    let mut command = host(registry, cache);
    command.args(["plugin", "push"]).arg(file).arg(reference);
    let pushed = run(command);
    assert!(pushed.success(), "push {}: {pushed:?}", file.display());
    digest_in(&pushed.stdout)
}

fn push_bytes(registry: &Registry, dir: &Path, bytes: &[u8], reference: &str) -> String {
    let file = dir.join("upload.wasm");
    std::fs::write(&file, bytes).expect("write");
    push(registry, dir, &file, reference)
}

/// The `sha256:…` after the `@` of a printed reference.
fn digest_in(stdout: &str) -> String {
    let (_, digest) = stdout
        .trim()
        .rsplit_once('@')
        .unwrap_or_else(|| panic!("no digest in {stdout:?}"));
    let digest = digest.split_whitespace().next().expect("a digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    digest.to_owned()
}

fn pull(registry: &Registry, cache: &Path, reference: &str, output: &Path) -> Run {
    let mut command = host(registry, cache);
    command
        .args(["plugin", "pull", reference, "-o"])
        .arg(output);
    run(command)
}

fn preview(mut command: Command, plugin: &str) -> Run {
    command.args(["--plugin", plugin, "preview", "--output", "json"]);
    command.args(samples());
    run(command)
}

fn samples() -> Vec<PathBuf> {
    [
        "admission-create.json",
        "admission-update.json",
        "admission-delete.json",
        "fleet.json",
    ]
    .map(sample)
    .to_vec()
}

/// `GET` of a manifest or blob of the repository, as JSON.
fn registry_json(registry: &Registry, path: &str) -> Value {
    let url = format!("http://{}/v2/{REPOSITORY}/{path}", registry.host());
    let response = reqwest::blocking::Client::new()
        .get(&url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    assert_eq!(response.status(), 200, "GET {url}");
    serde_json::from_str(&response.text().expect("a body")).expect("JSON")
}

#[test]
fn a_pushed_plugin_pulls_back_identical_by_tag_and_by_digest_in_the_cncf_layout() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let original = std::fs::read(default_plugin()).expect("the default plugin");
    let digest = push(
        &registry,
        dir.path(),
        &default_plugin(),
        &tagged(&registry, "v1"),
    );

    for reference in [tagged(&registry, "v1"), pinned(&registry, &digest)] {
        let output = dir.path().join("pulled.wasm");
        let pulled = pull(&registry, dir.path(), &reference, &output);
        assert!(pulled.success(), "{reference}: {pulled:?}");
        assert_eq!(digest_in(&pulled.stdout), digest, "{reference}");
        assert!(
            std::fs::read(&output).expect("pulled") == original,
            "{reference}: other bytes"
        );
    }

    let manifest = registry_json(&registry, &format!("manifests/{digest}"));
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    let config_digest = manifest["config"]["digest"].as_str().expect("a digest");
    let config = registry_json(&registry, &format!("blobs/{config_digest}"));
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(
        config["layerDigests"],
        serde_json::json!([layers[0]["digest"]])
    );
    assert_eq!(
        config["component"]["target"],
        "kamaji:telemetry/telemetry-plugin@0.2.0"
    );
    assert_eq!(
        config["component"]["exports"],
        serde_json::json!(["kamaji:telemetry/plugin@0.2.0"])
    );
    assert!(config["created"].as_str().is_some(), "{config}");
}

#[test]
fn a_digest_pin_previews_exactly_as_the_file_does() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let digest = push(
        &registry,
        dir.path(),
        &default_plugin(),
        &tagged(&registry, "v1"),
    );

    let from_file = preview(host_command(), &default_plugin().display().to_string());
    assert!(from_file.success(), "{from_file:?}");
    let from_registry = preview(host(&registry, dir.path()), &pinned(&registry, &digest));
    assert!(from_registry.success(), "{from_registry:?}");
    assert_eq!(from_registry.stdout, from_file.stdout);
    assert_eq!(from_file.stdout.lines().count(), 4);

    // `plugin check` takes a reference too, and names its digest.
    let mut command = host(&registry, dir.path());
    command.args([
        "plugin",
        "check",
        "--output",
        "json",
        &pinned(&registry, &digest),
    ]);
    let checked = run(command);
    assert!(checked.success(), "{checked:?}");
    let report: Value = serde_json::from_str(&checked.stdout).expect("a JSON report");
    assert_eq!(report["oci_digest"], digest.as_str());
    assert_eq!(report["accepted"], true);
}

#[test]
fn a_digest_that_does_not_match_is_refused() {
    let mut registry = Registry::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let digest = push(
        &registry,
        dir.path(),
        &default_plugin(),
        &tagged(&registry, "v1"),
    );

    // A pin to a digest the registry does not hold.
    let unknown = format!("sha256:{}", "ab".repeat(32));
    let refused = preview(host(&registry, dir.path()), &pinned(&registry, &unknown));
    assert!(!refused.success(), "{refused:?}");
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert!(refused.stderr.contains(&unknown), "{}", refused.stderr);

    // A cached copy that no longer matches its digest is not run, even
    // with the registry down.
    let warm = preview(host(&registry, dir.path()), &pinned(&registry, &digest));
    assert!(warm.success(), "{warm:?}");
    let blobs = dir.path().join("oci/blobs/sha256");
    let plugin_size = std::fs::metadata(default_plugin()).expect("plugin").len();
    let mut tampered = 0;
    for entry in std::fs::read_dir(&blobs).expect("cached blobs") {
        let path = entry.expect("an entry").path();
        if std::fs::metadata(&path).expect("a blob").len() == plugin_size {
            let mut bytes = std::fs::read(&path).expect("read");
            *bytes.last_mut().expect("bytes") ^= 1;
            std::fs::write(&path, bytes).expect("tamper");
            tampered += 1;
        }
    }
    assert_eq!(tampered, 1, "the cached component");
    registry.stop();
    let refused = preview(host(&registry, dir.path()), &pinned(&registry, &digest));
    assert!(!refused.success(), "{refused:?}");
    assert!(
        refused.stderr.contains("does not match its digest"),
        "{}",
        refused.stderr
    );
}

#[test]
fn serve_follows_a_moved_tag_and_keeps_the_old_plugin_when_the_new_digest_is_bad() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let original = std::fs::read(default_plugin()).expect("the default plugin");
    let reference = tagged(&registry, "stable");
    let first = push_bytes(&registry, dir.path(), &original, &reference);

    let receiver = Receiver::start();
    let mut command = host(&registry, dir.path());
    // Events come from the webhook and the fleet from posts: no cluster here.
    command.args(["--plugin", &reference]).args(WEBHOOK_SERVE);
    command.args(["--plugin-poll", "200ms", "--endpoint", &receiver.url()]);
    let agent = Agent::start(command);
    let info = |digest: &str| format!("oci_digest=\"{digest}\"");
    assert!(
        agent.metrics().0.contains(&info(&first)),
        "{}",
        agent.metrics().0
    );

    // The tag moves to another good plugin: it is swapped in.
    let second = push_bytes(
        &registry,
        dir.path(),
        &plugin_variant(&original, 1),
        &reference,
    );
    eventually(SOON, "the new digest swapped in", || {
        agent.metrics().value(SWAPS_OK) == 1.0
    });
    assert!(
        agent.metrics().0.contains(&info(&second)),
        "{}",
        agent.metrics().0
    );
    assert!(agent.stderr().contains(&second), "the digest is logged");

    // The tag moves to a plugin that leaks: refused, counted, the old one stays.
    let leaky = std::fs::read(hostile_plugin("leak")).expect("a hostile plugin");
    push_bytes(&registry, dir.path(), &leaky, &reference);
    eventually(SOON, "the leaky digest refused", || {
        agent.metrics().value(SWAPS_FAILED) == 1.0
    });
    let metrics = agent.metrics();
    assert!(metrics.0.contains(&info(&second)), "{}", metrics.0);
    assert!(agent.stderr().contains("leak guard"), "{}", agent.stderr());
    let (status, _) = agent.post(
        "/telemetry",
        std::fs::read(sample("admission-create.json")).expect("sample"),
    );
    assert_eq!(status, 200);
    eventually(SOON, "the running plugin still delivers", || {
        receiver.requests().iter().any(|r| r.path == "/create")
    });

    // The refused digest is tried once, not at every poll: the next good
    // one goes in and the failure count has not moved.
    let third = push_bytes(
        &registry,
        dir.path(),
        &plugin_variant(&original, 2),
        &reference,
    );
    eventually(SOON, "the next good digest swapped in", || {
        agent.metrics().value(SWAPS_OK) == 2.0
    });
    let metrics = agent.metrics();
    assert_eq!(metrics.value(SWAPS_FAILED), 1.0);
    assert!(metrics.0.contains(&info(&third)), "{}", metrics.0);
}

#[test]
fn with_the_registry_down_a_warm_cache_still_starts_a_pin_and_a_tag() {
    let mut registry = Registry::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = tagged(&registry, "v1");
    let digest = push(&registry, dir.path(), &default_plugin(), &reference);
    for plugin in [&pinned(&registry, &digest), &reference] {
        let warm = preview(host(&registry, dir.path()), plugin);
        assert!(warm.success(), "{warm:?}");
    }
    registry.stop();

    let from_cache = preview(host(&registry, dir.path()), &pinned(&registry, &digest));
    assert!(from_cache.success(), "{from_cache:?}");
    assert_eq!(from_cache.stdout.lines().count(), 4);

    let receiver = Receiver::start();
    let mut command = host(&registry, dir.path());
    // Events come from the webhook and the fleet from posts: no cluster here.
    command.args(["--plugin", &reference]).args(WEBHOOK_SERVE);
    command.args(["--endpoint", &receiver.url()]);
    let agent = Agent::start(command);
    let metrics = agent.metrics();
    assert!(
        metrics.0.contains(&format!("oci_digest=\"{digest}\"")),
        "{}",
        metrics.0
    );
    let log = agent.stderr();
    assert!(log.contains("the registry cannot be reached"), "{log}");
    assert!(log.contains(&digest), "{log}");

    // A tag never resolved before has nothing to fall back to.
    let mut command = host(&registry, dir.path());
    command.args([
        "--plugin",
        &tagged(&registry, "never-pulled"),
        "plugin",
        "describe",
    ]);
    let cold = run(command);
    assert!(!cold.success(), "{cold:?}");
}

#[test]
fn a_registry_behind_a_login_needs_registry_auth() {
    let login = Login::random();
    let registry = Registry::with_login(&login);
    let dir = tempfile::tempdir().expect("temp dir");
    let auth = dir.path().join("config.json");
    std::fs::write(&auth, login.docker_config(&registry.host())).expect("write");
    let reference = tagged(&registry, "v1");

    let mut command = host(&registry, dir.path());
    command
        .args(["plugin", "push"])
        .arg(default_plugin())
        .arg(&reference);
    let anonymous = run(command);
    assert!(!anonymous.success(), "{anonymous:?}");
    assert!(
        anonymous.stderr.contains("--registry-auth"),
        "{}",
        anonymous.stderr
    );

    let mut command = host(&registry, dir.path());
    command.arg("--registry-auth").arg(&auth);
    command
        .args(["plugin", "push"])
        .arg(default_plugin())
        .arg(&reference);
    let pushed = run(command);
    assert!(pushed.success(), "{pushed:?}");

    let output = dir.path().join("pulled.wasm");
    let anonymous = pull(&registry, dir.path(), &reference, &output);
    assert!(!anonymous.success(), "{anonymous:?}");
    assert!(
        anonymous.stderr.contains("--registry-auth"),
        "{}",
        anonymous.stderr
    );

    let mut command = host(&registry, dir.path());
    command.arg("--registry-auth").arg(&auth);
    command
        .args(["plugin", "pull", &reference, "-o"])
        .arg(&output);
    let pulled = run(command);
    assert!(pulled.success(), "{pulled:?}");
    assert!(
        std::fs::read(&output).expect("pulled") == std::fs::read(default_plugin()).expect("plugin")
    );

    let mut wrong = login.clone();
    wrong.password.push('x');
    std::fs::write(&auth, wrong.docker_config(&registry.host())).expect("write");
    let mut command = host(&registry, dir.path());
    command.arg("--registry-auth").arg(&auth);
    command
        .args(["plugin", "pull", &reference, "-o"])
        .arg(&output);
    let refused = run(command);
    assert!(!refused.success(), "{refused:?}");
}

#[test]
fn a_registry_with_its_own_ca_needs_registry_ca_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = (
        dir.path().join("ca.crt"),
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
    );
    write_ca_and_certificate(&ca, &cert, &key);
    let registry = Registry::with_tls(&cert, &key);
    let reference = tagged(&registry, "v1");
    // No --insecure-registry here: HTTPS it is.
    let push = |ca: Option<&Path>| {
        let mut command = host_command();
        command.env("KAMAJI_TELEMETRY_CACHE_DIR", dir.path());
        if let Some(ca) = ca {
            command.arg("--registry-ca-file").arg(ca);
        }
        command
            .args(["plugin", "push"])
            .arg(default_plugin())
            .arg(&reference);
        run(command)
    };
    let untrusted = push(None);
    assert!(!untrusted.success(), "{untrusted:?}");
    let trusted = push(Some(&ca));
    assert!(trusted.success(), "{trusted:?}");
    assert!(trusted.stdout.starts_with("pushed oci://"), "{trusted:?}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let refused = push(Some(&garbage));
    assert!(!refused.success(), "{refused:?}");
    assert!(refused.stderr.contains("garbage.pem"), "{}", refused.stderr);
}

/// A CA of its own, and a certificate for 127.0.0.1 that it signed.
fn write_ca_and_certificate(ca: &Path, cert: &Path, key: &Path) {
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // rcgen's default name is the same for every certificate; a CA named
    // like its leaf is no issuer a verifier can tell apart.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kamaji-telemetry test CA");
    let issuer = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA");
    let leaf_key = rcgen::KeyPair::generate().expect("a key");
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("a certificate");
    std::fs::write(ca, issuer.pem()).expect("write");
    std::fs::write(cert, leaf.pem()).expect("write");
    std::fs::write(key, leaf_key.serialize_pem()).expect("write");
}
