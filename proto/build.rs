//! Compiles the protobuf contracts with protox (pure Rust), so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "careflow/beds/v1/beds.proto",
        "careflow/patients/v1/patients.proto",
        "careflow/flags/v1/flags.proto",
        "careflow/tasks/v1/tasks.proto",
        "careflow/assessments/v1/assessments.proto",
        "careflow/virtualwards/v1/virtualwards.proto",
        "careflow/brokerage/v1/brokerage.proto",
    ];
    println!("cargo:rerun-if-changed=careflow");
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("careflow_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}
