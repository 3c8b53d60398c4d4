fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure()
        // Rollup points of float series (nearly all) stay small: the histograms of a
        // histogram series' point live behind a pointer.
        .boxed(".telltale.storage.v1.Aggregate.histogram")
        .compile_protos(
            &[
                "proto/telltale/storage/v1/storage.proto",
                "proto/telltale/raft/v1/raft.proto",
            ],
            &["proto"],
        )?;
    Ok(())
}
