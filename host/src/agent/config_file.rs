//! The agent's `--config` file, read again whenever it changes: today it holds
//! the runtime opt-out, `disabled: true`.
//!
//! A file whose name ends in `.toml` is TOML; any other is YAML (so JSON too).
//! Unknown keys are refused: `disable: true` must not look like an opt-out
//! that silently does nothing.
//!
//! Only a complete, valid file changes the state. A file that is being
//! rewritten in place is empty, or holds half of its text, for a moment: an
//! empty file (or one of comments alone) is refused like an invalid one, and
//! a half-written `disabled: true` (`disabled:`, `disabled: t`) does not
//! parse, so neither can turn telemetry on for that moment. `{}` (a complete
//! mapping without the key) is telemetry on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::metrics::Metrics;
use super::switch::Switch;
use super::watch::FileWatch;
use crate::optout::{OptOut, RuntimeSource, Verdict};

/// What the file says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Telemetry off while true. It can only turn telemetry off: the
    /// `--disable-telemetry` flag and the environment opt-outs win over it.
    #[serde(default)]
    pub disabled: bool,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

impl RuntimeConfig {
    /// Parses the file's content. One that holds no setting at all (empty,
    /// or comments alone) is an error: it may be a file caught mid-write.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, ConfigFileError> {
        let error = |reason: String| ConfigFileError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| error(format!("not UTF-8: {e}")))?;
        if holds_no_setting(text) {
            return Err(error(
                "it holds no setting (write `disabled: false` or `disabled: true`)".into(),
            ));
        }
        if path.extension().is_some_and(|ext| ext == "toml") {
            toml::from_str(text).map_err(|e| error(e.to_string()))
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| error(e.to_string()))
        }
    }
}

/// Blank lines and `#` comments alone: what YAML and TOML read as empty.
fn holds_no_setting(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    })
}

/// The config file as a runtime opt-out source, read at start: an unusable
/// file stops the start.
pub struct RuntimeOptOut {
    path: PathBuf,
    bytes: Vec<u8>,
    /// What the file says at start.
    pub initial: Verdict,
}

impl RuntimeOptOut {
    pub async fn open(path: &Path) -> Result<Self, ConfigFileError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| ConfigFileError::Read {
                path: path.to_owned(),
                source,
            })?;
        let initial = verdict(path, RuntimeConfig::parse(path, &bytes)?);
        Ok(Self {
            path: path.to_owned(),
            bytes,
            initial,
        })
    }

    /// What notices the file's changes from here on, and what applies them.
    pub fn follow(self, switch: Arc<Switch>, metrics: Arc<Metrics>) -> (FileWatch, ConfigFollower) {
        let watch = FileWatch::new(&self.path, &self.bytes);
        let follower = ConfigFollower {
            path: self.path,
            switch,
            metrics,
        };
        (watch, follower)
    }
}

/// Hands each new content of the file to the switch.
pub struct ConfigFollower {
    path: PathBuf,
    switch: Arc<Switch>,
    metrics: Arc<Metrics>,
}

impl ConfigFollower {
    /// Reads the file's new content. An invalid file changes nothing: the
    /// state it last asked for stays, and the error is logged and counted.
    pub fn apply(&self, bytes: &[u8]) {
        match RuntimeConfig::parse(&self.path, bytes) {
            Ok(config) => {
                self.metrics.config_reload(true);
                self.switch
                    .set(RuntimeSource::ConfigFile, verdict(&self.path, config));
            }
            Err(error) => {
                self.metrics.config_reload(false);
                let state = if self.switch.is_on() { "on" } else { "off" };
                tracing::error!("{error}; telemetry stays {state}");
            }
        }
    }
}

fn verdict(path: &Path, config: RuntimeConfig) -> Verdict {
    if config.disabled {
        Verdict::OptsOut(OptOut::ConfigFile(path.display().to_string()))
    } else {
        Verdict::Allows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<RuntimeConfig, ConfigFileError> {
        RuntimeConfig::parse(Path::new(name), text.as_bytes())
    }

    #[test]
    fn yaml_json_and_toml_are_read() {
        assert!(parse("c.yaml", "disabled: true\n").expect("yaml").disabled);
        assert!(
            parse("c.json", r#"{"disabled": true}"#)
                .expect("json")
                .disabled
        );
        assert!(parse("c.toml", "disabled = true\n").expect("toml").disabled);
        assert!(
            !parse("c.toml", "disabled = false\n")
                .expect("toml")
                .disabled
        );
        assert!(!parse("c.yml", "disabled: false").expect("yaml").disabled);
    }

    #[test]
    fn a_file_without_a_setting_is_refused_but_an_empty_mapping_is_on() {
        for (name, text) in [
            ("c.yaml", ""),
            ("c.toml", " \n"),
            ("c.yaml", "# telemetry\n\n"),
            ("c.toml", "# disabled = true\n"),
        ] {
            let error = parse(name, text).expect_err(text);
            assert!(error.to_string().contains("no setting"), "{error}");
        }
        assert!(!parse("c.yaml", "{}").expect("empty map").disabled);
    }

    #[test]
    fn every_prefix_of_a_valid_file_is_refused_or_says_the_same() {
        for (name, full) in [
            ("c.yaml", "disabled: true\n"),
            ("c.json", "{\"disabled\": true}"),
            ("c.toml", "disabled = true\n"),
        ] {
            for end in 0..full.len() {
                let prefix = &full[..end];
                if let Ok(config) = parse(name, prefix) {
                    assert!(config.disabled, "{name}: {prefix:?} turns telemetry on");
                }
            }
        }
    }

    #[test]
    fn mistakes_are_errors_that_name_the_file() {
        for (name, text) in [
            ("c.yaml", "disable: true"),
            ("c.yaml", "disabled: maybe"),
            ("c.toml", "disabled: true"),
            ("c.yaml", "- disabled"),
        ] {
            let error = parse(name, text).expect_err(text);
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
