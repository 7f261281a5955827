//! The projections crate's integration tests, as one binary: the bed board (memory and Redis),
//! the runner and host, and the document models (memory and Redis) with the patient summary, the task models, and the assessment models.

mod assessments;
mod bed_board;
mod brokerage;
mod documents;
mod helpers;
mod host;
mod redis_bed_board;
mod runner;
mod tasks;
mod virtual_wards;
