//! End-to-end acceptance of the playbooks: herokuops, the binary, against a sandbox whose
//! databases are real, with faults, signals and kills, and a watch for leaked secrets on every
//! output and journal.

mod edges;
mod faults;
mod harness;
mod kill;
mod one_off;
mod playbooks;
mod prompt;
mod restore;
mod secrets;
