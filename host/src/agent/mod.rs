//! `kamaji-telemetry serve`: the long-running agent next to the Kamaji
//! controller.
//!
//! ```text
//!  watch of TCPs and ─┐                ┌─ plugin worker ──────────┐
//!  DataStores (leader)│                │                          │
//!  or POST /telemetry ├─► intake ────► │ pipeline: plugin (swap-  │ ─► delivery ─► endpoint
//!  (admission webhook)│  (bounded,     │ pable) + leak guard      │    queue
//!  heartbeat ─────────┘  never waits)  └──────────────────────────┘
//!  (watch store, fleet file or POST /v1/fleet)
//! ```
//!
//! - `--events watch` (the default, [`cluster_side`]): the agent watches the
//!   Kubernetes API itself, beats from its store, and only the leader of its
//!   replicas hands anything to the plugin. Nothing is added to the
//!   admission path.
//! - `--events webhook`: the webhook only decodes the AdmissionReview and hands the event to a
//!   bounded intake, then allows the request: admission is never delayed by
//!   a plugin or the network.
//! - One worker builds the events in order, each with a single snapshot of
//!   the current plugin. A new plugin (its file changed, SIGHUP, or the
//!   registry tag it came from moved) is vetted on a blocking thread, then
//!   swapped in atomically ([`swap`]); no event is
//!   lost, built twice, or built by two plugins.
//! - The `--config` file can turn telemetry off and on at runtime; the flag
//!   and environment opt-outs are absolute (then nothing is loaded, built or
//!   sent, and the webhook still answers).
//! - On SIGTERM or Ctrl-C: intake stops, queued events are built and the
//!   delivery queue flushed within the shutdown timeout, and what was left is
//!   reported.
//!
//! [`AgentConfig`] (`config`) is what `serve` is told; `start` starts the
//! [`Agent`] and shuts it down, `parts` wires what runs while telemetry can
//! be on, `server` is the HTTP server (TLS, timeouts), `signals` the
//! signals it obeys, and `failure` why it could not start or went down.

mod body_budget;
mod cluster_side;
mod collectors;
mod config;
mod config_file;
mod failure;
mod heartbeat;
mod intake;
mod metrics;
mod outbox;
mod parts;
mod poll;
mod server;
mod signals;
mod start;
mod swap;
mod switch;
mod watch;
mod webhook;

pub use config::{AgentConfig, ClusterSettings, LocalMode, TlsFiles};
pub use config_file::ConfigFileError;
pub use failure::AgentError;
pub use signals::termination;
pub use start::{Agent, ShutdownReport};
