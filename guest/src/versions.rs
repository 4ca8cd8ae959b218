//! Version normalisers: a version leaves the cluster as its numbers only.
//!
//! Raw version strings say more than the release: managed Kubernetes appends
//! the provider and a build id (`-eks-5e0fdde`, `-gke.1785003`, `+k3s1`,
//! `-akslts`), which narrows an installation down to a platform and a build.
//! Both normalisers parse the numbers and *re-render* them, so no byte of a raw
//! string reaches a body, and whatever they cannot parse becomes `Unknown`.

use core::fmt;

/// The wire's word for a value that is absent or not in a recognised shape.
/// Kamaji itself sends it for a Kubernetes version it could not read.
pub const UNKNOWN: &str = "Unknown";

/// The most digits one numeric part may have. Real parts have at most three
/// (`v1.31.100`); four leave headroom, while a hostile `v1.99999999999999.0`
/// is refused rather than sent.
const MAX_DIGITS: usize = 4;

/// Three bounded numbers, `MAJOR.MINOR.PATCH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Triple {
    major: u16,
    minor: u16,
    patch: u16,
}

impl Triple {
    /// Parses exactly `MAJOR.MINOR.PATCH`: three parts, nothing around them.
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let triple = Self {
            major: number(parts.next()?)?,
            minor: number(parts.next()?)?,
            patch: number(parts.next()?)?,
        };
        parts.next().is_none().then_some(triple)
    }
}

impl fmt::Display for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Parses one numeric part: ASCII digits only, at most [`MAX_DIGITS`], and no
/// leading zero (semver's rule), so every accepted spelling re-renders to
/// itself and a version has exactly one way to be sent.
fn number(text: &str) -> Option<u16> {
    let canonical = !text.is_empty()
        && text.len() <= MAX_DIGITS
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// A Kubernetes version as it is sent: `vMAJOR.MINOR.PATCH`, or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubernetesVersion {
    Release(Triple),
    Unknown,
}

impl KubernetesVersion {
    /// Normalises a raw `GitVersion` or `spec.kubernetes.version`.
    ///
    /// The release ends at the first `-` or `+`, semver's pre-release and
    /// build separators, which is where every provider puts its suffix. A
    /// pre-release (`v1.31.0-rc.1`) is therefore sent as its release too: by
    /// shape it cannot be told from a provider suffix.
    ///
    /// A missing leading `v` is tolerated (`1.30.2` is sent as `v1.30.2`): it
    /// spells the same release, `spec.kubernetes.version` is typed by hand,
    /// and since the output is re-rendered nothing of the input leaks.
    pub fn parse(raw: &str) -> Self {
        let unprefixed = raw.strip_prefix('v').unwrap_or(raw);
        let release = unprefixed.split(['-', '+']).next().unwrap_or_default();
        Triple::parse(release).map_or(Self::Unknown, Self::Release)
    }

    /// Normalises an optional version field; an absent one is `Unknown`, as
    /// the backend rejects an empty required field.
    pub fn parse_optional(raw: Option<&str>) -> Self {
        Self::parse(raw.unwrap_or_default())
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Release(triple) => write!(f, "v{triple}"),
            Self::Unknown => f.write_str(UNKNOWN),
        }
    }
}

/// A Kamaji build version as it is sent: one of its known shapes, or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KamajiVersion {
    /// `vX.Y.Z`, a release tag.
    Release(Triple),
    /// `edge-YY.M.N`: year, month and build of an edge release.
    Edge(Triple),
    /// `dev`, what Kamaji reports when its version was not set at build time.
    Dev,
    Unknown,
}

impl KamajiVersion {
    /// Keeps a Kamaji version only when it is exactly one of the known shapes.
    ///
    /// Unlike Kubernetes versions nothing is stripped: a suffix here (say
    /// `v1.0.0-12-gabc1234` from `git describe`) marks a custom build, which
    /// must not be passed off as the release, and it names a commit.
    pub fn parse(raw: &str) -> Self {
        if raw == "dev" {
            return Self::Dev;
        }
        let parsed = match raw.strip_prefix("edge-") {
            Some(edge) => Triple::parse(edge).filter(is_edge_date).map(Self::Edge),
            None => raw
                .strip_prefix('v')
                .and_then(Triple::parse)
                .map(Self::Release),
        };
        parsed.unwrap_or(Self::Unknown)
    }
}

/// Edge builds are named after a two-digit year and a month.
fn is_edge_date(triple: &Triple) -> bool {
    (10..=99).contains(&triple.major) && (1..=12).contains(&triple.minor)
}

impl fmt::Display for KamajiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Release(triple) => write!(f, "v{triple}"),
            Self::Edge(triple) => write!(f, "edge-{triple}"),
            Self::Dev => f.write_str("dev"),
            Self::Unknown => f.write_str(UNKNOWN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubernetes(raw: &str) -> String {
        KubernetesVersion::parse(raw).to_string()
    }

    fn kamaji(raw: &str) -> String {
        KamajiVersion::parse(raw).to_string()
    }

    #[test]
    fn kubernetes_provider_and_build_suffixes_are_removed() {
        for (raw, sent) in [
            ("v1.27.3", "v1.27.3"),
            ("v1.26.12-eks-5e0fdde", "v1.26.12"),
            ("v1.32.3-gke.1785003", "v1.32.3"),
            ("v1.28.2+k3s1", "v1.28.2"),
            ("v1.31.100-akslts", "v1.31.100"),
            ("v1.29.4+rke2r1", "v1.29.4"),
            ("v1.31.0-rc.1", "v1.31.0"),
            ("v1.30.0-", "v1.30.0"),
        ] {
            assert_eq!(kubernetes(raw), sent, "{raw}");
        }
    }

    #[test]
    fn kubernetes_missing_v_is_tolerated_and_added() {
        assert_eq!(kubernetes("1.30.2"), "v1.30.2");
        assert_eq!(kubernetes("0.0.0"), "v0.0.0");
    }

    #[test]
    fn kubernetes_unparseable_is_unknown() {
        for raw in [
            "",
            "v",
            "Unknown",
            "latest",
            "v1.30",
            "v1.30.2.1",
            "v1..2",
            "vv1.30.2",
            "V1.30.2",
            " v1.30.2",
            "v1.30.2 ",
            "v1.030.2",
            "v01.30.2",
            "v1.30.x",
            "v1.30.+2",
            "v1.-30.2",
            "-v1.30.2",
            "eks-v1.30.2",
            "v١.٣٠.٢",
            "v1.30.2\u{0}",
            "10.0.0.1",
            "v99999999999999999999999.0.0",
        ] {
            assert_eq!(kubernetes(raw), UNKNOWN, "{raw:?}");
        }
    }

    #[test]
    fn numeric_parts_are_bounded() {
        assert_eq!(kubernetes("v9999.9999.9999"), "v9999.9999.9999");
        assert_eq!(kubernetes("v10000.0.0"), UNKNOWN);
        assert_eq!(kubernetes("v1.0.10000"), UNKNOWN);
    }

    #[test]
    fn optional_kubernetes_version_absent_is_unknown() {
        assert_eq!(KubernetesVersion::parse_optional(None).to_string(), UNKNOWN);
        assert_eq!(
            KubernetesVersion::parse_optional(Some("v1.2.3-x")).to_string(),
            "v1.2.3"
        );
    }

    #[test]
    fn kamaji_known_shapes_are_kept_as_they_are() {
        for raw in ["v1.0.0", "v0.6.1", "edge-25.4.1", "edge-24.12.10", "dev"] {
            assert_eq!(kamaji(raw), raw);
        }
    }

    #[test]
    fn kamaji_anything_else_is_unknown() {
        for raw in [
            "",
            "1.0.0",
            "v1.0",
            "v1.0.0-rc1",
            "v1.0.0-12-gabc1234",
            "v1.0.0+dirty",
            "edge-25.4",
            "edge-2025.4.1",
            "edge-25.13.1",
            "edge-25.0.1",
            "edge-5.4.1",
            "edge-25.04.1",
            "edge-25.4.1-abc",
            "Dev",
            "dev-build",
            "main",
            "v10000.0.0",
        ] {
            assert_eq!(kamaji(raw), UNKNOWN, "{raw:?}");
        }
    }
}
