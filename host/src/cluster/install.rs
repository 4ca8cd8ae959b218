//! `kamaji-telemetry manifests`: everything the agent needs in a cluster, as
//! one YAML stream for `kubectl apply -f -`.
//!
//! The namespace must exist (Kamaji's own `kamaji-system`, by default): it
//! is not among the documents, so that `kubectl delete -f` of them never
//! takes a namespace with it.
//!
//! The RBAC rules grant exactly the calls the agent makes, no more: list and
//! watch TenantControlPlanes and DataStores, get the Service
//! `default/kubernetes`, get, list and watch the Kamaji Deployment by name
//! (its `--disable-telemetry` is Kamaji's own opt-out), and in its own
//! namespace create its Lease and get and update it by name. `/version` needs
//! no rule: every authenticated client may read it (system:discovery).

use serde_json::{Value, json};

use super::installation::DEFAULT_KAMAJI_DEPLOYMENT;
use super::leader::DEFAULT_LEASE_NAME;
use super::resource::{KAMAJI_GROUP, Resource};

/// The name of every object.
const NAME: &str = "kamaji-telemetry";
const PORT: u16 = 9443;
const CONFIG_DIR: &str = "/etc/kamaji-telemetry";
const CACHE_DIR: &str = "/var/cache/kamaji-telemetry";
const TLS_DIR: &str = "/etc/kamaji-telemetry/tls";
/// The Secret with the webhook's serving certificate, for `--events webhook`
/// (a cert-manager Certificate named like the agent writes it).
const TLS_SECRET: &str = "kamaji-telemetry-tls";
/// Enough for the default plugin many times over; the container's memory
/// limit is set from it.
const PLUGIN_MEMORY_MIB: u32 = 64;

/// What the manifests are for.
#[derive(Debug, Clone)]
pub struct ManifestOptions {
    pub namespace: String,
    /// Telemetry starts off (`disabled: true` in the ConfigMap, which can be
    /// edited to turn it on without a restart).
    pub disable_telemetry: bool,
    /// Events from an admission webhook instead of the watch.
    pub webhook: bool,
    pub image: String,
    /// Passed to the agent's `--plugin`; `None` runs the embedded plugin.
    pub plugin: Option<String>,
}

/// The YAML stream: one document per object.
pub fn render(options: &ManifestOptions) -> Result<String, serde_yaml_ng::Error> {
    let mut text = format!(
        "# kamaji-telemetry {}: kubectl apply -f - (namespace {})\n",
        env!("CARGO_PKG_VERSION"),
        options.namespace
    );
    if options.webhook {
        text.push_str(&format!(
            "# --events webhook: the Secret {TLS_SECRET} must hold a serving certificate for \
             {NAME}.{}.svc (a cert-manager Certificate named {NAME}, say)\n",
            options.namespace
        ));
    }
    for document in documents(options) {
        text.push_str("---\n");
        text.push_str(&serde_yaml_ng::to_string(&document)?);
    }
    Ok(text)
}

fn documents(options: &ManifestOptions) -> Vec<Value> {
    let mut documents = vec![
        service_account(options),
        cluster_role(),
        binding("ClusterRoleBinding", None, "ClusterRole", options),
        lease_role(options),
        binding("RoleBinding", Some(&options.namespace), "Role", options),
        config_map(options),
        deployment(options),
        service(options),
    ];
    if options.webhook {
        documents.push(webhook_configuration(options));
    }
    documents
}

fn labels() -> Value {
    json!({
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/component": "telemetry-agent",
        "app.kubernetes.io/part-of": "kamaji",
    })
}

fn metadata(namespace: Option<&str>) -> Value {
    let mut metadata = json!({"name": NAME, "labels": labels()});
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    metadata
}

fn service_account(options: &ManifestOptions) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
           "metadata": metadata(Some(&options.namespace)),
           "automountServiceAccountToken": true})
}

/// The cluster-wide reads: the fleet, the installation's UID and Kamaji's
/// version.
fn cluster_role() -> Value {
    let kamaji_deployment = DEFAULT_KAMAJI_DEPLOYMENT
        .rsplit_once('/')
        .map_or(DEFAULT_KAMAJI_DEPLOYMENT, |(_namespace, name)| name);
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": metadata(None),
        "rules": [
            {"apiGroups": [KAMAJI_GROUP],
             "resources": Resource::ALL.map(Resource::plural),
             "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["services"],
             "resourceNames": ["kubernetes"], "verbs": ["get"]},
            // Listed and watched by name (`fieldSelector=metadata.name=…`),
            // which the API server authorizes by resourceNames.
            {"apiGroups": ["apps"], "resources": ["deployments"],
             "resourceNames": [kamaji_deployment], "verbs": ["get", "list", "watch"]},
        ],
    })
}

/// The Lease, in the agent's namespace only. `create` cannot be limited to a
/// name (the object does not exist yet); the rest is.
fn lease_role(options: &ManifestOptions) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": metadata(Some(&options.namespace)),
        "rules": [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "resourceNames": [DEFAULT_LEASE_NAME], "verbs": ["get", "update"]},
        ],
    })
}

fn binding(kind: &str, namespace: Option<&str>, role: &str, options: &ManifestOptions) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
        "metadata": metadata(namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role, "name": NAME},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": options.namespace}],
    })
}

/// The runtime config, read again when it changes: editing it turns
/// telemetry off or on without a restart.
fn config_map(options: &ManifestOptions) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": metadata(Some(&options.namespace)),
        "data": {"telemetry.yaml": format!("disabled: {}\n", options.disable_telemetry)},
    })
}

fn args(options: &ManifestOptions) -> Vec<String> {
    let mut args = vec![
        "serve".to_owned(),
        format!(
            "--events={}",
            if options.webhook { "webhook" } else { "watch" }
        ),
        format!("--listen=0.0.0.0:{PORT}"),
        format!("--config={CONFIG_DIR}/telemetry.yaml"),
        format!("--cache-dir={CACHE_DIR}"),
        format!("--plugin-memory-mib={PLUGIN_MEMORY_MIB}"),
        "--log-format=json".to_owned(),
        // Explicit, so that the RBAC rule below and the agent name one Deployment.
        format!("--kamaji-deployment={DEFAULT_KAMAJI_DEPLOYMENT}"),
    ];
    if options.webhook {
        args.push(format!("--tls-cert={TLS_DIR}/tls.crt"));
        args.push(format!("--tls-key={TLS_DIR}/tls.key"));
    }
    if let Some(plugin) = &options.plugin {
        args.push(format!("--plugin={plugin}"));
    }
    args
}

fn field_env(name: &str, path: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}})
}

/// The container port's name: what it speaks.
fn port_name(options: &ManifestOptions) -> &'static str {
    if options.webhook { "https" } else { "http" }
}

fn probe(path: &str, options: &ManifestOptions) -> Value {
    let scheme = port_name(options).to_uppercase();
    json!({"httpGet": {"path": path, "port": port_name(options), "scheme": scheme},
           "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3})
}

fn deployment(options: &ManifestOptions) -> Value {
    let mut mounts = vec![
        json!({"name": "config", "mountPath": CONFIG_DIR, "readOnly": true}),
        json!({"name": "cache", "mountPath": CACHE_DIR}),
    ];
    let mut volumes = vec![
        json!({"name": "config", "configMap": {"name": NAME}}),
        json!({"name": "cache", "emptyDir": {"sizeLimit": "64Mi"}}),
    ];
    if options.webhook {
        mounts.push(json!({"name": "tls", "mountPath": TLS_DIR, "readOnly": true}));
        volumes.push(json!({"name": "tls", "secret": {"secretName": TLS_SECRET}}));
    }
    let container = json!({
        "name": "agent",
        "image": options.image,
        "args": args(options),
        "env": [field_env("POD_NAME", "metadata.name"),
                field_env("POD_NAMESPACE", "metadata.namespace")],
        "ports": [{"name": port_name(options), "containerPort": PORT, "protocol": "TCP"}],
        "livenessProbe": probe("/healthz", options),
        "readinessProbe": probe("/readyz", options),
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    });
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": metadata(Some(&options.namespace)),
        "spec": {
            // Two replicas: one leads and sends, the other keeps its store
            // warm and takes over when the leader goes.
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": labels()},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532,
                                        "runAsGroup": 65532,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}}}}]}},
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    })
}

/// The metrics (and with `--events webhook` the webhook) endpoint.
fn service(options: &ManifestOptions) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": metadata(Some(&options.namespace)),
        "spec": {"selector": {"app.kubernetes.io/name": NAME},
                 "ports": [{"name": port_name(options), "port": PORT,
                            "targetPort": port_name(options), "protocol": "TCP"}]},
    })
}

/// A webhook that can never block or fail an admission.
fn webhook_configuration(options: &ManifestOptions) -> Value {
    let mut metadata = metadata(None);
    metadata["annotations"] =
        json!({"cert-manager.io/inject-ca-from": format!("{}/{NAME}", options.namespace)});
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": [{
            "name": "telemetry.kamaji.clastix.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Ignore",
            "timeoutSeconds": 2,
            "clientConfig": {"service": {"name": NAME, "namespace": options.namespace,
                                         "path": "/telemetry", "port": PORT}},
            "rules": [{"apiGroups": [KAMAJI_GROUP], "apiVersions": ["*"],
                       "resources": ["tenantcontrolplanes"],
                       "operations": ["CREATE", "UPDATE", "DELETE"]}],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(webhook: bool) -> ManifestOptions {
        ManifestOptions {
            namespace: "telemetry".into(),
            disable_telemetry: false,
            webhook,
            image: "example/kamaji-telemetry:1".into(),
            plugin: None,
        }
    }

    #[test]
    fn the_webhook_comes_only_with_events_from_the_webhook() {
        let kinds = |webhook| -> Vec<String> {
            documents(&options(webhook))
                .iter()
                .map(|document| document["kind"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert!(!kinds(false).contains(&"ValidatingWebhookConfiguration".to_owned()));
        assert!(kinds(true).contains(&"ValidatingWebhookConfiguration".to_owned()));
    }

    #[test]
    fn every_document_is_valid_yaml() {
        let text = render(&options(true)).expect("renders");
        let count = serde_yaml_ng::Deserializer::from_str(&text).count();
        assert_eq!(count, documents(&options(true)).len());
    }
}
