//! End-to-end acceptance of the playbooks: herokuops, the binary, against a sandbox whose
//! databases are real, with faults, signals and kills, and a watch for leaked secrets on every
//! output and journal.

mod activity;
mod archive;
mod boot;
mod copy;
mod edges;
mod faults;
mod harness;
mod kill;
mod logs;
mod one_off;
mod playbooks;
mod prompt;
mod psql;
mod restore;
mod secrets;
mod transfer;
