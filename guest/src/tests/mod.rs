//! Tests that cut across modules, through the public [`crate::handle`]:
//! Kamaji's documentation examples, the routing rules, the redaction report,
//! and the privacy property.

pub mod fixtures;
mod golden;
mod privacy;
mod report;
mod routes;
