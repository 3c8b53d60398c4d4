//! [`StorageAdmin`] for [`ShardedStorage`]: every admin operation goes to every shard's
//! leader at once (following redirects, as writes do) and goes through that shard's Raft
//! log, so every replica applies it. It succeeds only when every shard acknowledged it;
//! deletes and cleans are idempotent, so a failed call is simply repeated.
//!
//! A snapshot is one name for the whole cluster: each shard's leader writes its own data
//! to `<its data dir>/snapshots/<name>`, and the answer lists those directories.

use std::future::Future;

use tonic::transport::Channel;
use tonic::{Response, Status};

use super::sharded::ShardedStorage;
use crate::MAX_MESSAGE_BYTES;
use crate::admin::StorageAdmin;
use crate::error::{Error, Result};
use crate::pb::admin_client::AdminClient;
use crate::pb::{CleanTombstonesRequest, DeleteSeriesRequest, SnapshotRequest};

impl ShardedStorage {
    /// Calls `f` on every shard's leader concurrently; the answers in shard order, or the
    /// first shard's error.
    async fn on_every_leader<T, F, Fut>(&self, f: F) -> Result<Vec<T>>
    where
        F: Fn(AdminClient<Channel>) -> Fut + Clone,
        Fut: Future<Output = std::result::Result<Response<T>, Status>>,
    {
        let budget = self.options().write_timeout;
        let calls = self.all_shards().into_iter().map(|shard| {
            let f = f.clone();
            async move {
                let label = shard.id.to_string();
                let result = self
                    .with_leader(
                        &shard,
                        &label,
                        |channel| {
                            f(AdminClient::new(channel)
                                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                                .max_encoding_message_size(MAX_MESSAGE_BYTES))
                        },
                        budget,
                    )
                    .await;
                (shard.id, result)
            }
        });
        let mut out = Vec::new();
        for (id, result) in futures::future::join_all(calls).await {
            match result {
                Ok(resp) => out.push(resp.into_inner()),
                Err(e) if e.is_invalid_request() => return Err(e),
                Err(e) => {
                    return Err(Error::Shard {
                        shard: id,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl StorageAdmin for ShardedStorage {
    async fn delete_series(&self, req: DeleteSeriesRequest) -> Result<()> {
        self.on_every_leader(|mut c| {
            let req = req.clone();
            async move { c.delete_series(req).await }
        })
        .await?;
        Ok(())
    }

    async fn clean_tombstones(&self) -> Result<()> {
        self.on_every_leader(
            |mut c| async move { c.clean_tombstones(CleanTombstonesRequest {}).await },
        )
        .await?;
        Ok(())
    }

    async fn snapshot(&self, req: SnapshotRequest) -> Result<Vec<String>> {
        let answers = self
            .on_every_leader(|mut c| {
                let req = req.clone();
                async move { c.snapshot(req).await }
            })
            .await?;
        Ok(answers.into_iter().map(|a| a.path).collect())
    }
}
