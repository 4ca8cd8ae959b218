//! The decoder's integration tests, as one binary.

mod kube_kinds;
mod kube_limits;
mod kube_long_documents;
mod kube_readers;
mod kube_samples;
mod kube_stream;
mod support;
