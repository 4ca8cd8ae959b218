//! Kamaji's own opt-out: `--disable-telemetry` on the Kamaji controller,
//! which Kamaji's Helm chart adds for `--set telemetry.disabled=true`.
//!
//! The controller's Deployment (`--kamaji-deployment`) is watched, and each
//! state of it is read as a [`Verdict`]: the flag in any container's
//! `command` or `args` opts out; a Deployment that does not exist, or that
//! cannot be listed (403, API down), leaves the answer unknown. A watch that
//! breaks after the Deployment was read keeps the last answer while the
//! watcher resumes: nobody can change the Deployment while the API server is
//! out of reach, and a re-list that fails makes the answer unknown again.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use super::installation::{KamajiDeployment, advice};
use crate::optout::{OptOut, Verdict};

/// Kamaji's flag, as its controller and chart spell it.
const FLAG: &str = "disable-telemetry";

/// Follows the Deployment for as long as the future is polled, handing each
/// new verdict to `report` (the same verdict may come twice).
pub async fn follow(client: Client, deployment: KamajiDeployment, report: impl Fn(Verdict)) {
    let api = Api::<Deployment>::namespaced(client, &deployment.namespace);
    let states = watcher::watch_object(api, &deployment.name).default_backoff();
    futures::pin_mut!(states);
    while let Some(state) = states.next().await {
        match state {
            Ok(Some(object)) => report(verdict(&deployment, &object)),
            Ok(None) => report(Verdict::Unknown(format!(
                "the Kamaji controller's Deployment {deployment} does not exist \
                 (set --kamaji-deployment to it, or to `none` to run without Kamaji's switch)"
            ))),
            Err(watcher::Error::InitialListFailed(error)) => {
                let advice = advice(&error);
                report(Verdict::Unknown(format!(
                    "cannot read the Kamaji controller's Deployment {deployment}: {error}{advice}"
                )));
            }
            // The watcher resumes, or re-lists; the last verdict stands.
            Err(error) => tracing::debug!("the watch of {deployment} broke: {error}"),
        }
    }
}

/// What one state of the Deployment says about telemetry.
pub fn verdict(deployment: &KamajiDeployment, object: &Deployment) -> Verdict {
    let containers = object
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .map(|pod| pod.containers.as_slice())
        .unwrap_or_default();
    for container in containers {
        let argv = container.command.iter().chain(&container.args).flatten();
        match go_bool_flag(argv.map(String::as_str), FLAG) {
            Ok(Some(Setting { on: true, spelling })) => {
                return Verdict::OptsOut(OptOut::KamajiController(format!(
                    "`{spelling}` on the container {} of the Kamaji controller {deployment}",
                    container.name
                )));
            }
            Ok(_) => {}
            Err(spelling) => {
                return Verdict::Unknown(format!(
                    "the container {} of the Kamaji controller {deployment} has `{spelling}`, \
                     which is not a boolean (Kamaji would refuse it too)",
                    container.name
                ));
            }
        }
    }
    Verdict::Allows
}

/// A boolean flag's last setting on a command line.
#[derive(Debug, PartialEq, Eq)]
struct Setting<'a> {
    on: bool,
    spelling: &'a str,
}

/// The last setting of the boolean flag `name` among `argv`, read as Go's
/// `flag` and `pflag` packages read it: `-name` or `--name` alone is true,
/// `=value` is parsed by `strconv.ParseBool`, and a later setting wins.
/// Everything after `--` is an operand. An argument that holds whitespace
/// (a shell's `-c` script) is read word by word, so that the flag is not
/// missed there. `Err` holds a setting whose value is not a boolean.
fn go_bool_flag<'a>(
    argv: impl Iterator<Item = &'a str>,
    name: &str,
) -> Result<Option<Setting<'a>>, &'a str> {
    let mut last = None;
    for word in argv.flat_map(str::split_ascii_whitespace) {
        if word == "--" {
            break;
        }
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            continue;
        };
        let (flag_name, value) = match flag.split_once('=') {
            Some((flag_name, value)) => (flag_name, Some(value)),
            None => (flag, None),
        };
        if flag_name != name {
            continue;
        }
        let on = match value {
            None => true,
            Some(value) => parse_bool(value).ok_or(word)?,
        };
        last = Some(Setting { on, spelling: word });
    }
    Ok(last)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(argv: &[&'static str]) -> Result<Option<bool>, &'static str> {
        go_bool_flag(argv.iter().copied(), FLAG).map(|setting| setting.map(|s| s.on))
    }

    #[test]
    fn every_spelling_go_accepts() {
        for word in ["--disable-telemetry", "-disable-telemetry"] {
            assert_eq!(last(&[word]), Ok(Some(true)), "{word}");
        }
        for value in ["true", "1", "t", "T", "TRUE", "True"] {
            for dashes in ["-", "--"] {
                let word: &'static str = format!("{dashes}disable-telemetry={value}").leak();
                assert_eq!(last(&[word]), Ok(Some(true)), "{word}");
            }
        }
        for value in ["false", "0", "f", "F", "FALSE", "False"] {
            let word: &'static str = format!("--disable-telemetry={value}").leak();
            assert_eq!(last(&[word]), Ok(Some(false)), "{word}");
        }
    }

    #[test]
    fn the_last_setting_wins() {
        let on_then_off = ["--disable-telemetry", "--disable-telemetry=false"];
        assert_eq!(last(&on_then_off), Ok(Some(false)));
        let off_then_on = ["--disable-telemetry=false", "-disable-telemetry"];
        assert_eq!(last(&off_then_on), Ok(Some(true)));
    }

    #[test]
    fn other_flags_operands_and_absence_are_not_settings() {
        assert_eq!(last(&[]), Ok(None));
        assert_eq!(
            last(&["/manager", "--leader-elect", "--disable-telemetry-x"]),
            Ok(None)
        );
        assert_eq!(last(&["--", "--disable-telemetry"]), Ok(None));
        assert_eq!(last(&["disable-telemetry"]), Ok(None));
        assert_eq!(last(&["---disable-telemetry"]), Ok(None));
    }

    #[test]
    fn a_shell_script_is_read_word_by_word() {
        let argv = ["sh", "-c", "exec /manager --disable-telemetry"];
        assert_eq!(last(&argv), Ok(Some(true)));
    }

    #[test]
    fn a_value_that_is_not_a_boolean_is_an_error() {
        for word in [
            "--disable-telemetry=yes",
            "--disable-telemetry=",
            "-disable-telemetry=on",
        ] {
            assert_eq!(last(&[word]), Err(word), "{word}");
        }
    }

    fn kamaji(containers: serde_json::Value) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kamaji", "namespace": "kamaji-system"},
            "spec": {"selector": {}, "template": {"spec": {"containers": containers}}}
        }))
        .expect("a Deployment")
    }

    #[test]
    fn any_container_can_opt_out_and_says_where() {
        let deployment: KamajiDeployment = "kamaji-system/kamaji".parse().expect("parses");
        let allowed = kamaji(serde_json::json!([
            {"name": "manager", "command": ["/manager"], "args": ["--leader-elect"]}
        ]));
        assert_eq!(verdict(&deployment, &allowed), Verdict::Allows);
        let opted_out = kamaji(serde_json::json!([
            {"name": "manager", "args": ["--leader-elect"]},
            {"name": "sidecar", "command": ["/manager", "--disable-telemetry=True"]}
        ]));
        match verdict(&deployment, &opted_out) {
            Verdict::OptsOut(source) => {
                assert_eq!(source.source(), "kamaji-controller");
                let text = source.to_string();
                assert!(text.contains("--disable-telemetry=True"), "{text}");
                assert!(text.contains("sidecar"), "{text}");
                assert!(text.contains("kamaji-system/kamaji"), "{text}");
            }
            other => panic!("not an opt-out: {other:?}"),
        }
        let unreadable = kamaji(serde_json::json!([
            {"name": "manager", "args": ["--disable-telemetry=maybe"]}
        ]));
        assert!(matches!(
            verdict(&deployment, &unreadable),
            Verdict::Unknown(why) if why.contains("--disable-telemetry=maybe")
        ));
    }
}
