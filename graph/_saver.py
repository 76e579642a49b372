"""An in-memory checkpointer whose thread deletion does not slow down as threads pile up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.base import SerializerProtocol

__all__ = ["ThreadIndexedSaver"]


class ThreadIndexedSaver(InMemorySaver):
    """LangGraph's :class:`InMemorySaver`, with a :meth:`delete_thread` that touches only the
    deleted thread's entries.

    ``InMemorySaver.delete_thread`` scans every stored write and blob key to find the thread's
    ones, so when many threads are paused at once (a campaign's drafts waiting in Needs
    attention) each deletion costs time in proportion to all of them. This saver records the
    keys each thread writes as it writes them and deletes exactly those; storage and behaviour
    are otherwise LangGraph's own.
    """

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._blob_keys: defaultdict[str, set[tuple[str, str, str, str | int | float]]] = (
            defaultdict(set))
        self._write_keys: defaultdict[str, set[tuple[str, str, str]]] = defaultdict(set)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint (see :meth:`InMemorySaver.put`), remembering its blob keys."""
        saved = super().put(config, checkpoint, metadata, new_versions)
        thread_id = str(config["configurable"]["thread_id"])
        namespace = config["configurable"]["checkpoint_ns"]
        self._blob_keys[thread_id].update(
            (thread_id, namespace, channel, version) for channel, version in new_versions.items())
        return saved

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save pending writes (see :meth:`InMemorySaver.put_writes`), remembering the key."""
        super().put_writes(config, writes, task_id, task_path)
        thread_id = str(config["configurable"]["thread_id"])
        self._write_keys[thread_id].add((
            thread_id, config["configurable"].get("checkpoint_ns", ""),
            config["configurable"]["checkpoint_id"]))

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread's checkpoints, writes and blobs, and nothing else."""
        checkpoints = self.storage.pop(thread_id, {})
        writes = self._write_keys.pop(thread_id, set())
        # Reads of a checkpoint can leave an empty writes entry behind: drop those too.
        writes.update((thread_id, namespace, checkpoint_id)
                      for namespace, saved in checkpoints.items() for checkpoint_id in saved)
        for key in writes:
            self.writes.pop(key, None)
        for blob in self._blob_keys.pop(thread_id, set()):
            self.blobs.pop(blob, None)
