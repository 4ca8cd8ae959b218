//! Kamaji's closed set of TenantControlPlane status values.
//!
//! The host passes `status.kubernetesResources.version.status` raw, and an
//! object can hold any string there. Only the nine values Kamaji defines can
//! be sent; anything else is `Unknown`, so no free text rides along.

use core::fmt;

/// A TCP status as it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpStatus {
    Unknown,
    Provisioning,
    CertificateAuthorityRotating,
    Upgrading,
    Migrating,
    Ready,
    NotReady,
    Sleeping,
    WriteLimited,
}

impl TcpStatus {
    pub const ALL: [Self; 9] = [
        Self::Unknown,
        Self::Provisioning,
        Self::CertificateAuthorityRotating,
        Self::Upgrading,
        Self::Migrating,
        Self::Ready,
        Self::NotReady,
        Self::Sleeping,
        Self::WriteLimited,
    ];

    /// Kamaji's spelling, which is also the wire's.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "Unknown",
            Self::Provisioning => "Provisioning",
            Self::CertificateAuthorityRotating => "CertificateAuthorityRotating",
            Self::Upgrading => "Upgrading",
            Self::Migrating => "Migrating",
            Self::Ready => "Ready",
            Self::NotReady => "NotReady",
            Self::Sleeping => "Sleeping",
            Self::WriteLimited => "WriteLimited",
        }
    }

    /// Maps a raw status onto the set; absent or unrecognised is `Unknown`,
    /// as in Kamaji. The match is exact, like Kamaji's own comparisons.
    pub fn parse(raw: Option<&str>) -> Self {
        raw.and_then(|raw| Self::ALL.into_iter().find(|s| s.as_str() == raw))
            .unwrap_or(Self::Unknown)
    }
}

impl fmt::Display for TcpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamaji_values_map_to_themselves() {
        for status in TcpStatus::ALL {
            assert_eq!(TcpStatus::parse(Some(status.as_str())), status);
        }
    }

    #[test]
    fn absent_or_free_text_is_unknown() {
        for raw in [
            None,
            Some(""),
            Some("ready"),
            Some("Ready "),
            Some("Degraded: db.example.com"),
        ] {
            assert_eq!(TcpStatus::parse(raw), TcpStatus::Unknown, "{raw:?}");
        }
    }
}
