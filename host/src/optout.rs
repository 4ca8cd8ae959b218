//! The opt-out policy. Telemetry is off as soon as any one source says so,
//! and no source can turn it back on against another: the opt-out is absolute.
//!
//! Two kinds of source:
//! - absolute ones, read once at start: `--disable-telemetry` and the
//!   environment. Then `serve` loads, watches and sends nothing at all.
//! - runtime ones ([`RuntimeSource`]), followed while `serve` runs: its
//!   `--config` file and Kamaji's own `--disable-telemetry` on the Kamaji
//!   controller. Each gives a [`Verdict`]; telemetry is on only while every
//!   one of them allows it, and a source that cannot be read holds it off.

use std::fmt;

/// The environment variable of this project's own switch.
pub const DISABLED_ENV: &str = "KAMAJI_TELEMETRY_DISABLED";
/// The cross-tool convention (consoledonottrack.com).
pub const DO_NOT_TRACK_ENV: &str = "DO_NOT_TRACK";

/// What turned telemetry off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptOut {
    /// `--disable-telemetry` (or `=true`) on the command line.
    Flag,
    /// `KAMAJI_TELEMETRY_DISABLED` set to a true value.
    DisabledEnv(String),
    /// `DO_NOT_TRACK` set to anything but empty, `0` or `false`.
    DoNotTrack(String),
    /// `disabled: true` in the agent's config file.
    ConfigFile(String),
    /// Kamaji's own `--disable-telemetry` in the Kamaji controller's pod
    /// template: where, and how it is spelt.
    KamajiController(String),
}

impl OptOut {
    /// The source's name in metrics and logs.
    pub fn source(&self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::DisabledEnv(_) => "environment",
            Self::DoNotTrack(_) => "do-not-track",
            Self::ConfigFile(_) => RuntimeSource::ConfigFile.as_str(),
            Self::KamajiController(_) => RuntimeSource::KamajiController.as_str(),
        }
    }
}

/// The sources followed while `serve` runs, each of which can turn
/// telemetry off and, once it allows it again, back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuntimeSource {
    /// `disabled: true` in the `--config` file.
    ConfigFile,
    /// `--disable-telemetry` on the Kamaji controller (`--kamaji-deployment`).
    KamajiController,
}

impl RuntimeSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConfigFile => "config-file",
            Self::KamajiController => "kamaji-controller",
        }
    }
}

/// What one runtime source says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Telemetry may be on, as far as this source goes.
    Allows,
    /// The user opted out here.
    OptsOut(OptOut),
    /// The source cannot be read, so whether the user opted out is not
    /// known: telemetry stays off until it can be read. Why, for the logs.
    Unknown(String),
}

impl Verdict {
    pub fn allows(&self) -> bool {
        matches!(self, Self::Allows)
    }
}

impl fmt::Display for OptOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => write!(f, "--disable-telemetry"),
            Self::DisabledEnv(value) => write!(f, "{DISABLED_ENV}={value}"),
            Self::DoNotTrack(value) => write!(f, "{DO_NOT_TRACK_ENV}={value}"),
            Self::ConfigFile(path) => write!(f, "`disabled: true` in {path}"),
            Self::KamajiController(place) => write!(f, "{place}"),
        }
    }
}

/// Decides from the flag and the process environment.
pub fn from_process(flag: Option<bool>) -> Option<OptOut> {
    decide(flag, |name| std::env::var(name).ok())
}

/// Decides from the flag and an environment lookup. `--disable-telemetry=false`
/// is the same as no flag: it cannot override an environment opt-out.
pub fn decide(flag: Option<bool>, env: impl Fn(&str) -> Option<String>) -> Option<OptOut> {
    if flag == Some(true) {
        return Some(OptOut::Flag);
    }
    if let Some(value) = env(DISABLED_ENV).filter(|value| is_true(value)) {
        return Some(OptOut::DisabledEnv(value));
    }
    env(DO_NOT_TRACK_ENV)
        .filter(|value| do_not_track_is_set(value))
        .map(OptOut::DoNotTrack)
}

fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

/// The DO_NOT_TRACK convention: any value but empty, `0` or `false` opts out.
fn do_not_track_is_set(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn on_by_default() {
        assert_eq!(decide(None, env_of(&[])), None);
        assert_eq!(decide(Some(false), env_of(&[])), None);
    }

    #[test]
    fn the_flag_turns_it_off() {
        assert_eq!(decide(Some(true), env_of(&[])), Some(OptOut::Flag));
    }

    #[test]
    fn the_project_variable_turns_it_off_only_when_true() {
        let off = decide(None, env_of(&[(DISABLED_ENV, "true")]));
        assert_eq!(off, Some(OptOut::DisabledEnv("true".into())));
        assert!(decide(None, env_of(&[(DISABLED_ENV, "TRUE")])).is_some());
        assert_eq!(decide(None, env_of(&[(DISABLED_ENV, "false")])), None);
        assert_eq!(decide(None, env_of(&[(DISABLED_ENV, "")])), None);
    }

    #[test]
    fn do_not_track_follows_the_convention() {
        for value in ["1", "true", "yes", "anything"] {
            let off = decide(None, env_of(&[(DO_NOT_TRACK_ENV, value)]));
            assert_eq!(
                off,
                Some(OptOut::DoNotTrack(value.into())),
                "DO_NOT_TRACK={value}"
            );
        }
        for value in ["", "0", "false", "FALSE", " 0 "] {
            assert_eq!(
                decide(None, env_of(&[(DO_NOT_TRACK_ENV, value)])),
                None,
                "DO_NOT_TRACK={value:?}"
            );
        }
    }

    #[test]
    fn a_false_flag_does_not_override_the_environment() {
        let off = decide(Some(false), env_of(&[(DO_NOT_TRACK_ENV, "1")]));
        assert_eq!(off, Some(OptOut::DoNotTrack("1".into())));
        let off = decide(Some(false), env_of(&[(DISABLED_ENV, "true")]));
        assert_eq!(off, Some(OptOut::DisabledEnv("true".into())));
    }

    #[test]
    fn the_reason_names_its_source() {
        assert_eq!(OptOut::DoNotTrack("1".into()).to_string(), "DO_NOT_TRACK=1");
        assert_eq!(OptOut::Flag.to_string(), "--disable-telemetry");
    }
}
