//! The decoder's integration tests, as one binary.

mod kube_decode;
mod kube_limits;
mod kube_long_documents;
