//! The heartbeat's counts, by Kamaji's rules: TCPs by status bucket and
//! DataStores by driver. Only numbers leave; which object was counted does not.
//!
//! The counts cannot overflow: each is at most the total length of lists that
//! the host passed in, which fit in memory.

use crate::status::TcpStatus;
use crate::wire::{DatastoreCounts, Datastores, TcpCounts};
use crate::{DataStore, TenantControlPlane};

/// The four buckets the heartbeat counts TCPs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Running,
    Upgrading,
    NotReady,
    Sleeping,
}

impl Bucket {
    pub const ALL: [Self; 4] = [
        Self::Running,
        Self::Upgrading,
        Self::NotReady,
        Self::Sleeping,
    ];

    /// Kamaji's rule: three statuses have a bucket of their own, and every
    /// other TCP (ready, provisioning, unknown or without a status) is counted
    /// as running.
    pub fn of(status: TcpStatus) -> Self {
        match status {
            TcpStatus::Sleeping => Self::Sleeping,
            TcpStatus::NotReady => Self::NotReady,
            TcpStatus::Upgrading => Self::Upgrading,
            _ => Self::Running,
        }
    }

    /// The key under `tenant_control_plane`.
    pub fn wire_key(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Upgrading => "upgrading",
            Self::NotReady => "not_ready",
            Self::Sleeping => "sleeping",
        }
    }

    fn slot(self, counts: &mut TcpCounts) -> &mut usize {
        match self {
            Self::Running => &mut counts.running,
            Self::Upgrading => &mut counts.upgrading,
            Self::NotReady => &mut counts.not_ready,
            Self::Sleeping => &mut counts.sleeping,
        }
    }
}

/// The DataStore drivers the wire format has a key for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Etcd,
    PostgreSql,
    MySql,
    Nats,
}

impl Driver {
    pub const ALL: [Self; 4] = [Self::Etcd, Self::PostgreSql, Self::MySql, Self::Nats];

    /// The `spec.driver` value, exactly as Kamaji spells it.
    pub fn spec_name(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::PostgreSql => "PostgreSQL",
            Self::MySql => "MySQL",
            Self::Nats => "NATS",
        }
    }

    /// The key under `datastores`.
    pub fn wire_key(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::PostgreSql => "postgres",
            Self::MySql => "mysql",
            Self::Nats => "nats",
        }
    }

    /// The driver of a raw `spec.driver`, matched exactly as Kamaji does;
    /// `None` for a driver the wire format cannot count.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.spec_name() == raw)
    }

    fn slot(self, counts: &mut Datastores) -> &mut DatastoreCounts {
        match self {
            Self::Etcd => &mut counts.etcd,
            Self::PostgreSql => &mut counts.postgres,
            Self::MySql => &mut counts.mysql,
            Self::Nats => &mut counts.nats,
        }
    }
}

/// Counts TCPs by the bucket of their status.
pub fn count_tcps(tcps: &[TenantControlPlane]) -> TcpCounts {
    let mut counts = TcpCounts::default();
    for tcp in tcps {
        *Bucket::of(TcpStatus::parse(tcp.status.as_deref())).slot(&mut counts) += 1;
    }
    counts
}

/// Counts DataStores, and the TCPs using them, by driver. A DataStore with
/// any other driver is skipped: the wire format has no key for it, and
/// inventing one would break the backend's decoding.
pub fn count_data_stores(stores: &[DataStore]) -> Datastores {
    let mut counts = Datastores::default();
    for store in stores {
        if let Some(driver) = Driver::parse(&store.driver) {
            let slot = driver.slot(&mut counts);
            slot.count += 1;
            slot.used_by_count += store.used_by_count as usize;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fixtures::{data_store, tcp};

    fn with_status(status: Option<&str>) -> TenantControlPlane {
        TenantControlPlane {
            status: status.map(Into::into),
            ..tcp()
        }
    }

    #[test]
    fn tcps_are_counted_by_status_bucket() {
        let statuses = [
            Some("Sleeping"),
            Some("NotReady"),
            Some("NotReady"),
            Some("Upgrading"),
            Some("Ready"),
            Some("Provisioning"),
            Some("CertificateAuthorityRotating"),
            Some("Migrating"),
            Some("WriteLimited"),
            Some("Unknown"),
            Some("sleeping"),
            Some("anything at all"),
            None,
        ];
        let counts = count_tcps(&statuses.map(with_status));
        assert_eq!(
            (
                counts.running,
                counts.upgrading,
                counts.not_ready,
                counts.sleeping
            ),
            (9, 1, 2, 1)
        );
    }

    #[test]
    fn no_tcps_count_zero() {
        let counts = count_tcps(&[]);
        assert_eq!(
            (
                counts.running,
                counts.upgrading,
                counts.not_ready,
                counts.sleeping
            ),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn data_stores_are_counted_by_driver_with_their_users() {
        let counts = count_data_stores(&[
            data_store("etcd", 2),
            data_store("etcd", 0),
            data_store("PostgreSQL", 3),
            data_store("MySQL", 1),
            data_store("NATS", 4),
            data_store("NATS", 1),
        ]);
        let pairs = [counts.etcd, counts.postgres, counts.mysql, counts.nats]
            .map(|c| (c.count, c.used_by_count));
        assert_eq!(pairs, [(2, 2), (1, 3), (1, 1), (2, 5)]);
    }

    #[test]
    fn unknown_drivers_are_not_counted() {
        let counts = count_data_stores(&[
            data_store("postgres", 5),
            data_store("Etcd", 1),
            data_store("", 1),
            data_store("CockroachDB", 2),
        ]);
        let totals = [counts.etcd, counts.postgres, counts.mysql, counts.nats]
            .map(|c| (c.count, c.used_by_count));
        assert_eq!(totals, [(0, 0); 4]);
    }

    #[test]
    fn wire_keys_and_spec_names() {
        let drivers = Driver::ALL.map(|d| (d.spec_name(), d.wire_key()));
        assert_eq!(
            drivers,
            [
                ("etcd", "etcd"),
                ("PostgreSQL", "postgres"),
                ("MySQL", "mysql"),
                ("NATS", "nats")
            ]
        );
        assert_eq!(
            Bucket::ALL.map(Bucket::wire_key),
            ["running", "upgrading", "not_ready", "sleeping"]
        );
    }
}
