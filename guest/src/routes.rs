//! From event to payload: one builder per route. Each fills its wire body and
//! its redaction report side by side, so that the report says exactly what
//! the builder did.

use crate::fleet::{count_data_stores, count_tcps};
use crate::installation_id::InstallationId;
use crate::profile::{NetworkProfile, is_cluster_api};
use crate::redaction::{Report, TcpField, Treatment};
use crate::status::TcpStatus;
use crate::versions::{KamajiVersion, KubernetesVersion};
use crate::wire::{Create, Delete, Platform, Stats, Update};
use crate::{
    Event, Fleet, Installation, Payload, PluginError, Route, TcpUpdate, TenantControlPlane,
};
use serde::Serialize;

/// Report paths of the TCP fields, per event.
const TCP: &str = "tenant-control-plane";
const PREVIOUS: &str = "tcp-update.previous";
const CURRENT: &str = "tcp-update.current";
const FLEET_TCPS: &str = "fleet.tenant-control-planes[]";

/// Routes an event: heartbeat to `stats`, created to `create`, updated to
/// `update` (only for a version change), deleted to `delete`.
pub fn build(installation: &Installation, event: &Event) -> Result<Option<Payload>, PluginError> {
    let mut report = Report::default();
    let (route, body) = match event {
        Event::Heartbeat(fleet) => (
            Route::Stats,
            encode(&stats(installation, fleet, &mut report)?),
        ),
        Event::Created(tcp) => (
            Route::Create,
            encode(&create(installation, tcp, &mut report)),
        ),
        Event::Updated(change) => match update(installation, change, &mut report) {
            Some(body) => (Route::Update, encode(&body)),
            None => return Ok(None),
        },
        Event::Deleted(tcp) => (
            Route::Delete,
            encode(&delete(installation, tcp, &mut report)),
        ),
    };
    Ok(Some(Payload {
        route,
        body: body?,
        redactions: report.into_entries(),
    }))
}

/// Encodes a body. The bodies hold no maps and no floats, so this cannot
/// fail; should it ever, the host gets an error rather than a trap.
fn encode(body: &impl Serialize) -> Result<String, PluginError> {
    serde_json::to_string(body)
        .map_err(|error| PluginError::Internal(format!("could not encode the body: {error}")))
}

/// The versions every body starts with, and their report entries.
fn platform(installation: &Installation, cluster_uid: Treatment, report: &mut Report) -> Platform {
    let platform = Platform {
        kamaji_version: KamajiVersion::parse(&installation.kamaji_version),
        kubernetes_version: KubernetesVersion::parse(&installation.kubernetes_version),
    };
    report.installation(installation, &platform, cluster_uid);
    platform
}

/// Event payloads carry no installation id, as in Kamaji's format.
const NO_ID_ON_EVENTS: Treatment = Treatment::Dropped(
    "Event payloads carry no installation id in Kamaji's wire format, so events cannot be \
     linked to an installation.",
);

fn stats(
    installation: &Installation,
    fleet: &Fleet,
    report: &mut Report,
) -> Result<Stats, PluginError> {
    let uuid = InstallationId::derive(&installation.cluster_uid)
        .map_err(|reason| PluginError::MalformedInput(reason.into()))?;
    let pseudonymised = Treatment::Pseudonymised(
        "Replaced by a name-based UUID (v5) of it, which keeps installations countable but \
         matches no other product's identifier for the cluster.",
    );
    let platform = platform(installation, pseudonymised, report);
    report.tcps(
        FLEET_TCPS,
        &fleet.tenant_control_planes,
        |field| match field {
            TcpField::Status => Treatment::Normalised(
                "Only counted, in one of the four buckets under tenant_control_plane.",
            ),
            _ => Treatment::Dropped(field.drop_reason()),
        },
    );
    report.data_stores(&fleet.data_stores);
    Ok(Stats {
        uuid,
        platform,
        tenant_control_plane: count_tcps(&fleet.tenant_control_planes),
        datastores: count_data_stores(&fleet.data_stores),
    })
}

fn create(installation: &Installation, tcp: &TenantControlPlane, report: &mut Report) -> Create {
    let desired = tcp.desired_version.as_deref();
    let body = Create {
        platform: platform(installation, NO_ID_ON_EVENTS, report),
        tcp_version: KubernetesVersion::parse_optional(desired),
        cluster_api: is_cluster_api(tcp),
        network_profile: NetworkProfile::of(tcp),
    };
    report.tcp(TCP, tcp, |field| match field {
        TcpField::DesiredVersion => {
            Treatment::kubernetes_version(desired.unwrap_or_default(), body.tcp_version)
        }
        TcpField::OwnerReferences => Treatment::Normalised(
            "Reduced to cluster_api, whether any owner is a KamajiControlPlane; owner names and \
             UIDs are not sent.",
        ),
        TcpField::Ingress => Treatment::Normalised(
            "Reduced to network_profile ingress; its hostname and class name are not sent.",
        ),
        TcpField::ServiceType if tcp.ingress.is_some() => {
            Treatment::Dropped("Not used, since an ingress decides network_profile first.")
        }
        TcpField::ServiceType => {
            Treatment::Normalised("Mapped onto network_profile, one of a fixed set of values.")
        }
        _ => Treatment::Dropped(field.drop_reason()),
    });
    body
}

/// Builds an update only when the Kubernetes version asked for changes.
///
/// Kamaji sends one on every UPDATE admission (status churn, label edits),
/// although the update event is documented as the version upgrade; those are
/// noise, and their old version is often empty, which the backend rejects.
/// The versions are compared normalised, so a provider suffix change alone
/// (which could not be told apart on the wire) is not an upgrade.
fn update(installation: &Installation, change: &TcpUpdate, report: &mut Report) -> Option<Update> {
    let TcpUpdate { previous, current } = change;
    let current_desired = current.desired_version.as_deref();
    let new = KubernetesVersion::parse_optional(current_desired);
    if new == KubernetesVersion::parse_optional(previous.desired_version.as_deref()) {
        return None;
    }
    // Kamaji sends the installed version. A TCP that never finished
    // provisioning has none, so the version asked for before stands in rather
    // than an empty field the backend would reject.
    let (old_field, old_raw) = match previous.installed_version.as_deref() {
        Some(installed) if !installed.is_empty() => (TcpField::InstalledVersion, installed),
        _ => (
            TcpField::DesiredVersion,
            previous.desired_version.as_deref().unwrap_or_default(),
        ),
    };
    let body = Update {
        platform: platform(installation, NO_ID_ON_EVENTS, report),
        old_tcp_version: KubernetesVersion::parse(old_raw),
        new_tcp_version: new,
    };
    report.tcp(PREVIOUS, previous, |field| match field {
        _ if field == old_field => Treatment::kubernetes_version(old_raw, body.old_tcp_version),
        TcpField::DesiredVersion => Treatment::Dropped(
            "Only compared with the current desired version, to tell an upgrade from other \
             changes.",
        ),
        _ => Treatment::Dropped(field.drop_reason()),
    });
    report.tcp(CURRENT, current, |field| match field {
        TcpField::DesiredVersion => {
            Treatment::kubernetes_version(current_desired.unwrap_or_default(), new)
        }
        _ => Treatment::Dropped(field.drop_reason()),
    });
    Some(body)
}

fn delete(installation: &Installation, tcp: &TenantControlPlane, report: &mut Report) -> Delete {
    let (desired, status) = (tcp.desired_version.as_deref(), tcp.status.as_deref());
    let body = Delete {
        platform: platform(installation, NO_ID_ON_EVENTS, report),
        tcp_version: KubernetesVersion::parse_optional(desired),
        status: TcpStatus::parse(status),
    };
    report.tcp(TCP, tcp, |field| match field {
        TcpField::DesiredVersion => {
            Treatment::kubernetes_version(desired.unwrap_or_default(), body.tcp_version)
        }
        TcpField::Status => Treatment::status(status.unwrap_or_default(), body.status),
        _ => Treatment::Dropped(field.drop_reason()),
    });
    body
}
