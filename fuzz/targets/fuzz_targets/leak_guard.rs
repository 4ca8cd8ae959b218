//! See `kamaji_telemetry_fuzz::leak_guard`: a copying plugin's body.
#![no_main]

use kamaji_telemetry_fuzz::{Case, CaseStrings, CopyingBody};

libfuzzer_sys::fuzz_target!(|input: (Case, CopyingBody)| {
    let (case, body) = input;
    let body = body.render(&CaseStrings::of(&case).identifying);
    kamaji_telemetry_fuzz::leak_guard(&case, &body);
});
