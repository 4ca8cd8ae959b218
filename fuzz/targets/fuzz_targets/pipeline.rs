//! See `kamaji_telemetry_fuzz::pipeline`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    |case: kamaji_telemetry_fuzz::Case| kamaji_telemetry_fuzz::pipeline(&case)
);
