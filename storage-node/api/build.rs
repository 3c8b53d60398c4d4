fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure().compile_protos(
        &[
            "proto/telltale/storage/v1/storage.proto",
            "proto/telltale/raft/v1/raft.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
