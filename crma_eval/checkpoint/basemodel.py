"""The base model's identity for run fingerprints: what its files hold, not what it is called.

A local folder is hashed over the files that can change an answer (weights, configs, tokenizer
files, remote code). A hub id is resolved through the local Hugging Face cache (never the
network): its resolved commit plus the hashes of the cached snapshot files; a hub id that is not
cached gives `hub:<id>@uncached` (it cannot be loaded offline either).
"""

from __future__ import annotations

from pathlib import Path

from crma_eval.checkpoint.manifest import hash_files

# Files that change what a model computes or how text is tokenised.
MODEL_SUFFIXES = (".safetensors", ".json", ".model", ".txt", ".tiktoken", ".py")


def model_files(folder: Path) -> list[Path]:
    """The answer-relevant files of a model folder (top level and subfolders), sorted by name."""
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in MODEL_SUFFIXES and ".cache" not in p.parts
    ]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _folder_hash(folder: Path) -> str:
    files = model_files(folder)
    return hash_files(files) if files else "empty"


def base_model_fingerprint(name_or_path: str | Path) -> str:
    """Content identity of a base model: `local:<sha256>` for a folder (hash of its weight,
    config and tokenizer files), `hub:<id>@<commit>:<sha256>` for a cached hub model, or
    `hub:<id>@uncached` when the hub id is not in the local cache. Never touches the network.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return f"local:{_folder_hash(path.resolve())}"
    repo_id = str(name_or_path)
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached, malformed id, or no hub client: nothing to resolve offline
        return f"hub:{repo_id}@uncached"
    return f"hub:{repo_id}@{snapshot.name}:{_folder_hash(snapshot)}"
