//! The workflows crate's integration tests, as one binary: the one clock (paused time, two
//! schedulers, work done meanwhile) and the discharge flows (what each event calls for, the
//! checkpoint that moves only after acknowledgement, a restart that doubles nothing).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod assessments;
mod brokerage;
mod clock;
mod discharge;
mod flag_rules;
mod support;
mod virtual_wards;
