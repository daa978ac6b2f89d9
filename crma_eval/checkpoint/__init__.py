"""Checkpoints: the `crma_checkpoint.yaml` manifest, its loader, the reference CRMA and the router.

Importing this package does not import torch; `crma_eval.checkpoint.sinkhorn` does.
"""

from crma_eval.checkpoint.manifest import (
    MANIFEST_NAME,
    Checkpoint,
    Manifest,
    load_checkpoint,
    write_manifest,
)

__all__ = ["MANIFEST_NAME", "Checkpoint", "Manifest", "load_checkpoint", "write_manifest"]
