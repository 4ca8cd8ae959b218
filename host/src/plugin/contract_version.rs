//! The versions of the plugin contract this host speaks, and how a
//! version a plugin offers is matched to one of them.

use std::fmt;

/// The interface a plugin exports, without its version.
pub const PLUGIN_INTERFACE: &str = "kamaji:telemetry/plugin";

/// A version of the contract, as its WIT package names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContractVersion {
    V0_1_0,
    V0_2_0,
}

impl ContractVersion {
    /// Every version this host loads, oldest first.
    pub const SUPPORTED: [ContractVersion; 2] = [ContractVersion::V0_1_0, ContractVersion::V0_2_0];

    /// The newest: what new plugins, and `plugin push`, are made for.
    pub const LATEST: ContractVersion = ContractVersion::V0_2_0;

    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V0_1_0 => "0.1.0",
            ContractVersion::V0_2_0 => "0.2.0",
        }
    }

    /// The supported version that a plugin exporting `version` was built
    /// for, by the component model's semver rule: below 1.0 the minor version
    /// is the breaking one, so a 0.2.3 plugin speaks 0.2.0.
    pub fn compatible_with(version: &str) -> Option<ContractVersion> {
        let version = semver::Version::parse(version).ok()?;
        Self::SUPPORTED.into_iter().find(|supported| {
            let host = semver::Version::parse(supported.as_str()).expect("a valid version");
            if host.major == 0 {
                version.major == 0 && version.minor == host.minor
            } else {
                version.major == host.major
            }
        })
    }

    /// The versions this host speaks, as messages list them.
    pub fn supported_list() -> String {
        Self::SUPPORTED.map(ContractVersion::as_str).join(", ")
    }
}

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_component_model_semver() {
        assert_eq!(
            ContractVersion::compatible_with("0.1.7"),
            Some(ContractVersion::V0_1_0)
        );
        assert_eq!(
            ContractVersion::compatible_with("0.2.0"),
            Some(ContractVersion::V0_2_0)
        );
        assert_eq!(ContractVersion::compatible_with("0.3.0"), None);
        assert_eq!(ContractVersion::compatible_with("1.2.0"), None);
        assert_eq!(ContractVersion::compatible_with("garbage"), None);
    }
}
