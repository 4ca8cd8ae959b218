//! One module per section of the issue, each returning its rows.

pub mod cold_start;
pub mod footprint;
pub mod go_anchor;
pub mod plugin_speed;
pub mod sandbox_cost;
pub mod serve_at_scale;
pub mod throughput;
pub mod webhook;

use crate::report::Unit;

/// Microseconds below a millisecond, milliseconds above.
fn time_unit(seconds: &[f64]) -> Unit {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.get(sorted.len() / 2) {
        Some(median) if *median >= 1e-3 => Unit::Millis,
        _ => Unit::Micros,
    }
}
