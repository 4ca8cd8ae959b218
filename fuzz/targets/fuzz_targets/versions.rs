//! See `kamaji_telemetry_fuzz::versions`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| kamaji_telemetry_fuzz::versions(bytes));
