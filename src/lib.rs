//! herokuops: database chores for Heroku apps.
//!
//! The library does the work and never prints; `cli` parses arguments, calls it, and renders.

pub mod api;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod error;
pub mod files;
pub mod fleet;
pub mod output;
pub mod pg;
pub mod playbooks;
pub mod process;
pub mod signals;
pub mod steps;

pub use error::{Error, Result};
