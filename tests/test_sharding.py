"""Sharing a folder out among processes: --shard K/N, torchrun, --dry-run, and resuming a killed share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from edgedeblur_cli.cli import main
from edgedeblur_cli.files.sharding import Shard, parse_shard, share_of, shard_from_environment

from conftest import synthetic_photo


@pytest.fixture
def folder(tmp_path) -> Path:
    """Twelve small photos in a tree, one of them broken."""
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    for i in range(11):
        Image.fromarray(synthetic_photo(36 + i, 52, 30 + i)).save(root / ("trip" if i % 3 else ".") / f"p{i:02d}.png")
    (root / "broken.png").write_bytes(b"not an image")
    return root


def _env(**extra) -> dict:
    """This environment, one thread per process as torchrun sets for each rank (the same arithmetic everywhere)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", **extra)
    env.pop("WORLD_SIZE", None)
    return env


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300, env=_env(), **kwargs)


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_parse_shard():
    assert parse_shard("2/5") == Shard(2, 5) and str(Shard(2, 5)) == "2/5"
    for bad in ("0/2", "3/2", "1/0", "one/two", "1", "-1/2", "1/2/3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1/0", "words"])
def test_a_bad_shard_is_a_usage_error_naming_the_option(runner, photo_dir, bad):
    result = runner.invoke(main, ["restore", str(photo_dir), "-o", "out", "--shard", bad])
    assert result.exit_code == 2 and "--shard" in result.stderr


def test_shares_are_stable_and_adding_files_moves_none():
    # Pinned: a share must not change between versions, machines or processes (Python's hash() would).
    assert [share_of(f"p{i}.png", 4) for i in range(8)] == [share_of(f"p{i}.png", 4) for i in range(8)]
    assert share_of("trip/p01.png", 7) == 1 + int.from_bytes(__import__("hashlib").blake2b(b"trip/p01.png", digest_size=8).digest(), "big") % 7
    before = {f"f{i}.jpg": share_of(f"f{i}.jpg", 3) for i in range(200)}
    assert set(before.values()) == {1, 2, 3}
    after = {f"f{i}.jpg": share_of(f"f{i}.jpg", 3) for i in range(300)}
    assert all(after[k] == v for k, v in before.items())


def test_torchrun_environment_gives_the_share():
    assert shard_from_environment({}) is None
    assert shard_from_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert shard_from_environment({"WORLD_SIZE": "4", "RANK": "2"}) == Shard(3, 4)


def test_shards_together_write_exactly_what_one_process_writes(tiny_model_dir, folder, tmp_path):
    common = ["-m", "edgedeblur_cli", "restore", folder, "-r", "--weights", tiny_model_dir, "--device", "cpu", "--json"]
    alone = _cli(*common, "-o", tmp_path / "alone")
    assert alone.returncode == 1 and "broken.png" in alone.stderr  # the broken file fails, the rest is done
    shares = [_cli(*common, "-o", tmp_path / "sharded", "--shard", f"{k}/3") for k in (1, 2, 3)]
    done = [json.loads(s.stdout)["summary"]["done"] for s in shares]
    assert sum(done) == 11 and all(d > 0 for d in done)  # each input once, and the work is spread
    assert sum(s.returncode for s in shares) == 1  # only the share holding broken.png fails
    assert _outputs(tmp_path / "sharded") == _outputs(tmp_path / "alone")


def test_two_processes_under_torchrun_write_what_one_writes(tiny_model_dir, folder, tmp_path):
    common = ["restore", folder, "-r", "--weights", tiny_model_dir, "--device", "cpu"]
    alone = _cli("-m", "edgedeblur_cli", *common, "-o", tmp_path / "alone")
    ranked = _cli("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "edgedeblur_cli", *common, "-o", tmp_path / "ranked")
    assert ranked.returncode != 0  # a rank failed (broken.png): the job says so
    assert ranked.stderr.count("11 restored, 0 skipped, 1 failed") == 1, ranked.stderr  # one summary, of the whole job
    assert _outputs(tmp_path / "ranked") == _outputs(tmp_path / "alone")
    assert len(_outputs(tmp_path / "alone")) == 11


def test_a_killed_share_resumes_where_it_stopped(folder, tmp_path):
    """Killed mid-run, a share leaves only complete outputs; run again, it does only the rest."""
    for i in range(11, 40):  # enough work that the kill lands mid-run
        Image.fromarray(synthetic_photo(96, 128, 30 + i)).save(folder / f"q{i:02d}.png")
    (folder / "broken.png").unlink()
    args = ["-m", "edgedeblur_cli", "restore", folder, "-r", "--shard", "1/2", "--batch-size", "1", "--device", "cpu"]
    reference = _outputs(tmp_path / "reference") if _cli(*args, "-o", tmp_path / "reference").returncode == 0 else None
    assert reference
    process = subprocess.Popen([sys.executable, *map(str, args), "-o", str(tmp_path / "out"), "-q"], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # A write the kill interrupted leaves its temporary ".NAME.RANDOM.part" (SIGKILL runs no
    # clean-up): never an output's name, and removed by the next run (checked below).
    is_part = lambda name: name.rpartition("/")[2].startswith(".") and name.endswith(".part")  # noqa: E731
    partial = {name: data for name, data in _outputs(tmp_path / "out").items() if not is_part(name)}
    assert 0 < len(partial) < len(reference)  # killed mid-run
    assert all(reference[name] == data for name, data in partial.items())  # nothing half-written
    resumed = _cli(*args, "-o", tmp_path / "out", "--json")
    summary = json.loads(resumed.stdout)["summary"]
    assert resumed.returncode == 0 and summary == {"done": len(reference) - len(partial), "skipped": len(partial), "failed": 0}
    assert _outputs(tmp_path / "out") == reference


def test_dry_run_lists_the_share_and_writes_nothing(runner, tiny_model_dir, folder, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(main, ["restore", str(folder), "-r", "-o", str(out), "--shard", "2/3", "--dry-run", "--json"])
    assert result.exit_code == 0 and not out.exists()
    plan = json.loads(result.stdout)
    assert plan["shard"] == "2/3"
    listed = {Path(row["input"]).name for row in plan["plan"]}
    alone = runner.invoke(main, ["restore", str(folder), "-r", "-o", str(out), "--dry-run", "--json"])
    everything = {Path(row["input"]).name for row in json.loads(alone.stdout)["plan"]}
    assert len(everything) == 12 and 0 < len(listed) < 12 and listed <= everything


RECIPES = Path(__file__).resolve().parent.parent / "examples" / "cluster"


def _recipe_env(**extra) -> dict:
    # The console script `edgedeblur` beside this interpreter, as an installed image would have it.
    return _env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def test_the_slurm_recipe_restores_every_file_once(tiny_model_dir, folder, tmp_path):
    """Each array task's command line, run here as Slurm would run it, with the recipe's variables."""
    (folder / "broken.png").unlink()
    done = []
    for task in (1, 2, 3):
        env = _recipe_env(SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_COUNT="3")
        result = subprocess.run(["bash", str(RECIPES / "slurm-restore.sh"), str(folder), str(tmp_path / "out"), "--weights", str(tiny_model_dir), "--json"],
                                capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr
        done.append(json.loads(result.stdout)["summary"]["done"])
    assert sum(done) == 11 and len(_outputs(tmp_path / "out")) == 11


def test_the_kubernetes_recipe_restores_every_file_once(folder, tmp_path):
    """The Indexed Job's container command, run here once per completion index."""
    import yaml

    job = yaml.safe_load((RECIPES / "k8s-restore-job.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    script = container["args"][0]
    assert f"/{spec['completions']}\"" in script  # the shares it asks for are the pods it starts
    script = script.replace("/data/photos", str(folder)).replace("/data/restored", str(tmp_path / "out"))
    (folder / "broken.png").unlink()
    for index in range(spec["completions"]):
        result = subprocess.run([*container["command"], script], capture_output=True, text=True, timeout=300,
                                env=_recipe_env(JOB_COMPLETION_INDEX=str(index)))
        assert result.returncode == 0, result.stderr
    assert len(_outputs(tmp_path / "out")) == 11


def test_torchrun_ranks_split_the_list_evenly(runner, folder, tmp_path, monkeypatch):
    """One torchrun job over one list: rank r takes every WORLD_SIZE-th file from r, so shares differ by one at most."""
    monkeypatch.setenv("WORLD_SIZE", "5")
    shares = []
    for rank in range(5):
        monkeypatch.setenv("RANK", str(rank))
        result = runner.invoke(main, ["restore", str(folder), "-r", "-o", str(tmp_path / "out"), "--dry-run", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["shard"] == f"{rank + 1}/5"
        shares.append({row["input"] for row in json.loads(result.stdout)["plan"]})
    assert sorted(map(len, shares)) == [2, 2, 2, 3, 3] and len(set().union(*shares)) == 12
    result = runner.invoke(main, ["restore", str(folder), "-o", str(tmp_path / "out"), "--shard", "1/2", "--dry-run"])
    assert result.exit_code == 2 and "torchrun" in result.stderr  # one way to split at a time
