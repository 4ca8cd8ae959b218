//! `kamaji-telemetry serve --events watch`, the real binary, against a fake
//! Kubernetes API server (tests/support/kube_api.rs) that kube-rs talks to
//! unmodified, and the loopback telemetry receiver: events from the watch,
//! heartbeats from its store, re-lists and restarts without duplicates, two
//! replicas with one leader, the opt-out, and a forbidden resource.
//!
//! Every wait is for an observable state (a request at the receiver, a
//! metric, a status code), with generous bounds for a loaded debug build.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::host::sample;
use kamaji_telemetry_e2e::kube_api::{FakeApi, Kind};
use kamaji_telemetry_e2e::receiver::{Received, Receiver};
use kamaji_telemetry_e2e::{default_plugin, workspace_root};
use serde_json::Value;

const SOON: Duration = Duration::from_secs(60);
const LEADER: &str = "kamaji_telemetry_leader";
const CREATED: &str = "kamaji_telemetry_events_received_total{event=\"created\"}";
const UPDATED: &str = "kamaji_telemetry_events_received_total{event=\"updated\"}";
const DELETED: &str = "kamaji_telemetry_events_received_total{event=\"deleted\"}";
const WITHOUT_PAYLOAD: &str = "kamaji_telemetry_events_without_payload_total";
const TCPS_SYNCED: &str = "kamaji_telemetry_watch_synced{resource=\"tenantcontrolplanes\"}";
const STORES_SYNCED: &str = "kamaji_telemetry_watch_synced{resource=\"datastores\"}";
const TCPS_EVENT_AGE: &str =
    "kamaji_telemetry_watch_last_event_age_seconds{resource=\"tenantcontrolplanes\"}";

/// A fake cluster, a receiver, and a kubeconfig for the one from the other.
struct Setup {
    api: FakeApi,
    receiver: Receiver,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = FakeApi::start();
        let kubeconfig = api.kubeconfig(dir.path());
        Self {
            api,
            receiver: Receiver::start(),
            kubeconfig,
            _dir: dir,
        }
    }

    /// `serve` watching the fake, as replica `identity`, beating every
    /// `interval`. The installation comes from the cluster, not the
    /// environment the other tests set.
    fn serve(&self, identity: &str, interval: &str) -> Command {
        self.serve_with_lease(identity, interval, "3s")
    }

    fn serve_with_lease(&self, identity: &str, interval: &str, lease: &str) -> Command {
        let mut command = host_command();
        for name in [
            "KAMAJI_TELEMETRY_CLUSTER_UID",
            "KAMAJI_TELEMETRY_KAMAJI_VERSION",
            "KAMAJI_TELEMETRY_KUBERNETES_VERSION",
            "KUBECONFIG",
            "POD_NAME",
            "POD_NAMESPACE",
        ] {
            command.env_remove(name);
        }
        command.args(["serve", "--listen", "127.0.0.1:0", "--endpoint"]);
        command
            .arg(self.receiver.url())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig);
        command.args([
            "--leader-identity",
            identity,
            "--lease-duration",
            lease,
            "--heartbeat-interval",
            interval,
            "--retry-max-elapsed",
            "2s",
        ]);
        command
    }

    fn on_route(&self, route: &str) -> Vec<Received> {
        self.receiver
            .requests()
            .into_iter()
            .filter(|request| request.path == route)
            .collect()
    }

    fn last_heartbeat(&self) -> Option<Value> {
        self.on_route("/stats").last().map(Received::json)
    }
}

fn read_sample(name: &str) -> Vec<u8> {
    std::fs::read(sample(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// The series' value; a missing series fails the test.
fn metric(agent: &Agent, series: &str) -> f64 {
    let metrics = agent.metrics();
    metrics
        .get(series)
        .unwrap_or_else(|| panic!("{series} is not exposed:\n{}", metrics.0))
}

fn wait_synced_leader(agent: &Agent) {
    eventually(SOON, "synced, ready and leading", || {
        agent.get_status("/readyz") == 200 && metric(agent, LEADER) == 1.0
    });
    assert_eq!(metric(agent, TCPS_SYNCED), 1.0);
    assert_eq!(metric(agent, STORES_SYNCED), 1.0);
    // Each watch has just delivered its list: the age of its last event is
    // there, and younger than the wait for it.
    for resource in ["tenantcontrolplanes", "datastores"] {
        let age =
            format!("kamaji_telemetry_watch_last_event_age_seconds{{resource=\"{resource}\"}}");
        let seconds = metric(agent, &age);
        assert!(seconds < SOON.as_secs_f64(), "{age} = {seconds}");
    }
}

fn tcp_count(heartbeat: &Value) -> u64 {
    let counts = &heartbeat["tenant_control_plane"];
    ["running", "upgrading", "not_ready", "sleeping"]
        .iter()
        .filter_map(|state| counts[state].as_u64())
        .sum()
}

fn data_store_count(heartbeat: &Value) -> u64 {
    ["etcd", "postgres", "mysql", "nats"]
        .iter()
        .filter_map(|driver| heartbeat["datastores"][driver]["count"].as_u64())
        .sum()
}

#[test]
fn create_upgrade_and_delete_give_one_payload_each_and_other_changes_none() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "existing", "v1.30.2");
    setup
        .api
        .create_data_store("datastore_etcd.json", &["tenant-a/existing"]);
    let agent = Agent::start(setup.serve("replica-0", "1h"));
    wait_synced_leader(&agent);

    // The heartbeat after the initial sync, over the served objects, with the
    // installation read from the cluster.
    eventually(SOON, "the heartbeat after sync", || {
        setup.on_route("/stats").len() == 1
    });
    let beat = setup.last_heartbeat().expect("a heartbeat");
    assert_eq!(
        (tcp_count(&beat), data_store_count(&beat)),
        (1, 1),
        "{beat}"
    );
    assert_eq!(beat["datastores"]["etcd"]["used_by_count"], 1, "{beat}");
    assert_eq!(beat["kubernetes_version"], "v1.30.2", "{beat}");
    assert_eq!(beat["kamaji_version"], "v1.0.0", "{beat}");

    // Nothing is added to the admission path: there is no webhook to call.
    let (status, _) = agent.post("/telemetry", read_sample("admission-create.json"));
    assert_eq!(status, 404);

    setup.api.create_tcp("tenant-b", "fresh", "v1.31.1");
    eventually(SOON, "one create", || setup.on_route("/create").len() == 1);
    let create = setup.on_route("/create")[0].json();
    assert_eq!(create["tcp_version"], "v1.31.1", "{create}");

    setup.api.set_tcp_version("tenant-b", "fresh", "v1.32.0");
    eventually(SOON, "one update", || setup.on_route("/update").len() == 1);
    let update = setup.on_route("/update")[0].json();
    assert_eq!(
        (&update["old_tcp_version"], &update["new_tcp_version"]),
        (&Value::from("v1.31.1"), &Value::from("v1.32.0")),
        "{update}"
    );

    // Not an upgrade: handed to the plugin, which sends nothing for it.
    setup.api.label_tcp("tenant-b", "fresh", "yes");
    eventually(SOON, "the label change reaches the plugin", || {
        metric(&agent, UPDATED) == 2.0 && metric(&agent, WITHOUT_PAYLOAD) == 1.0
    });

    setup.api.delete_tcp("tenant-b", "fresh");
    eventually(SOON, "one delete", || setup.on_route("/delete").len() == 1);
    assert_eq!(
        setup.on_route("/create").len(),
        1,
        "the existing TCP is no event"
    );
    assert_eq!(setup.on_route("/update").len(), 1);
    assert_eq!(metric(&agent, CREATED), 1.0);
    assert_eq!(metric(&agent, DELETED), 1.0);
    let sent = setup.receiver.requests();
    assert!(
        sent.iter().all(|request| !request.body.contains("tenant-")),
        "a namespace was sent"
    );
}

#[test]
fn heartbeats_follow_the_store_and_the_kubernetes_version() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    setup.api.create_data_store("datastore_etcd.json", &[]);
    setup
        .api
        .create_data_store("datastore_mysql_bronze.json", &[]);
    let agent = Agent::start(setup.serve("replica-0", "300ms"));
    wait_synced_leader(&agent);
    eventually(SOON, "a heartbeat of 1 TCP and 2 DataStores", || {
        setup
            .last_heartbeat()
            .is_some_and(|beat| (tcp_count(&beat), data_store_count(&beat)) == (1, 2))
    });

    setup.api.create_tcp("tenant-b", "two", "v1.31.0");
    setup.api.create_tcp("tenant-c", "three", "v1.31.0");
    setup.api.delete_tcp("tenant-a", "one");
    setup.api.delete_data_store("mysql-bronze");
    setup
        .api
        .create_data_store("datastore_nats_bronze.json", &[]);
    setup.api.set_git_version("v1.31.4+k3s1");
    eventually(SOON, "a heartbeat of the new fleet and version", || {
        setup.last_heartbeat().is_some_and(|beat| {
            (tcp_count(&beat), data_store_count(&beat)) == (2, 2)
                && beat["datastores"]["nats"]["count"] == 1
                && beat["kubernetes_version"] == "v1.31.4"
        })
    });
    // The heartbeats come from the store: the only lists are the initial ones.
    let lists = setup
        .api
        .calls()
        .iter()
        .filter(|call| call.path.ends_with("tenantcontrolplanes") && !call.is_watch())
        .count();
    assert_eq!(lists, 1, "{:?}", setup.api.calls());
    drop(agent);
}

#[test]
fn a_relist_a_cut_stream_and_a_restart_create_nothing_twice() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "before-start", "v1.30.2");
    let agent = Agent::start(setup.serve("replica-0", "1h"));
    wait_synced_leader(&agent);
    setup.api.create_tcp("tenant-a", "first", "v1.30.3");
    eventually(SOON, "one create", || setup.on_route("/create").len() == 1);

    // 410 Gone: both watches list again, and what they find already existed.
    setup.api.expire_watches();
    eventually(SOON, "both watches re-listed", || {
        let metrics = agent.metrics();
        ["tenantcontrolplanes", "datastores"]
            .iter()
            .all(|resource| {
                metrics
                    .get(&format!(
                        "kamaji_telemetry_watch_relists_total{{resource=\"{resource}\"}}"
                    ))
                    .is_some_and(|relists| relists >= 1.0)
            })
    });
    assert!(
        metric(
            &agent,
            "kamaji_telemetry_kube_api_errors_total{code=\"410\"}"
        ) >= 2.0
    );
    // A stream cut mid-way: the watch resumes from its last version.
    setup.api.cut_watches();
    setup.api.create_tcp("tenant-a", "second", "v1.30.4");
    eventually(SOON, "the second create", || {
        setup.on_route("/create").len() == 2
    });
    assert_eq!(metric(&agent, CREATED), 2.0);
    let exit = agent.terminate(SOON);
    assert!(exit.status.success(), "{}", exit.stderr);

    // Created while no agent ran: counted by heartbeats, never an event.
    setup.api.create_tcp("tenant-a", "while-down", "v1.29.9");

    // A new agent: every TCP so far is in its initial list, none is an event.
    let beats = setup.on_route("/stats").len();
    let agent = Agent::start(setup.serve("replica-1", "1h"));
    wait_synced_leader(&agent);
    eventually(SOON, "the new agent's heartbeat", || {
        setup.on_route("/stats").len() > beats
    });
    let beat = setup.last_heartbeat().expect("a heartbeat");
    assert_eq!(tcp_count(&beat), 4, "{beat}");
    setup.api.create_tcp("tenant-a", "third", "v1.30.5");
    eventually(SOON, "the third create", || {
        setup.on_route("/create").len() == 3
    });
    assert_eq!(metric(&agent, CREATED), 1.0);
    let versions: Vec<Value> = setup
        .on_route("/create")
        .iter()
        .map(|request| request.json()["tcp_version"].clone())
        .collect();
    assert_eq!(versions, ["v1.30.3", "v1.30.4", "v1.30.5"]);
}

#[test]
fn two_replicas_send_one_heartbeat_per_interval_and_fail_over() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    let interval = Duration::from_secs(1);
    // A lease long enough that a loaded machine cannot make the leader miss
    // its renewals (which would move the leadership mid-test).
    let first = Agent::start(setup.serve_with_lease("replica-0", "1s", "10s"));
    let second = Agent::start(setup.serve_with_lease("replica-1", "1s", "10s"));
    eventually(SOON, "one leader, both synced", || {
        let leaders = metric(&first, LEADER) + metric(&second, LEADER);
        leaders == 1.0 && metric(&first, TCPS_SYNCED) == 1.0 && metric(&second, TCPS_SYNCED) == 1.0
    });
    let (leader, follower) = if metric(&first, LEADER) == 1.0 {
        (first, second)
    } else {
        (second, first)
    };
    let holder = setup
        .api
        .lease("kamaji-system", "kamaji-telemetry")
        .expect("a Lease");
    assert!(
        holder["spec"]["holderIdentity"]
            .as_str()
            .is_some_and(|id| id.starts_with("replica-")),
        "{holder}"
    );

    // Five heartbeats from the two replicas take at least four intervals
    // (less 10% jitter each): one replica beats, not both.
    let start = setup.on_route("/stats").len();
    eventually(SOON, "five more heartbeats", || {
        setup.on_route("/stats").len() >= start + 5
    });
    let beats = setup.on_route("/stats");
    let span = beats[start + 4].at - beats[start].at;
    assert!(
        span >= interval.mul_f64(4.0 * 0.9),
        "five heartbeats in {span:?}"
    );

    // Both replicas see the new TCP; only the leader hands it on.
    let created_at = Instant::now();
    setup.api.create_tcp("tenant-a", "two", "v1.31.0");
    eventually(SOON, "both watches delivered it", || {
        [&leader, &follower]
            .iter()
            .all(|agent| metric(agent, TCPS_EVENT_AGE) < created_at.elapsed().as_secs_f64())
    });
    eventually(SOON, "one create", || setup.on_route("/create").len() == 1);
    assert_eq!(metric(&leader, CREATED), 1.0);
    assert_eq!(metric(&follower, CREATED), 0.0);

    // The leader dies (SIGKILL): the follower takes over within the lease.
    let killed_at = Instant::now();
    drop(leader);
    eventually(SOON, "the follower leads", || {
        metric(&follower, LEADER) == 1.0
    });
    eventually(SOON, "a heartbeat from the new leader", || {
        setup
            .on_route("/stats")
            .last()
            .is_some_and(|beat| beat.at > killed_at + Duration::from_secs(1))
    });
    setup.api.create_tcp("tenant-a", "three", "v1.31.1");
    eventually(SOON, "the new leader sends the create", || {
        setup.on_route("/create").len() == 2
    });
}

#[test]
fn opted_out_the_agent_makes_no_api_call_and_no_backend_connection() {
    let setup = Setup::new();
    let mut command = setup.serve("replica-0", "300ms");
    command.arg("--disable-telemetry");
    let agent = Agent::start(command);
    eventually(SOON, "ready", || agent.get_status("/readyz") == 200);
    assert_eq!(metric(&agent, "kamaji_telemetry_telemetry_enabled"), 0.0);
    assert!(setup.api.calls().is_empty(), "{:?}", setup.api.calls());
    assert_eq!(setup.receiver.connections(), 0);
    drop(agent);
}

#[test]
fn the_runtime_opt_out_stops_and_starts_the_watches() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    let config = setup._dir.path().join("telemetry.yaml");
    std::fs::write(&config, "disabled: true\n").expect("write");
    let mut command = setup.serve("replica-0", "300ms");
    command
        .arg("--config")
        .arg(&config)
        .args(["--watch-interval", "100ms"]);
    let agent = Agent::start(command);
    eventually(SOON, "ready while off", || {
        agent.get_status("/readyz") == 200
    });
    assert_eq!(metric(&agent, "kamaji_telemetry_telemetry_enabled"), 0.0);
    assert_eq!(metric(&agent, TCPS_SYNCED), 0.0);
    assert_eq!(fleet_calls(&setup.api), 0, "{:?}", setup.api.calls());

    std::fs::write(&config, "disabled: false\n").expect("write");
    wait_synced_leader(&agent);
    eventually(SOON, "a heartbeat once on", || {
        !setup.on_route("/stats").is_empty()
    });

    std::fs::write(&config, "disabled: true\n").expect("write");
    eventually(SOON, "the watches stop", || {
        metric(&agent, TCPS_SYNCED) == 0.0 && metric(&agent, LEADER) == 0.0
    });
}

#[test]
fn a_forbidden_resource_is_a_clear_error_and_not_ready_never_a_crash() {
    let setup = Setup::new();
    setup.api.forbid(Kind::DataStore);
    let agent = Agent::start(setup.serve("replica-0", "300ms"));
    eventually(SOON, "403s counted", || {
        agent
            .metrics()
            .get("kamaji_telemetry_kube_api_errors_total{code=\"403\"}")
            .is_some_and(|count| count >= 2.0)
    });
    assert_eq!(agent.get_status("/readyz"), 503);
    assert_eq!(agent.get_status("/healthz"), 200);
    assert_eq!(metric(&agent, STORES_SYNCED), 0.0);
    let stderr = agent.stderr();
    assert!(
        stderr.contains("cannot watch datastores.kamaji.clastix.io")
            && stderr.contains("lacks this permission"),
        "{stderr}"
    );
    assert!(
        setup.on_route("/stats").is_empty(),
        "a heartbeat without DataStores"
    );
    let exit = agent.terminate(SOON);
    assert!(exit.status.success(), "{}", exit.stderr);
}

#[test]
fn a_missing_crd_is_a_clear_error_and_not_ready() {
    let setup = Setup::new();
    setup.api.remove_crd(Kind::TenantControlPlane);
    let agent = Agent::start(setup.serve("replica-0", "300ms"));
    eventually(SOON, "404s counted", || {
        agent
            .metrics()
            .get("kamaji_telemetry_kube_api_errors_total{code=\"404\"}")
            .is_some_and(|count| count >= 1.0)
    });
    assert_eq!(agent.get_status("/readyz"), 503);
    assert!(
        agent
            .stderr()
            .contains("is Kamaji installed, with its CRDs"),
        "{}",
        agent.stderr()
    );
}

#[test]
fn with_events_from_the_webhook_the_fleet_still_comes_from_the_cluster() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    let mut command = setup.serve("replica-0", "300ms");
    command.args(["--events", "webhook"]);
    let agent = Agent::start(command);
    wait_synced_leader(&agent);
    eventually(SOON, "the heartbeat from the store", || {
        setup
            .last_heartbeat()
            .is_some_and(|beat| tcp_count(&beat) == 1)
    });
    // A TCP created in the cluster is no event here (the webhook brings
    // them), though the heartbeat counts it.
    setup.api.create_tcp("tenant-a", "two", "v1.31.0");
    eventually(SOON, "a heartbeat with the new TCP", || {
        setup
            .last_heartbeat()
            .is_some_and(|beat| tcp_count(&beat) == 2)
    });
    assert_eq!(metric(&agent, CREATED), 0.0);
    let (status, _) = agent.post("/telemetry", read_sample("admission-create.json"));
    assert_eq!(status, 200);
    eventually(SOON, "the webhook's create", || {
        setup.on_route("/create").len() == 1
    });
    assert_eq!(metric(&agent, CREATED), 1.0);
}

#[test]
fn a_leader_stopped_by_sigterm_hands_over_without_waiting_for_its_lease_to_expire() {
    let setup = Setup::new();
    let lease = Duration::from_secs(30);
    let first = Agent::start(setup.serve_with_lease("replica-0", "1h", "30s"));
    wait_synced_leader(&first);
    let second = Agent::start(setup.serve_with_lease("replica-1", "1h", "30s"));
    eventually(SOON, "the second replica synced", || {
        metric(&second, TCPS_SYNCED) == 1.0 && metric(&second, STORES_SYNCED) == 1.0
    });
    assert_eq!(metric(&second, LEADER), 0.0);

    let stopped_at = Instant::now();
    let exit = first.terminate(SOON);
    assert!(exit.status.success(), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("gave up the leadership"),
        "{}",
        exit.stderr
    );
    // Well within the 30 s lease: it was released, not left to expire.
    eventually(lease / 2, "the second replica leads", || {
        metric(&second, LEADER) == 1.0
    });
    assert!(stopped_at.elapsed() < lease);
    let holder = setup
        .api
        .lease("kamaji-system", "kamaji-telemetry")
        .expect("a Lease");
    assert_eq!(holder["spec"]["holderIdentity"], "replica-1", "{holder}");
}

#[test]
fn events_from_the_watch_refuse_a_fleet_from_elsewhere() {
    for args in [["--fleet-file", "fleet.json"], ["--fleet-from", "post"]] {
        let mut command = host_command();
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args);
        let result = kamaji_telemetry_e2e::host::run(command);
        assert!(!result.success(), "{result:?}");
        assert!(
            result.stderr.contains("are for --events webhook"),
            "{}",
            result.stderr
        );
    }
}

// Kamaji's own opt-out: `--disable-telemetry` on its controller, as Kamaji's
// chart renders it for `--set telemetry.disabled=true`.

const ENABLED: &str = "kamaji_telemetry_telemetry_enabled";
const KAMAJI_OPTED_OUT: &str =
    "kamaji_telemetry_opt_out{source=\"kamaji-controller\",state=\"opted_out\"}";
const KAMAJI_UNKNOWN: &str =
    "kamaji_telemetry_opt_out{source=\"kamaji-controller\",state=\"unknown\"}";

/// Calls for the fleet and the election: what runs only while telemetry is on.
fn fleet_calls(api: &FakeApi) -> usize {
    api.calls()
        .iter()
        .filter(|call| !call.path.contains("/deployments"))
        .count()
}

/// Requests of a route at the receiver.
fn count_on(setup: &Setup, route: &str) -> usize {
    setup.on_route(route).len()
}

#[test]
fn kamajis_switch_turns_telemetry_off_and_on_without_a_restart() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    // Installed with `helm install kamaji … --set telemetry.disabled=true`.
    setup.api.set_kamaji_args(&["--disable-telemetry"]);
    let agent = Agent::start(setup.serve("replica-0", "300ms"));
    eventually(SOON, "Kamaji's opt-out read", || {
        metric(&agent, KAMAJI_OPTED_OUT) == 1.0
    });
    assert_eq!(metric(&agent, ENABLED), 0.0);
    assert_eq!(fleet_calls(&setup.api), 0, "{:?}", setup.api.calls());
    assert_eq!(setup.receiver.connections(), 0);
    let (status, text) = agent.get("/readyz");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("telemetry is off (kamaji-controller)")
            && text.contains("`--disable-telemetry` on the container manager")
            && text.contains("kamaji-system/kamaji"),
        "{text}"
    );

    // `helm upgrade … --set telemetry.disabled=false`: on, with no restart.
    setup.api.set_kamaji_args(&[]);
    wait_synced_leader(&agent);
    eventually(SOON, "a heartbeat once Kamaji allows it", || {
        count_on(&setup, "/stats") >= 1
    });
    assert_eq!(metric(&agent, KAMAJI_OPTED_OUT), 0.0);
    assert_eq!(metric(&agent, ENABLED), 1.0);

    // Added by hand, in another spelling Go accepts: off within one event.
    setup.api.set_kamaji_args(&["-disable-telemetry=TRUE"]);
    eventually(SOON, "the watches stop", || {
        metric(&agent, KAMAJI_OPTED_OUT) == 1.0
            && metric(&agent, TCPS_SYNCED) == 0.0
            && metric(&agent, LEADER) == 0.0
    });
    assert_eq!(metric(&agent, ENABLED), 0.0);
    let sent_before = setup.receiver.requests().len();
    let watches_before = setup.api.watch_calls();
    // A creation while off is no event; it shows in the next heartbeat.
    setup.api.create_tcp("tenant-b", "two", "v1.31.0");

    // Given twice, the last one wins, as in Go: on again.
    setup
        .api
        .set_kamaji_args(&["--disable-telemetry", "--disable-telemetry=False"]);
    wait_synced_leader(&agent);
    eventually(SOON, "a heartbeat of both TCPs", || {
        setup
            .last_heartbeat()
            .is_some_and(|beat| tcp_count(&beat) == 2)
    });
    assert!(setup.api.watch_calls() > watches_before);
    let since_off: Vec<String> = setup.receiver.requests()[sent_before..]
        .iter()
        .map(|request| request.path.clone())
        .collect();
    assert!(
        since_off.iter().all(|path| path == "/stats"),
        "only heartbeats after the switch came back: {since_off:?}"
    );
}

#[test]
fn a_forbidden_kamaji_deployment_holds_telemetry_off_and_says_why_once() {
    let setup = Setup::new();
    setup.api.forbid(Kind::Deployment);
    let agent = Agent::start(setup.serve("replica-0", "300ms"));
    eventually(SOON, "the Deployment refused three times", || {
        metric(&agent, KAMAJI_UNKNOWN) == 1.0
            && setup
                .api
                .calls()
                .iter()
                .filter(|call| call.path.contains("/deployments"))
                .count()
                >= 3
    });
    assert_eq!(metric(&agent, ENABLED), 0.0);
    assert_eq!(fleet_calls(&setup.api), 0, "{:?}", setup.api.calls());
    assert_eq!(setup.receiver.connections(), 0);
    let (_, text) = agent.get("/readyz");
    assert!(
        text.contains("telemetry is off (kamaji-controller)")
            && text.contains("unknown")
            && text.contains("403"),
        "{text}"
    );
    let stderr = agent.stderr();
    let said = stderr
        .matches("telemetry stays off until kamaji-controller can be read")
        .count();
    // Once when the agent starts (not read yet), once for the 403: not at
    // every retry.
    assert_eq!(said, 2, "{stderr}");
    assert!(stderr.contains("lacks this permission"), "{stderr}");

    // The RBAC rule fixed: telemetry starts, as the Deployment allows it.
    setup.api.allow(Kind::Deployment);
    eventually(SOON, "a heartbeat once readable", || {
        count_on(&setup, "/stats") >= 1
    });
    assert_eq!(metric(&agent, KAMAJI_UNKNOWN), 0.0);
}

#[test]
fn a_missing_kamaji_deployment_holds_telemetry_off_until_kamaji_is_installed() {
    let setup = Setup::new();
    setup.api.delete_kamaji();
    let agent = Agent::start(setup.serve("replica-0", "300ms"));
    eventually(SOON, "the Deployment found missing", || {
        agent.get("/readyz").1.contains("does not exist")
    });
    assert_eq!(metric(&agent, KAMAJI_UNKNOWN), 1.0);
    assert_eq!(fleet_calls(&setup.api), 0, "{:?}", setup.api.calls());
    assert_eq!(setup.receiver.connections(), 0);

    // Installed opted out: still off, now for that reason.
    setup.api.install_kamaji(&["--disable-telemetry=1"]);
    eventually(SOON, "Kamaji's opt-out read", || {
        metric(&agent, KAMAJI_OPTED_OUT) == 1.0
    });
    assert_eq!(metric(&agent, KAMAJI_UNKNOWN), 0.0);
    assert_eq!(setup.receiver.connections(), 0);

    // Uninstalled and installed again, telemetry allowed: on.
    setup.api.delete_kamaji();
    eventually(SOON, "missing again", || {
        metric(&agent, KAMAJI_UNKNOWN) == 1.0
    });
    setup.api.install_kamaji(&[]);
    eventually(SOON, "a heartbeat once installed", || {
        count_on(&setup, "/stats") >= 1
    });
}

#[test]
fn restarted_while_kamaji_opts_out_the_agent_never_reaches_the_backend() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    setup.api.set_kamaji_args(&["--disable-telemetry=t"]);
    for _ in 0..2 {
        let agent = Agent::start(setup.serve("replica-0", "300ms"));
        eventually(SOON, "Kamaji's opt-out read", || {
            metric(&agent, KAMAJI_OPTED_OUT) == 1.0
        });
        let exit = agent.terminate(SOON);
        assert!(exit.status.success(), "{}", exit.stderr);
    }
    assert_eq!(fleet_calls(&setup.api), 0, "{:?}", setup.api.calls());
    assert_eq!(setup.receiver.connections(), 0);
}

#[test]
fn the_other_opt_outs_win_over_kamajis_switch() {
    let setup = Setup::new();
    // Kamaji allows telemetry; the config file does not.
    let config = setup._dir.path().join("telemetry.yaml");
    std::fs::write(&config, "disabled: true\n").expect("write");
    let mut command = setup.serve("replica-0", "300ms");
    command
        .arg("--config")
        .arg(&config)
        .args(["--watch-interval", "100ms"]);
    let agent = Agent::start(command);
    eventually(SOON, "Kamaji's Deployment read", || {
        setup
            .api
            .calls()
            .iter()
            .any(|call| call.path.contains("/deployments") && call.is_watch())
    });
    let off_by_config = "kamaji_telemetry_opt_out{source=\"config-file\",state=\"opted_out\"}";
    assert_eq!(metric(&agent, off_by_config), 1.0);
    assert_eq!(metric(&agent, ENABLED), 0.0);
    assert_eq!(fleet_calls(&setup.api), 0);
    // And Kamaji's switch alone holds it off once the file allows it.
    setup.api.set_kamaji_args(&["--disable-telemetry"]);
    eventually(SOON, "Kamaji's opt-out read", || {
        metric(&agent, KAMAJI_OPTED_OUT) == 1.0
    });
    std::fs::write(&config, "disabled: false\n").expect("write");
    eventually(SOON, "the file's change applied", || {
        metric(&agent, off_by_config) == 0.0
    });
    assert_eq!(metric(&agent, ENABLED), 0.0);
    assert_eq!(fleet_calls(&setup.api), 0);
    assert_eq!(setup.receiver.connections(), 0);
}

#[test]
fn without_kamajis_switch_the_agent_says_so() {
    let setup = Setup::new();
    setup.api.delete_kamaji();
    let mut command = setup.serve("replica-0", "300ms");
    command.args(["--kamaji-deployment", "none"]);
    let agent = Agent::start(command);
    eventually(SOON, "a heartbeat without Kamaji's Deployment", || {
        count_on(&setup, "/stats") >= 1
    });
    assert!(
        agent
            .stderr()
            .contains("--kamaji-deployment none: Kamaji's own --disable-telemetry is not followed"),
        "{}",
        agent.stderr()
    );
    assert!(
        !setup
            .api
            .calls()
            .iter()
            .any(|call| call.path.contains("/deployments")),
        "{:?}",
        setup.api.calls()
    );
}

#[test]
fn without_the_cluster_kamajis_switch_must_be_given_up_explicitly() {
    let mut command = host_command();
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--events",
        "webhook",
        "--fleet-from",
        "post",
    ]);
    let result = kamaji_telemetry_e2e::host::run(command);
    assert!(!result.success(), "{result:?}");
    assert!(
        result
            .stderr
            .contains("cannot follow Kamaji's --disable-telemetry")
            && result.stderr.contains("--kamaji-deployment none"),
        "{}",
        result.stderr
    );
}

/// A plugin that reads more than the one before it (a 0.1.0 plugin is shown
/// every field; the default plugin declares what it reads) makes the watches
/// list again, and no TenantControlPlane is created, or counted, twice.
#[test]
fn a_plugin_that_reads_more_relists_once_and_loses_and_doubles_nothing() {
    let setup = Setup::new();
    setup.api.create_tcp("tenant-a", "one", "v1.30.2");
    let plugin = setup._dir.path().join("plugin.wasm");
    std::fs::copy(default_plugin(), &plugin).expect("copy the default plugin");
    let mut command = setup.serve("replica-0", "200ms");
    command
        .arg("--plugin")
        .arg(&plugin)
        .args(["--watch-interval", "100ms"]);
    let agent = Agent::start(command);
    wait_synced_leader(&agent);
    setup.api.create_tcp("tenant-a", "two", "v1.30.2");
    eventually(SOON, "the creation sent", || {
        count_on(&setup, "/create") == 1
    });
    let relists = |agent: &Agent| {
        metric(
            agent,
            "kamaji_telemetry_watch_relists_total{resource=\"tenantcontrolplanes\"}",
        )
    };
    assert_eq!(relists(&agent), 0.0);

    let reads_everything =
        workspace_root().join("tests/fixtures/plugins/kamaji-telemetry-plugin-0.1.0.wasm");
    std::fs::copy(reads_everything, &plugin).expect("swap in the 0.1.0 plugin");
    eventually(SOON, "swapped and listed again", || {
        metric(
            &agent,
            "kamaji_telemetry_plugin_swaps_total{result=\"succeeded\"}",
        ) == 1.0
            && relists(&agent) == 1.0
            && metric(&agent, TCPS_SYNCED) == 1.0
    });
    setup.api.create_tcp("tenant-a", "three", "v1.30.2");
    eventually(SOON, "the next creation sent", || {
        count_on(&setup, "/create") == 2
    });
    let heartbeats = count_on(&setup, "/stats");
    eventually(SOON, "a heartbeat of the three", || {
        count_on(&setup, "/stats") > heartbeats
            && setup
                .last_heartbeat()
                .is_some_and(|beat| tcp_count(&beat) == 3)
    });

    // Back to the default plugin, which reads less: the records narrow in
    // place, with no new list.
    std::fs::copy(default_plugin(), &plugin).expect("swap back");
    eventually(SOON, "swapped back", || {
        metric(
            &agent,
            "kamaji_telemetry_plugin_swaps_total{result=\"succeeded\"}",
        ) == 2.0
    });
    setup.api.create_tcp("tenant-a", "four", "v1.30.2");
    eventually(SOON, "the last creation sent", || {
        count_on(&setup, "/create") == 3
    });
    assert_eq!(relists(&agent), 1.0);
    assert_eq!(
        metric(&agent, CREATED),
        3.0,
        "one created event per new TCP"
    );
}

/// The first list comes a page at a time (kube-runtime's 500 objects), so a
/// large fleet's List is never held whole, and the heartbeat counts it all.
#[test]
fn a_large_fleet_is_listed_a_page_at_a_time_and_counted_whole() {
    let setup = Setup::new();
    setup.api.create_tcps(1_200);
    let agent = Agent::start(setup.serve("replica-0", "1h"));
    eventually(SOON, "a heartbeat of the whole fleet", || {
        setup
            .last_heartbeat()
            .is_some_and(|beat| tcp_count(&beat) == 1_200)
    });
    let pages: Vec<String> = setup
        .api
        .calls()
        .into_iter()
        .filter(|call| call.path.ends_with("/tenantcontrolplanes") && !call.is_watch())
        .map(|call| call.query)
        .collect();
    assert_eq!(pages.len(), 3, "three pages of at most 500: {pages:?}");
    assert!(
        pages.iter().all(|query| query.contains("limit=500")),
        "{pages:?}"
    );
    assert_eq!(
        pages
            .iter()
            .filter(|query| query.contains("continue="))
            .count(),
        2,
        "{pages:?}"
    );
    drop(agent);
}
