//! herokuops: database chores for Heroku apps.
//!
//! The library does the work and never prints; `cli` parses arguments, calls it, and renders.

pub mod api;
pub mod error;
pub mod output;
pub mod pg;

pub use error::{Error, Result};
pub mod credentials;
pub mod steps;
pub mod cli;
pub mod playbooks;
