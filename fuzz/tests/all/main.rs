//! The fuzz targets' checks as tests, as one binary: the property tests, and
//! the replay of every kept input.

mod properties;
mod regressions;
