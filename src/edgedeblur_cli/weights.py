"""Model weights: model directories, SHA-256 checks, and resolution (local path, Hub, shipped copy).

A model directory holds ``config.json`` (architecture name + config) and ``model.safetensors``,
the Hugging Face ``PyTorchModelHubMixin`` layout, so ``huggingface-cli upload REPO weights/NAME``
publishes one as it is. Weights are only ever read with safetensors, and every file named in
the manifest is checked against its SHA-256 before it is loaded: the bytes checked are the bytes
loaded, read once.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
from safetensors.torch import load as load_safetensors, save
from torch import nn

from .files.atomic import write_atomic
from .models import create_model, model_config_dict

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKSUM_FILE = "SHA256SUMS"
HUB_REPO_ENV = "EDGEDEBLUR_HUB_REPO"


class WeightsError(Exception):
    """Weights could not be found, verified or loaded; the message says what to do."""


@dataclass(frozen=True)
class ManifestEntry:
    """Where a published model lives and what its files must hash to."""

    name: str
    hub_repo: str
    revision: str
    files: dict[str, str]  # file name -> SHA-256 hex


@dataclass(frozen=True)
class ResolvedWeights:
    """A verified model directory and where it came from (``path``, ``cache``, ``hub``, ``shipped``).

    files: the bytes that were checked, file name -> contents, when resolution read them; loading
    those very bytes leaves no moment in which the file could change between check and load.
    """

    directory: Path
    source: str
    files: dict[str, bytes] | None = None


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_weights_dir() -> Path:
    """``weights/`` as shipped in the wheel (``edgedeblur_cli/pretrained``) or in a source checkout."""
    packaged = Path(__file__).resolve().parent / "pretrained"
    if (packaged / "manifest.json").is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "weights"


def load_manifest(directory: Path | None = None) -> dict[str, ManifestEntry]:
    path = (directory or shipped_weights_dir()) / "manifest.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {
        name: ManifestEntry(name, spec["hub_repo"], spec["revision"], dict(spec["files"]))
        for name, spec in raw.get("models", {}).items()
    }


# ---------------------------------------------------------------- saving and loading


def save_model_dir(model: nn.Module, architecture: str, directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` + ``SHA256SUMS`` to ``directory`` atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"architecture": architecture, "config": model_config_dict(model), **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(directory / WEIGHTS_FILE, save(state, metadata={"architecture": architecture}))
    write_atomic(directory / CONFIG_FILE, (json.dumps(config, indent=2) + "\n").encode())
    sums = "".join(f"{sha256_file(directory / f)}  {f}\n" for f in (CONFIG_FILE, WEIGHTS_FILE))
    write_atomic(directory / CHECKSUM_FILE, sums.encode())
    return directory


def read_checksums(directory: Path) -> dict[str, str]:
    path = directory / CHECKSUM_FILE
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if name:
            sums[name] = digest
    return sums


def read_verified(directory: Path, expected: dict[str, str]) -> dict[str, bytes]:
    """The contents of every file in ``expected``, each read once and checked against its SHA-256; raises ``WeightsError``."""
    contents = {}
    for name, digest in expected.items():
        path = directory / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise WeightsError(f"{path}: missing") from None
        except OSError as exc:
            raise WeightsError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise WeightsError(
                f"{path}: SHA-256 mismatch (expected {digest[:12]}..., got {actual[:12]}...); the file is "
                "truncated, tampered with or not this model. Delete it (or its Hugging Face cache entry) "
                "so it is fetched again, or pass --weights with a good copy."
            )
        contents[name] = data
    return contents


def load_model_dir(directory: str | os.PathLike, expected: dict[str, str] | None = None, files: dict[str, bytes] | None = None) -> nn.Module:
    """Build and load the model in ``directory`` (checked against ``expected`` or its SHA256SUMS).

    ``files``: contents already read and checked (``ResolvedWeights.files``); whatever is not
    among them is read here, once, and what is checked is what is loaded.
    """
    directory = Path(directory)
    if not (directory / WEIGHTS_FILE).is_file() and WEIGHTS_FILE not in (files or {}):
        raise WeightsError(f"{directory}: no {WEIGHTS_FILE} here")
    contents = dict(files or {})
    sums = expected if expected is not None else read_checksums(directory)
    contents.update(read_verified(directory, {name: digest for name, digest in sums.items() if name not in contents}))
    try:
        config_bytes = contents[CONFIG_FILE] if CONFIG_FILE in contents else (directory / CONFIG_FILE).read_bytes()
        config = json.loads(config_bytes)
        model = create_model(config["architecture"], config.get("config", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{directory / CONFIG_FILE}: not a valid model config ({exc})") from exc
    weights_path = directory / WEIGHTS_FILE
    try:
        weights = contents[WEIGHTS_FILE] if WEIGHTS_FILE in contents else weights_path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{weights_path}: cannot read ({exc.strerror or exc})") from exc
    load_state(model, weights, weights_path)
    return model.eval()


def load_state(model: nn.Module, data: bytes, path: Path) -> None:
    """Load safetensors ``data`` (the contents of ``path``, named in errors) into ``model``."""
    try:
        state = load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: weights do not fit the architecture in config.json ({exc})") from exc


# ---------------------------------------------------------------- resolution


def resolve_weights(
    name: str,
    weights_path: str | os.PathLike | None = None,
    hub_repo: str | None = None,
    note: Callable[[str], None] = lambda message: None,
    manifest: dict[str, ManifestEntry] | None = None,
    shipped_dir: Path | None = None,
) -> ResolvedWeights:
    """Find verified files for model ``name``: ``--weights``, then the shipped copy, then the Hub (cache first).

    The shipped copy holds the very bytes of the pinned Hub revision (both are checked against
    the manifest's SHA-256), so when it is present the Hub is not asked (no network, and
    huggingface_hub is not even imported: a quarter of a second at every start). The Hub comes
    first when a repository is asked for (``hub_repo`` or ``$EDGEDEBLUR_HUB_REPO``), and is the
    source when the package carries no copy of the model. ``manifest`` and ``shipped_dir``
    default to the ones shipped with the package.
    """
    if weights_path is not None:
        return _resolve_local(Path(weights_path))
    manifest = load_manifest() if manifest is None else manifest
    entry = manifest.get(name)
    if entry is None:
        raise WeightsError(f"no published weights for model {name!r} (known: {', '.join(manifest) or 'none'}); pass --weights")
    asked_repo = hub_repo or os.environ.get(HUB_REPO_ENV)
    shipped = (shipped_dir or shipped_weights_dir()) / name
    has_shipped = (shipped / WEIGHTS_FILE).is_file()
    shipped_problem = None
    if has_shipped and not asked_repo:
        try:
            return ResolvedWeights(shipped, "shipped", read_verified(shipped, entry.files))
        except WeightsError as exc:  # a damaged install: the Hub may still have good bytes
            shipped_problem = exc
    try:
        return ResolvedWeights(_hub_directory(entry, asked_repo or entry.hub_repo), "hub")
    except WeightsError as exc:
        if shipped_problem is not None:
            raise shipped_problem from exc
        problem = str(exc)
    if has_shipped:
        files = read_verified(shipped, entry.files)
        note(f"using the weights shipped with edgedeblur for {name} ({problem})")
        return ResolvedWeights(shipped, "shipped", files)
    raise WeightsError(f"cannot get weights for {name}: {problem}; pass --weights PATH")


def _resolve_local(path: Path) -> ResolvedWeights:
    if path.is_dir():
        return ResolvedWeights(path, "path")
    if path.is_file() and path.suffix == ".safetensors":
        if not (path.parent / CONFIG_FILE).is_file():
            raise WeightsError(f"{path}: needs a {CONFIG_FILE} beside it")
        return ResolvedWeights(path.parent, "path")
    raise WeightsError(f"{path}: not a model directory or .safetensors file")


def _hub_reachable(timeout: float = 2.0) -> str | None:
    """None if the Hub endpoint answers a TCP connect, else why not (avoids minutes of retries offline)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
        return None
    except OSError as exc:
        return f"cannot reach {endpoint.hostname}: {exc.strerror or exc}"


def _hub_directory(entry: ManifestEntry, repo: str) -> Path:
    """Download (or take from the HF cache) every file of ``entry`` and verify it; a bad cache entry is fetched again."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    paths = {}
    cached_all = True
    for filename in entry.files:
        cached = try_to_load_from_cache(repo, filename, revision=entry.revision)
        if not isinstance(cached, str) or sha256_file(cached) != entry.files[filename]:
            cached_all = False
            break
        paths[filename] = Path(cached)
    if cached_all:
        return _single_directory(paths)
    reason = _hub_reachable()
    if reason:
        raise WeightsError(f"Hub not reachable: {reason}")
    for filename, digest in entry.files.items():
        paths[filename] = _download_verified(hf_hub_download, repo, filename, entry.revision, digest)
    return _single_directory(paths)


def _download_verified(download, repo: str, filename: str, revision: str, digest: str) -> Path:
    last_error = ""
    for attempt in range(2):
        try:
            path = Path(download(repo, filename, revision=revision, force_download=attempt > 0))
        except Exception as exc:  # huggingface_hub raises many error types (HTTP, offline, repo not found)
            raise WeightsError(f"download of {repo}/{filename}@{revision} failed: {exc}") from exc
        actual = sha256_file(path)
        if actual == digest:
            return path
        last_error = f"{repo}/{filename}: SHA-256 mismatch (got {actual[:12]}...)"
        _remove_cache_entry(path)
    raise WeightsError(last_error)


def _remove_cache_entry(path: Path) -> None:
    """Delete a bad cached file (the snapshot link and the blob it points to)."""
    try:
        blob = path.resolve()
        path.unlink(missing_ok=True)
        if blob != path:
            blob.unlink(missing_ok=True)
    except OSError:
        pass


def _single_directory(paths: dict[str, Path]) -> Path:
    directories = {p.parent for p in paths.values()}
    if len(directories) != 1:
        raise WeightsError("model files are not in one snapshot folder")
    return directories.pop()


def load_named_model(
    name: str,
    weights_path: str | os.PathLike | None = None,
    hub_repo: str | None = None,
    note: Callable[[str], None] = lambda message: None,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """Resolve, verify and load model ``name`` (or the model at ``weights_path``) in eval mode."""
    manifest = load_manifest()
    resolved = resolve_weights(name, weights_path, hub_repo, note, manifest)
    expected = manifest[name].files if resolved.source in ("hub", "shipped") else None
    return load_model_dir(resolved.directory, expected, resolved.files).to(device)


def load_folder_or_published(source: str, note: Callable[[str], None] = lambda message: None) -> nn.Module:
    """The model in ``source`` if it is a path that exists (a model folder or ``.safetensors``), else
    the published weights of that name (``train --init``'s reading of its argument), in eval mode."""
    return load_named_model(source, source if Path(source).exists() else None, note=note)
