//! careflow-proto: the gRPC contracts (`careflow.<context>.v1`) and their generated code.

/// `careflow.beds.v1`: the beds context's commands.
pub mod beds {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.beds.v1");
    }
}

/// `careflow.patients.v1`: the patients context's commands (the MPI).
pub mod patients {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.patients.v1");
    }
}

/// `careflow.flags.v1`: the flags context's commands.
pub mod flags {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.flags.v1");
    }
}

/// `careflow.tasks.v1`: the tasks context's commands (teams, tasks, routing rules).
pub mod tasks {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.tasks.v1");
    }
}

/// `careflow.assessments.v1`: the assessments context's commands (templates, trusted
/// assessments).
pub mod assessments {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.assessments.v1");
    }
}

/// `careflow.virtualwards.v1`: the virtual wards context's commands (hospital at home).
pub mod virtualwards {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.virtualwards.v1");
    }
}

/// `careflow.brokerage.v1`: the brokerage context's commands (providers, care requests, offers).
pub mod brokerage {
    /// Version 1.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("careflow.brokerage.v1");
    }
}

/// The encoded `FileDescriptorSet` of every careflow proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("careflow_descriptor");
