"""Weights: SHA-256 checks, the Hub path against a local Hub-like HTTP server, offline fallback."""

from __future__ import annotations

import hashlib
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from edgedeblur_cli.weights import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ManifestEntry,
    WeightsError,
    load_model_dir,
    resolve_weights,
    sha256_file,
    shipped_weights_dir,
    load_manifest,
)

REVISION = "0123456789abcdef0123456789abcdef01234567"


class _HubHandler(BaseHTTPRequestHandler):
    """Serves files as the Hub does: /{repo}/resolve/{revision}/{file} with commit and ETag headers."""

    files: dict[str, bytes] = {}
    requests: list[str] = []

    def _lookup(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return self.files.get(f"{parts[0]}/{parts[1]}/{parts[4]}")

    def _headers(self, body):
        self.send_response(200)
        self.send_header("X-Repo-Commit", REVISION)
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        self.requests.append("HEAD " + self.path)
        body = self._lookup()
        if body is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        self._headers(body)

    def do_GET(self):  # noqa: N802
        self.requests.append("GET " + self.path)
        body = self._lookup()
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self._headers(body)
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tiny_model_dir, tmp_path, monkeypatch):
    files = {f"acme/tiny/{name}": (tiny_model_dir / name).read_bytes() for name in (CONFIG_FILE, WEIGHTS_FILE)}
    handler = type("Handler", (_HubHandler,), {"files": files, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    yield handler, cache
    server.shutdown()


def _entry(model_dir: Path) -> ManifestEntry:
    return ManifestEntry("tiny", "acme/tiny", REVISION, {n: sha256_file(model_dir / n) for n in (CONFIG_FILE, WEIGHTS_FILE)})


def test_hub_download_through_a_local_server(hub, tiny_model_dir, tmp_path):
    handler, cache = hub
    entry = _entry(tiny_model_dir)
    resolved = resolve_weights("tiny", manifest={"tiny": entry}, shipped_dir=tmp_path / "none")
    assert resolved.source == "hub"
    assert str(resolved.directory).startswith(str(cache))
    assert any(r.startswith("GET /acme/tiny/resolve/") for r in handler.requests)
    model = load_model_dir(resolved.directory, entry.files)
    assert model(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    # A second resolution comes from the cache without asking the server again.
    handler.requests.clear()
    assert resolve_weights("tiny", manifest={"tiny": entry}, shipped_dir=tmp_path / "none").source == "hub"
    assert handler.requests == []


def test_corrupt_cache_entry_is_fetched_again(hub, tiny_model_dir, tmp_path):
    handler, _ = hub
    entry = _entry(tiny_model_dir)
    first = resolve_weights("tiny", manifest={"tiny": entry}, shipped_dir=tmp_path / "none")
    cached = (first.directory / WEIGHTS_FILE).resolve()
    cached.write_bytes(cached.read_bytes()[:100])  # truncated on disk
    again = resolve_weights("tiny", manifest={"tiny": entry}, shipped_dir=tmp_path / "none")
    assert sha256_file(again.directory / WEIGHTS_FILE) == entry.files[WEIGHTS_FILE]


def test_hub_serving_wrong_bytes_is_refused(hub, tiny_model_dir, tmp_path):
    handler, _ = hub
    entry = _entry(tiny_model_dir)
    handler.files["acme/tiny/model.safetensors"] = b"not the model"
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        resolve_weights("tiny", manifest={"tiny": entry}, shipped_dir=tmp_path / "none")


def test_shipped_copy_is_used_without_asking_the_hub(hub, tiny_model_dir, tmp_path):
    handler, _ = hub
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped / "tiny")
    notes = []
    resolved = resolve_weights("tiny", note=notes.append, manifest={"tiny": _entry(tiny_model_dir)}, shipped_dir=shipped)
    assert resolved.source == "shipped" and resolved.directory == shipped / "tiny"
    assert handler.requests == [] and notes == []


def test_a_damaged_shipped_copy_is_fetched_from_the_hub(hub, tiny_model_dir, tmp_path):
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped / "tiny")
    (shipped / "tiny" / WEIGHTS_FILE).write_bytes(b"damaged")
    resolved = resolve_weights("tiny", manifest={"tiny": _entry(tiny_model_dir)}, shipped_dir=shipped)
    assert resolved.source == "hub"


def test_an_asked_repo_offline_falls_back_to_shipped_copy_with_one_note(tiny_model_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped / "tiny")
    notes = []
    entry = _entry(tiny_model_dir)
    resolved = resolve_weights("tiny", hub_repo="acme/tiny", note=notes.append, manifest={"tiny": entry}, shipped_dir=shipped)
    assert resolved.source == "shipped"
    assert len(notes) == 1 and "shipped" in notes[0]


def test_tampered_weights_are_refused_before_loading(tiny_model_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped / "tiny")
    data = bytearray((shipped / "tiny" / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (shipped / "tiny" / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256 mismatch.*--weights"):
        resolve_weights("tiny", manifest={"tiny": _entry(tiny_model_dir)}, shipped_dir=shipped)
    # A local model folder is checked against its own SHA256SUMS too.
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        load_model_dir(shipped / "tiny")


def test_shipped_manifest_matches_shipped_files():
    manifest = load_manifest()
    assert manifest, "weights/manifest.json lists no model"
    for name, entry in manifest.items():
        folder = shipped_weights_dir() / name
        for file, digest in entry.files.items():
            assert sha256_file(folder / file) == digest, f"{name}/{file}"


def test_the_bytes_checked_are_the_bytes_loaded(tiny_model_dir, tmp_path):
    """A file swapped after its check (another process, a racing update) is not what gets loaded."""
    from conftest import make_tiny_model

    from edgedeblur_cli.weights import save_model_dir

    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, shipped / "tiny")
    entry = _entry(tiny_model_dir)
    resolved = resolve_weights("tiny", manifest={"tiny": entry}, shipped_dir=shipped)
    assert set(resolved.files) == set(entry.files)
    save_model_dir(make_tiny_model(seed=1), "edgedeblur-s", tmp_path / "other")
    shutil.copy(tmp_path / "other" / WEIGHTS_FILE, shipped / "tiny" / WEIGHTS_FILE)  # swapped after the check
    loaded = load_model_dir(resolved.directory, entry.files, resolved.files)
    original = load_model_dir(tiny_model_dir)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), original.state_dict().values()))


def test_a_folder_or_a_published_name_loads_what_it_names(tiny_model_dir):
    """`train --init` and the tools read their argument as a model folder if it exists, else a published name."""
    from edgedeblur_cli.weights import load_folder_or_published

    notes = []
    published = load_folder_or_published("edgedeblur-s", note=notes.append)  # the shipped copy, no Hub asked
    shipped = load_model_dir(shipped_weights_dir() / "edgedeblur-s", load_manifest()["edgedeblur-s"].files)
    assert all(torch.equal(a, b) for a, b in zip(published.state_dict().values(), shipped.state_dict().values()))
    folder = load_folder_or_published(str(tiny_model_dir))
    tiny = load_model_dir(tiny_model_dir)
    assert all(torch.equal(a, b) for a, b in zip(folder.state_dict().values(), tiny.state_dict().values()))
    assert notes == []
