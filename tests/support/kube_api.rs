//! A fake Kubernetes API server on loopback that speaks enough of the real
//! protocol for kube-rs, unmodified: `/version`, the Service
//! `default/kubernetes`, a Deployment, lists with a `resourceVersion`, watches
//! (`?watch=true`) as chunked streams of newline-delimited WatchEvents with
//! BOOKMARKs, 410 Gone (as an ERROR event, as the real one sends it) for a
//! watch from a compacted version, streams cut mid-way, 403 and 404 as
//! `Status` objects, and Leases (get, create, replace with `resourceVersion`
//! conflicts).
//!
//! It serves Kamaji's own sample TenantControlPlanes and DataStores
//! (tests/fixtures/kamaji), with the metadata and status a real cluster adds,
//! and the Kamaji controller's Deployment `kamaji-system/kamaji` as Kamaji's
//! chart renders it, which can be got, listed and watched by name
//! (`fieldSelector=metadata.name=…`), changed and deleted.
//! Every request is recorded, so a test can count watches and API calls.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::workspace_root;

const KAMAJI: &str = "kamaji.clastix.io/v1alpha1";
pub const SERVICE_UID: &str = "0d6b2f4e-7c1a-4b8e-9f3d-5a2c8e1b7d40";

/// The kinds the fake stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    TenantControlPlane,
    DataStore,
    Lease,
    Deployment,
}

impl Kind {
    fn api_version(self) -> &'static str {
        match self {
            Self::Lease => "coordination.k8s.io/v1",
            Self::Deployment => "apps/v1",
            _ => KAMAJI,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::TenantControlPlane => "TenantControlPlane",
            Self::DataStore => "DataStore",
            Self::Lease => "Lease",
            Self::Deployment => "Deployment",
        }
    }

    /// The resource and its group, as in an RBAC refusal.
    fn resource(self) -> String {
        let plural = format!("{}s", self.name().to_lowercase());
        match self.api_version().split_once('/') {
            Some((group, _)) => format!("{plural}.{group}"),
            None => plural,
        }
    }
}

/// Where the Kamaji controller runs, as Kamaji's chart installs it.
const KAMAJI_NAMESPACE: &str = "kamaji-system";
const KAMAJI_DEPLOYMENT: &str = "kamaji";

/// Which objects a list or watch asks for: a namespace, and a name by
/// `fieldSelector=metadata.name=…`.
#[derive(Debug, Clone, Default)]
struct Scope {
    namespace: Option<String>,
    name: Option<String>,
}

impl Scope {
    fn from_query(namespace: Option<String>, query: &HashMap<String, String>) -> Self {
        let name = query
            .get("fieldSelector")
            .and_then(|selector| selector.strip_prefix("metadata.name="))
            .map(str::to_owned);
        Self { namespace, name }
    }

    fn holds(&self, kind: Kind, key: &Key) -> bool {
        let (of, namespace, name) = key;
        *of == kind
            && self
                .namespace
                .as_ref()
                .is_none_or(|wanted| wanted == namespace)
            && self.name.as_ref().is_none_or(|wanted| wanted == name)
    }
}

type Key = (Kind, String, String);

/// One change, as a watch sends it.
#[derive(Debug, Clone)]
struct Change {
    version: u64,
    key: Key,
    kind_of_event: &'static str,
    object: Value,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
}

impl Call {
    pub fn is_watch(&self) -> bool {
        self.query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    }
}

#[derive(Default)]
struct Objects {
    version: u64,
    items: BTreeMap<Key, Value>,
    history: Vec<Change>,
    /// Watches from a version below this get 410 Gone.
    compacted: u64,
    uids: u64,
}

struct Shared {
    objects: Mutex<Objects>,
    changes: broadcast::Sender<Change>,
    /// Bumped to cut every open watch stream.
    cuts: watch::Sender<u64>,
    forbidden: Mutex<HashSet<Kind>>,
    missing: Mutex<HashSet<Kind>>,
    calls: Mutex<Vec<Call>>,
    git_version: Mutex<String>,
}

/// The running fake; it stops when dropped.
pub struct FakeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeApi {
    /// Starts on 127.0.0.1 with an ephemeral port, with no Kamaji objects.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("fake API runtime");
        let shared = Arc::new(Shared {
            objects: Mutex::new(Objects {
                version: 1000,
                ..Objects::default()
            }),
            changes: broadcast::channel(1024).0,
            cuts: watch::Sender::new(0),
            forbidden: Mutex::default(),
            missing: Mutex::default(),
            calls: Mutex::default(),
            git_version: Mutex::new("v1.30.2".into()),
        });
        let controller = kamaji_controller(&[]);
        create(
            &shared,
            Kind::Deployment,
            KAMAJI_NAMESPACE,
            KAMAJI_DEPLOYMENT,
            controller,
        )
        .expect("a new Deployment");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let address = listener.local_addr().expect("local addr");
        let app = router(Arc::clone(&shared));
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            shared,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Writes a kubeconfig for this server into `dir`.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters: [{{name: fake, cluster: {{server: \"{}\"}}}}]\n\
             users: [{{name: fake, user: {{}}}}]\n\
             contexts: [{{name: fake, context: {{cluster: fake, user: fake, namespace: default}}}}]\n",
            self.url()
        );
        std::fs::write(&path, text).expect("write the kubeconfig");
        path
    }

    /// Creates a TenantControlPlane from the sample, asking for `version`;
    /// its status says that version is installed and Ready.
    pub fn create_tcp(&self, namespace: &str, name: &str, version: &str) {
        let mut object = fixture("tenantcontrolplane.json");
        object["spec"]["kubernetes"]["version"] = json!(version);
        object["status"] = json!({"kubernetesResources": {"version": {
            "version": version, "status": "Ready"}}});
        self.create(Kind::TenantControlPlane, namespace, name, object);
    }

    /// Creates `count` TenantControlPlanes from the sample, `tcp-00000`
    /// onwards in namespace `fleet`, as a large fleet's List holds them.
    pub fn create_tcps(&self, count: usize) {
        let mut object = fixture("tenantcontrolplane.json");
        object["status"] = json!({"kubernetesResources": {"version": {
            "version": "v1.30.2", "status": "Ready"}}});
        for index in 0..count {
            let name = format!("tcp-{index:05}");
            self.create(Kind::TenantControlPlane, "fleet", &name, object.clone());
        }
    }

    /// Asks for another Kubernetes version, as an upgrade does.
    pub fn set_tcp_version(&self, namespace: &str, name: &str, version: &str) {
        self.modify(Kind::TenantControlPlane, namespace, name, |object| {
            object["spec"]["kubernetes"]["version"] = json!(version);
        });
    }

    /// A change that is not an upgrade: a new label.
    pub fn label_tcp(&self, namespace: &str, name: &str, value: &str) {
        self.modify(Kind::TenantControlPlane, namespace, name, |object| {
            object["metadata"]["labels"]["touched"] = json!(value);
        });
    }

    pub fn delete_tcp(&self, namespace: &str, name: &str) {
        self.delete(Kind::TenantControlPlane, namespace, name);
    }

    /// Creates a DataStore from a sample (`datastore_etcd.json`, ...),
    /// used by `used_by` TenantControlPlanes.
    pub fn create_data_store(&self, sample: &str, used_by: &[&str]) -> String {
        let mut object = fixture(sample);
        let name = object["metadata"]["name"]
            .as_str()
            .expect("a named sample")
            .to_owned();
        object["status"] = json!({"usedBy": used_by});
        self.create(Kind::DataStore, "", &name, object);
        name
    }

    pub fn delete_data_store(&self, name: &str) {
        self.delete(Kind::DataStore, "", name);
    }

    /// Makes every version so far too old to watch from (as etcd's
    /// compaction does) and cuts the open watches: the clients must re-list.
    pub fn expire_watches(&self) {
        {
            let mut objects = self.objects();
            objects.compacted = objects.version + 1;
        }
        self.cut_watches();
    }

    /// Cuts every open watch stream mid-way; the clients may resume.
    pub fn cut_watches(&self) {
        self.shared.cuts.send_modify(|generation| *generation += 1);
    }

    /// Answers 403 Forbidden to every request for `kind`.
    pub fn forbid(&self, kind: Kind) {
        lock(&self.shared.forbidden).insert(kind);
    }

    /// Lets requests for `kind` through again, as a fixed RBAC rule does.
    pub fn allow(&self, kind: Kind) {
        lock(&self.shared.forbidden).remove(&kind);
    }

    /// Sets the arguments of the Kamaji controller's `manager` container to
    /// the chart's own followed by `extra` (`--disable-telemetry`, say), as
    /// `helm upgrade` or `kubectl edit` would.
    pub fn set_kamaji_args(&self, extra: &[&str]) {
        let spec = kamaji_controller(extra)["spec"].take();
        self.modify(
            Kind::Deployment,
            KAMAJI_NAMESPACE,
            KAMAJI_DEPLOYMENT,
            |object| object["spec"] = spec,
        );
    }

    /// Deletes the Kamaji controller's Deployment, as `helm uninstall` does.
    pub fn delete_kamaji(&self) {
        self.delete(Kind::Deployment, KAMAJI_NAMESPACE, KAMAJI_DEPLOYMENT);
    }

    /// Installs the Kamaji controller's Deployment again, with the chart's
    /// arguments followed by `extra`.
    pub fn install_kamaji(&self, extra: &[&str]) {
        let controller = kamaji_controller(extra);
        self.create(
            Kind::Deployment,
            KAMAJI_NAMESPACE,
            KAMAJI_DEPLOYMENT,
            controller,
        );
    }

    /// Answers 404 to every request for `kind`, as for a CRD not installed.
    pub fn remove_crd(&self, kind: Kind) {
        lock(&self.shared.missing).insert(kind);
    }

    pub fn set_git_version(&self, version: &str) {
        *lock(&self.shared.git_version) = version.to_owned();
    }

    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    pub fn watch_calls(&self) -> usize {
        self.calls().iter().filter(|call| call.is_watch()).count()
    }

    /// The Lease `namespace/name`, if it exists.
    pub fn lease(&self, namespace: &str, name: &str) -> Option<Value> {
        let key = (Kind::Lease, namespace.to_owned(), name.to_owned());
        self.objects().items.get(&key).cloned()
    }

    fn objects(&self) -> MutexGuard<'_, Objects> {
        lock(&self.shared.objects)
    }

    fn create(&self, kind: Kind, namespace: &str, name: &str, object: Value) {
        create(&self.shared, kind, namespace, name, object).expect("a new object");
    }

    fn modify(&self, kind: Kind, namespace: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let key = (kind, namespace.to_owned(), name.to_owned());
        let mut object = self.objects().items.get(&key).cloned().expect("an object");
        change(&mut object);
        store(&self.shared, key, object, "MODIFIED");
    }

    fn delete(&self, kind: Kind, namespace: &str, name: &str) {
        let key = (kind, namespace.to_owned(), name.to_owned());
        let mut objects = self.objects();
        let mut object = objects.items.remove(&key).expect("an object");
        objects.version += 1;
        object["metadata"]["resourceVersion"] = json!(objects.version.to_string());
        record(&self.shared, &mut objects, key, "DELETED", object);
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The Kamaji controller's Deployment as Kamaji's chart renders it, its
/// `manager` container's arguments followed by `extra`.
fn kamaji_controller(extra: &[&str]) -> Value {
    let mut controller = fixture("controller_deployment.json");
    let args = &mut controller["spec"]["template"]["spec"]["containers"][0]["args"];
    let list = args.as_array_mut().expect("the chart's arguments");
    list.extend(extra.iter().map(|arg| json!(arg)));
    controller
}

fn fixture(name: &str) -> Value {
    let path = workspace_root().join("tests/fixtures/kamaji").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Adds the object with the metadata the API server sets; `Err` with the
/// stored one if it exists.
fn create(
    shared: &Shared,
    kind: Kind,
    namespace: &str,
    name: &str,
    mut object: Value,
) -> Result<Value, Value> {
    let mut objects = lock(&shared.objects);
    let key = (kind, namespace.to_owned(), name.to_owned());
    if let Some(existing) = objects.items.get(&key) {
        return Err(existing.clone());
    }
    objects.version += 1;
    objects.uids += 1;
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.name());
    let metadata = &mut object["metadata"];
    metadata["name"] = json!(name);
    if !namespace.is_empty() {
        metadata["namespace"] = json!(namespace);
    }
    metadata["uid"] = json!(format!("00000000-0000-4000-a000-{:012}", objects.uids));
    metadata["resourceVersion"] = json!(objects.version.to_string());
    metadata["creationTimestamp"] = json!("2026-11-29T00:00:00Z");
    objects.items.insert(key.clone(), object.clone());
    record(shared, &mut objects, key, "ADDED", object.clone());
    Ok(object)
}

/// Stores a new state of an existing object under a new resourceVersion.
fn store(shared: &Shared, key: Key, object: Value, kind_of_event: &'static str) -> Value {
    store_locked(
        shared,
        &mut lock(&shared.objects),
        key,
        object,
        kind_of_event,
    )
}

fn store_locked(
    shared: &Shared,
    objects: &mut Objects,
    key: Key,
    mut object: Value,
    kind_of_event: &'static str,
) -> Value {
    objects.version += 1;
    object["metadata"]["resourceVersion"] = json!(objects.version.to_string());
    objects.items.insert(key.clone(), object.clone());
    record(shared, objects, key, kind_of_event, object.clone());
    object
}

fn record(
    shared: &Shared,
    objects: &mut Objects,
    key: Key,
    kind_of_event: &'static str,
    object: Value,
) {
    let change = Change {
        version: objects.version,
        key,
        kind_of_event,
        object,
    };
    objects.history.push(change.clone());
    // Sent under the lock: a watch that subscribes under it misses nothing.
    let _ = shared.changes.send(change);
}

fn router(shared: Arc<Shared>) -> Router {
    let kamaji = "/apis/kamaji.clastix.io/v1alpha1";
    let leases = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases";
    Router::new()
        .route("/version", get(version))
        .route(
            "/api/v1/namespaces/default/services/kubernetes",
            get(service),
        )
        .route(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            get(deployment),
        )
        .route(
            "/apis/apps/v1/namespaces/{namespace}/deployments",
            get(async |UrlPath(namespace): UrlPath<String>, state, query| {
                list_or_watch(Kind::Deployment, Some(namespace), state, query).await
            }),
        )
        .route(
            &format!("{kamaji}/tenantcontrolplanes"),
            get(async |state, query| {
                list_or_watch(Kind::TenantControlPlane, None, state, query).await
            }),
        )
        .route(
            &format!("{kamaji}/datastores"),
            get(async |state, query| list_or_watch(Kind::DataStore, None, state, query).await),
        )
        .route(leases, axum::routing::post(create_lease))
        .route(
            &format!("{leases}/{{name}}"),
            get(get_lease).put(replace_lease),
        )
        .fallback(async || {
            status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            )
        })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            log_call,
        ))
        .with_state(shared)
}

async fn log_call(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    lock(&shared.calls).push(Call {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
    });
    next.run(request).await
}

/// A `Status` error, as the API server sends it.
fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = status_object(code.as_u16(), reason, message);
    (code, axum::Json(body)).into_response()
}

fn status_object(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

async fn version(State(shared): State<Arc<Shared>>) -> Response {
    let git_version = lock(&shared.git_version).clone();
    axum::Json(json!({
        "major": "1", "minor": "30", "gitVersion": git_version,
        "gitCommit": "9285d5d4a5b5b6b2c1a0d5ad5e7f3f2d5c5d6e7f", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc",
        "platform": "linux/amd64"
    }))
    .into_response()
}

async fn service() -> Response {
    axum::Json(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "uid": SERVICE_UID,
                     "resourceVersion": "200"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}
    }))
    .into_response()
}

/// A Deployment by name: Kamaji's controller, while it is installed.
async fn deployment(
    State(shared): State<Arc<Shared>>,
    UrlPath((namespace, name)): UrlPath<(String, String)>,
) -> Response {
    if let Some(refused) = refusal(&shared, Kind::Deployment) {
        return refused;
    }
    let key = (Kind::Deployment, namespace, name.clone());
    match lock(&shared.objects).items.get(&key) {
        Some(deployment) => axum::Json(deployment.clone()).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("deployments.apps \"{name}\" not found"),
        ),
    }
}

fn refusal(shared: &Shared, kind: Kind) -> Option<Response> {
    let resource = kind.resource();
    if lock(&shared.forbidden).contains(&kind) {
        let message = format!(
            "{resource} is forbidden: User \"system:serviceaccount:kamaji-system:kamaji-telemetry\" cannot list resource \"{resource}\""
        );
        return Some(status(StatusCode::FORBIDDEN, "Forbidden", &message));
    }
    if lock(&shared.missing).contains(&kind) {
        return Some(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    None
}

async fn list_or_watch(
    kind: Kind,
    namespace: Option<String>,
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&shared, kind) {
        return refused;
    }
    let scope = Scope::from_query(namespace, &query);
    if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) {
        let since = query
            .get("resourceVersion")
            .and_then(|version| version.parse().ok())
            .unwrap_or(0);
        return watch_stream(&shared, kind, scope, since);
    }
    list(&shared, kind, &scope, &Page::from_query(kind, &query))
}

/// A list, a page at a time when the client asks for one (`limit`), as
/// kube-runtime's watcher does: `metadata.continue` names the last object
/// sent, and the next page starts after it.
fn list(shared: &Shared, kind: Kind, scope: &Scope, page: &Page) -> Response {
    let objects = lock(&shared.objects);
    let mut items: Vec<(&Key, &Value)> = objects
        .items
        .iter()
        .filter(|(key, _)| scope.holds(kind, key))
        .filter(|(key, _)| page.after.as_ref().is_none_or(|after| *key > after))
        .collect();
    let more = page.limit.is_some_and(|limit| items.len() > limit);
    if let Some(limit) = page.limit {
        items.truncate(limit);
    }
    let mut metadata = json!({"resourceVersion": objects.version.to_string()});
    if more && let Some((last, _)) = items.last() {
        metadata["continue"] = json!(Page::token(last));
    }
    let items: Vec<&Value> = items.into_iter().map(|(_, object)| object).collect();
    axum::Json(json!({
        "apiVersion": kind.api_version(),
        "kind": format!("{}List", kind.name()),
        "metadata": metadata,
        "items": items,
    }))
    .into_response()
}

/// What page of a list is asked for.
#[derive(Debug, Default)]
struct Page {
    limit: Option<usize>,
    /// The last object of the previous page.
    after: Option<Key>,
}

impl Page {
    fn from_query(kind: Kind, query: &HashMap<String, String>) -> Self {
        let limit = query
            .get("limit")
            .and_then(|limit| limit.parse().ok())
            .filter(|limit| *limit > 0);
        let after = query.get("continue").and_then(|token| {
            let (namespace, name) = token.split_once('/')?;
            Some((kind, namespace.to_owned(), name.to_owned()))
        });
        Self { limit, after }
    }

    fn token((_, namespace, name): &Key) -> String {
        format!("{namespace}/{name}")
    }
}

/// A watch from `since`: the changes after it, a BOOKMARK, then live changes
/// until the client goes or the stream is cut. From a compacted version: an
/// ERROR event with 410 Gone, then the end of the stream.
fn watch_stream(shared: &Arc<Shared>, kind: Kind, scope: Scope, since: u64) -> Response {
    let (lines, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(1024);
    let (changes, backlog, current) = {
        let objects = lock(&shared.objects);
        let changes = shared.changes.subscribe();
        if since < objects.compacted {
            let gone = status_object(410, "Expired", "too old resource version");
            let _ = lines.try_send(Ok(event_line("ERROR", &gone)));
            return stream_response(receiver);
        }
        let backlog: Vec<Change> = objects
            .history
            .iter()
            .filter(|change| change.version > since && scope.holds(kind, &change.key))
            .cloned()
            .collect();
        (changes, backlog, objects.version)
    };
    let cuts = shared.cuts.subscribe();
    let watch = Watch { kind, scope, lines };
    tokio::spawn(follow(watch, changes, cuts, backlog, current));
    stream_response(receiver)
}

/// One open watch: what it asks for, and where its lines go.
struct Watch {
    kind: Kind,
    scope: Scope,
    lines: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

async fn follow(
    Watch { kind, scope, lines }: Watch,
    mut changes: broadcast::Receiver<Change>,
    mut cuts: watch::Receiver<u64>,
    backlog: Vec<Change>,
    current: u64,
) {
    cuts.mark_unchanged();
    for change in &backlog {
        if lines.send(Ok(change_line(change))).await.is_err() {
            return;
        }
    }
    let bookmark = json!({"apiVersion": kind.api_version(), "kind": kind.name(),
                          "metadata": {"resourceVersion": current.to_string()}});
    if lines
        .send(Ok(event_line("BOOKMARK", &bookmark)))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            _ = cuts.changed() => {
                // An error in the body aborts the response mid-stream.
                let _ = lines.send(Err(std::io::Error::other("cut"))).await;
                return;
            }
            change = changes.recv() => match change {
                Ok(change) if scope.holds(kind, &change.key) && change.version > current => {
                    if lines.send(Ok(change_line(&change))).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            },
        }
    }
}

fn stream_response(receiver: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Response {
    let stream = futures::stream::unfold(receiver, async |mut receiver| {
        receiver.recv().await.map(|line| (line, receiver))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .expect("a response")
}

fn change_line(change: &Change) -> Bytes {
    event_line(change.kind_of_event, &change.object)
}

fn event_line(kind_of_event: &str, object: &Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({"type": kind_of_event, "object": object})).expect("JSON");
    line.push(b'\n');
    Bytes::from(line)
}

async fn get_lease(
    State(shared): State<Arc<Shared>>,
    UrlPath((namespace, name)): UrlPath<(String, String)>,
) -> Response {
    let key = (Kind::Lease, namespace, name.clone());
    match lock(&shared.objects).items.get(&key) {
        Some(lease) => axum::Json(lease.clone()).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("leases.coordination.k8s.io \"{name}\" not found"),
        ),
    }
}

async fn create_lease(
    State(shared): State<Arc<Shared>>,
    UrlPath(namespace): UrlPath<String>,
    axum::Json(lease): axum::Json<Value>,
) -> Response {
    let name = lease["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match create(&shared, Kind::Lease, &namespace, &name, lease) {
        Ok(created) => (StatusCode::CREATED, axum::Json(created)).into_response(),
        Err(_) => status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("leases.coordination.k8s.io \"{name}\" already exists"),
        ),
    }
}

/// A replace succeeds only from the stored `resourceVersion`: optimistic
/// concurrency, what makes leader election safe.
async fn replace_lease(
    State(shared): State<Arc<Shared>>,
    UrlPath((namespace, name)): UrlPath<(String, String)>,
    axum::Json(lease): axum::Json<Value>,
) -> Response {
    let key = (Kind::Lease, namespace, name.clone());
    // Compared and stored under one lock, as etcd's transaction does.
    let mut objects = lock(&shared.objects);
    let Some(stored) = objects.items.get(&key).cloned() else {
        return status(StatusCode::NOT_FOUND, "NotFound", "lease not found");
    };
    if lease["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"] {
        let message = format!(
            "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        );
        return status(StatusCode::CONFLICT, "Conflict", &message);
    }
    let mut updated = lease;
    updated["metadata"]["uid"] = stored["metadata"]["uid"].clone();
    updated["metadata"]["creationTimestamp"] = stored["metadata"]["creationTimestamp"].clone();
    axum::Json(store_locked(
        &shared,
        &mut objects,
        key,
        updated,
        "MODIFIED",
    ))
    .into_response()
}
