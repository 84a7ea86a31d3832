//! Helpers shared by the integration tests.

pub mod binary;
pub mod pg;
pub mod sandbox;
pub mod skip;
