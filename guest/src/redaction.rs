//! The redaction report: for each payload, which input fields did not reach
//! the body as they were, what was done to them, and why.
//!
//! Policy: one entry per input field that was *present* (a non-empty string,
//! a `some`, a non-empty list) and is not sent verbatim. Absent fields are
//! not listed, since there was nothing to redact, and neither are values sent
//! as they were (an already canonical version, a status from Kamaji's set).
//! So the body and the report together account for every present input field.
//!
//! Fields are paths into the WIT types (`tenant-control-plane.labels`); list
//! elements are written `[]` and reported once for the whole list. Entries
//! are built from static text only, so a report can never quote a value.

use crate::fleet::Driver;
use crate::status::TcpStatus;
use crate::versions::{KamajiVersion, KubernetesVersion};
use crate::wire::Platform;
use crate::{DataStore, Installation, Redaction, RedactionAction, TenantControlPlane};
use core::fmt::{Display, Write};

/// What a route did with one present input field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Treatment {
    /// Sent as it was: not a redaction, so not reported.
    Kept,
    Dropped(&'static str),
    Normalised(&'static str),
    Pseudonymised(&'static str),
}

impl Treatment {
    /// A Kubernetes version field, given the version it was sent as.
    pub fn kubernetes_version(raw: &str, sent: KubernetesVersion) -> Self {
        let reason = match sent {
            KubernetesVersion::Unknown => {
                "Not a Kubernetes version of the form vMAJOR.MINOR.PATCH, so it is sent as \
                 Unknown rather than as free text."
            }
            KubernetesVersion::Release(_) => {
                "Reduced to vMAJOR.MINOR.PATCH, since provider and build suffixes can single \
                 out a platform or a build."
            }
        };
        Self::unless_verbatim(raw, sent, reason)
    }

    /// The Kamaji version, given the version it was sent as.
    pub fn kamaji_version(raw: &str, sent: KamajiVersion) -> Self {
        Self::unless_verbatim(
            raw,
            sent,
            "Not a Kamaji version of a known shape (vX.Y.Z, edge-YY.M.N or dev), so it is \
             sent as Unknown rather than as free text.",
        )
    }

    /// A TCP status, given the status it was sent as.
    pub fn status(raw: &str, sent: TcpStatus) -> Self {
        Self::unless_verbatim(
            raw,
            sent,
            "Not one of Kamaji's nine status values, so it is sent as Unknown rather than as \
             free text.",
        )
    }

    /// Normalised for `reason`, unless the sent value is the raw one.
    fn unless_verbatim(raw: &str, sent: impl Display, reason: &'static str) -> Self {
        if displays_as(&sent, raw) {
            Self::Kept
        } else {
            Self::Normalised(reason)
        }
    }
}

/// Whether `value` is written as `text`: compared as it is written, without
/// building the string (this runs for every version of every event).
fn displays_as(value: &impl Display, text: &str) -> bool {
    struct Compare<'a> {
        rest: &'a str,
    }
    impl Write for Compare<'_> {
        fn write_str(&mut self, part: &str) -> core::fmt::Result {
            self.rest = self.rest.strip_prefix(part).ok_or(core::fmt::Error)?;
            Ok(())
        }
    }
    let mut compare = Compare { rest: text };
    write!(compare, "{value}").is_ok() && compare.rest.is_empty()
}

/// The fields of `tenant-control-plane`, in WIT order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpField {
    Name,
    Namespace,
    Uid,
    Labels,
    Annotations,
    OwnerReferences,
    DesiredVersion,
    InstalledVersion,
    Status,
    ServiceType,
    Ingress,
    Gateway,
    NetworkAddress,
    Endpoint,
    DataStore,
}

/// Why a DataStore's name is not sent, for TCPs and DataStores alike.
const DATA_STORE_NAME: &str = "A DataStore's name can name a tenant or a customer.";

impl TcpField {
    const ALL: [Self; 15] = [
        Self::Name,
        Self::Namespace,
        Self::Uid,
        Self::Labels,
        Self::Annotations,
        Self::OwnerReferences,
        Self::DesiredVersion,
        Self::InstalledVersion,
        Self::Status,
        Self::ServiceType,
        Self::Ingress,
        Self::Gateway,
        Self::NetworkAddress,
        Self::Endpoint,
        Self::DataStore,
    ];

    /// The field's name in the WIT record.
    fn wit_name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Namespace => "namespace",
            Self::Uid => "uid",
            Self::Labels => "labels",
            Self::Annotations => "annotations",
            Self::OwnerReferences => "owner-references",
            Self::DesiredVersion => "desired-version",
            Self::InstalledVersion => "installed-version",
            Self::Status => "status",
            Self::ServiceType => "service-type",
            Self::Ingress => "ingress",
            Self::Gateway => "gateway",
            Self::NetworkAddress => "network-address",
            Self::Endpoint => "endpoint",
            Self::DataStore => "data-store",
        }
    }

    /// Whether the TCP carries the field: a `some` exposure counts even when
    /// empty, since its mere presence is what `network_profile` reads.
    fn is_present(self, tcp: &TenantControlPlane) -> bool {
        let text = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
        match self {
            Self::Name => !tcp.name.is_empty(),
            Self::Namespace => !tcp.namespace.is_empty(),
            Self::Uid => !tcp.uid.is_empty(),
            Self::Labels => !tcp.labels.is_empty(),
            Self::Annotations => !tcp.annotations.is_empty(),
            Self::OwnerReferences => !tcp.owner_references.is_empty(),
            Self::DesiredVersion => text(&tcp.desired_version),
            Self::InstalledVersion => text(&tcp.installed_version),
            Self::Status => text(&tcp.status),
            Self::ServiceType => text(&tcp.service_type),
            Self::Ingress => tcp.ingress.is_some(),
            Self::Gateway => tcp.gateway.is_some(),
            Self::NetworkAddress => text(&tcp.network_address),
            Self::Endpoint => text(&tcp.endpoint),
            Self::DataStore => text(&tcp.data_store),
        }
    }

    /// Why the field is left out of a payload that has no use for it.
    pub fn drop_reason(self) -> &'static str {
        match self {
            Self::Name => "A tenant control plane's name can name a tenant or a customer.",
            Self::Namespace => "A namespace can name a tenant or a customer.",
            Self::Uid => "The object's UID identifies the tenant control plane.",
            Self::Labels => {
                "Label keys and values are free text that can name people, teams or customers."
            }
            Self::Annotations => {
                "Annotation keys and values are free text that can carry names, hosts or secrets."
            }
            Self::OwnerReferences => {
                "The owners' names and UIDs identify the objects that manage the tenant control plane."
            }
            Self::DesiredVersion | Self::InstalledVersion | Self::Status | Self::ServiceType => {
                "This payload has no field for it."
            }
            Self::Ingress => {
                "Its hostname and class name identify the tenant's endpoint and the cluster's setup."
            }
            Self::Gateway => "Its hostname identifies the tenant's endpoint.",
            Self::NetworkAddress => {
                "An IP address or hostname of the tenant's API server identifies it."
            }
            Self::Endpoint => "The API server's address and port identify it.",
            Self::DataStore => DATA_STORE_NAME,
        }
    }
}

/// The report of one payload, in input order: the installation, then the
/// event's fields in WIT order.
#[derive(Debug, Default)]
pub struct Report(Vec<Redaction>);

impl Report {
    /// Reports the installation's fields, given how the body used them.
    pub fn installation(&mut self, installation: &Installation, sent: &Platform, uid: Treatment) {
        if !installation.cluster_uid.is_empty() {
            self.push("installation.cluster-uid", uid);
        }
        let kamaji = &installation.kamaji_version;
        if !kamaji.is_empty() {
            let treatment = Treatment::kamaji_version(kamaji, sent.kamaji_version);
            self.push("installation.kamaji-version", treatment);
        }
        let kubernetes = &installation.kubernetes_version;
        if !kubernetes.is_empty() {
            let treatment = Treatment::kubernetes_version(kubernetes, sent.kubernetes_version);
            self.push("installation.kubernetes-version", treatment);
        }
    }

    /// Reports the fields of one TCP under `prefix`, each as `treat` says.
    pub fn tcp(
        &mut self,
        prefix: &str,
        tcp: &TenantControlPlane,
        treat: impl Fn(TcpField) -> Treatment,
    ) {
        self.tcps(prefix, core::slice::from_ref(tcp), treat);
    }

    /// Reports, once each, the fields present in any of `tcps`.
    pub fn tcps(
        &mut self,
        prefix: &str,
        tcps: &[TenantControlPlane],
        treat: impl Fn(TcpField) -> Treatment,
    ) {
        for field in TcpField::ALL {
            if tcps.iter().any(|tcp| field.is_present(tcp)) {
                self.push(&format!("{prefix}.{}", field.wit_name()), treat(field));
            }
        }
    }

    /// Reports the fleet's DataStores: only counts by driver are sent.
    pub fn data_stores(&mut self, stores: &[DataStore]) {
        let any = |present: fn(&DataStore) -> bool| stores.iter().any(present);
        if any(|store| !store.name.is_empty()) {
            self.push(
                "fleet.data-stores[].name",
                Treatment::Dropped(DATA_STORE_NAME),
            );
        }
        if any(|store| Driver::parse(&store.driver).is_some()) {
            let reason = "Only counted, under the driver's key in datastores.";
            self.push("fleet.data-stores[].driver", Treatment::Normalised(reason));
        }
        if any(|store| store.used_by_count > 0) {
            let reason = "Only the number of entries is sent, as used_by_count, since each entry \
                          names a tenant control plane.";
            self.push("fleet.data-stores[].used-by", Treatment::Normalised(reason));
        }
        if any(|store| Driver::parse(&store.driver).is_none()) {
            let reason = "A DataStore whose driver is not etcd, PostgreSQL, MySQL or NATS is not \
                          counted, since the wire format has no key for it.";
            self.push("fleet.data-stores[]", Treatment::Dropped(reason));
        }
    }

    pub fn into_entries(self) -> Vec<Redaction> {
        self.0
    }

    fn push(&mut self, field: &str, treatment: Treatment) {
        let (action, reason) = match treatment {
            Treatment::Kept => return,
            Treatment::Dropped(reason) => (RedactionAction::Dropped, reason),
            Treatment::Normalised(reason) => (RedactionAction::Normalised, reason),
            Treatment::Pseudonymised(reason) => (RedactionAction::Pseudonymised, reason),
        };
        self.0.push(Redaction {
            field: field.into(),
            action,
            reason: reason.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fixtures::{data_store, identified_tcp, tcp};

    fn fields(report: Report) -> Vec<String> {
        report.into_entries().into_iter().map(|r| r.field).collect()
    }

    #[test]
    fn verbatim_values_are_not_reported() {
        let release = KubernetesVersion::parse("v1.30.2");
        assert_eq!(
            Treatment::kubernetes_version("v1.30.2", release),
            Treatment::Kept
        );
        assert_eq!(
            Treatment::kamaji_version("edge-25.4.1", KamajiVersion::parse("edge-25.4.1")),
            Treatment::Kept
        );
        assert_eq!(
            Treatment::status("Ready", TcpStatus::Ready),
            Treatment::Kept
        );
    }

    #[test]
    fn a_value_is_verbatim_only_when_written_exactly_as_the_input() {
        assert!(displays_as(&"v1.30.2", "v1.30.2"));
        assert!(!displays_as(&"v1.30.2", "v1.30.20"));
        assert!(!displays_as(&"v1.30.2", "v1.30"));
        assert!(!displays_as(&"", "v1"));
    }

    #[test]
    fn changed_values_are_normalised_with_the_matching_reason() {
        let reduced = Treatment::kubernetes_version("1.30.2", KubernetesVersion::parse("1.30.2"));
        assert!(matches!(reduced, Treatment::Normalised(r) if r.starts_with("Reduced")));
        let unknown = Treatment::kubernetes_version("latest", KubernetesVersion::Unknown);
        assert!(matches!(unknown, Treatment::Normalised(r) if r.contains("sent as Unknown")));
        let status = Treatment::status("Degraded", TcpStatus::Unknown);
        assert!(matches!(status, Treatment::Normalised(r) if r.contains("nine status values")));
    }

    #[test]
    fn every_tcp_field_is_reported_once_in_wit_order_when_present() {
        let mut report = Report::default();
        report.tcp("tenant-control-plane", &identified_tcp(), |field| {
            Treatment::Dropped(field.drop_reason())
        });
        let expected: Vec<_> = TcpField::ALL
            .iter()
            .map(|f| format!("tenant-control-plane.{}", f.wit_name()))
            .collect();
        assert_eq!(fields(report), expected);
    }

    #[test]
    fn absent_fields_are_not_reported() {
        let mut report = Report::default();
        let empty = TenantControlPlane {
            desired_version: Some(String::new()),
            ..tcp()
        };
        report.tcp("tenant-control-plane", &empty, |f| {
            Treatment::Dropped(f.drop_reason())
        });
        report.data_stores(&[]);
        assert!(fields(report).is_empty());
    }

    #[test]
    fn list_elements_are_reported_once_for_the_whole_list() {
        let mut report = Report::default();
        let named = TenantControlPlane {
            name: "k8s-133".into(),
            ..tcp()
        };
        report.tcps(
            "fleet.tenant-control-planes[]",
            &[named.clone(), tcp(), named],
            |f| Treatment::Dropped(f.drop_reason()),
        );
        assert_eq!(fields(report), ["fleet.tenant-control-planes[].name"]);
    }

    #[test]
    fn uncounted_data_stores_are_reported() {
        let mut report = Report::default();
        report.data_stores(&[data_store("etcd", 1), data_store("CockroachDB", 0)]);
        let entries = report.into_entries();
        let uncounted = entries.iter().find(|r| r.field == "fleet.data-stores[]");
        assert!(uncounted.is_some_and(
            |r| r.action == RedactionAction::Dropped && r.reason.contains("is not counted")
        ));
        let fields: Vec<_> = entries.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "fleet.data-stores[].name",
                "fleet.data-stores[].driver",
                "fleet.data-stores[].used-by",
                "fleet.data-stores[]"
            ]
        );
    }
}
