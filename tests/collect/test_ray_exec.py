"""`--executor ray` on a private local cluster (2 CPUs, 2 fake GPUs, no dashboard), two actors.

Records must be byte-identical to the serial run's, each actor must see its own
CUDA_VISIBLE_DEVICES, and killing an actor, then the driver, must recompute no committed unit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import tinymodel as tm

from crma_eval.config import load_config
from crma_eval.run import run_config

pytestmark = pytest.mark.slow  # starts a Ray cluster

pytest.importorskip("ray")  # installed by `make install` (extra `ray`); CI runs these tests

DRIVER = (
    "import sys; from pathlib import Path; from crma_eval.config import load_config;"
    "from crma_eval.run import run_config;"
    "from crma_eval.collect.executors.ray_exec import RayExecutor;"
    "ex = RayExecutor(workers=2, local_gpus=2, quiet=True);"
    "run_config(load_config(sys.argv[1]), Path(sys.argv[2]), quiet=True, executor=ex)"
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    suite = [("the judge reads", "in_domain", "legal"), ("yes no 42", "ood", None)]
    return tm.write_modular_run_config(tmp_path_factory.mktemp("raycfg"), "tiny", suite)


def driver(config: Path, out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", DRIVER, str(config), str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def shard_units(out: Path) -> list[str]:
    found = []
    for ledger in sorted(out.glob("shards/*/ledger.jsonl")):
        found += [json.loads(line)["unit"] for line in ledger.read_text().splitlines()]
    return found


def ledger_units(run: Path) -> list[str]:
    return [json.loads(line)["unit"] for line in (run / "ledger.jsonl").read_text().splitlines()]


def fingerprints(run: Path) -> dict[str, str]:
    lines = (run / "ledger.jsonl").read_text().splitlines()
    return {e["unit"]: e["fp"] for e in map(json.loads, lines)}


def wait_for(predicate, proc: subprocess.Popen[str], what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not predicate():
        time.sleep(0.05)
    assert proc.poll() is None, f"driver ended before {what}: {proc.communicate()[1][-2000:]}"


def test_ray_run_survives_actor_and_driver_kills_with_serial_bytes(
    config: Path, tmp_path: Path
) -> None:
    serial = tmp_path / "serial"
    run_config(load_config(config), serial, quiet=True)
    out = tmp_path / "ray"
    proc = driver(config, out)
    w0 = out / "shards" / "a001-w0"
    wait_for(lambda: (w0 / "ledger.jsonl").exists(), proc, "a unit was committed")
    workers = [json.loads(p.read_text()) for p in sorted(out.glob("shards/*/worker.json"))]
    assert sorted(w["cuda_visible_devices"] for w in workers) == ["0", "1"]
    os.kill(workers[0]["pid"], signal.SIGKILL)  # Ray restarts the actor and retries its group
    restarted = lambda: json.loads((w0 / "worker.json").read_text())["pid"] != workers[0]["pid"]  # noqa: E731
    wait_for(restarted, proc, "the actor restarted")
    before = len(ledger_units(w0))
    # the restarted actor skipped what it had committed and went on: kill the driver mid-group
    wait_for(lambda: len(ledger_units(w0)) > before, proc, "the restarted actor committed a unit")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    first = {p.parent.name: p.read_text() for p in out.glob("shards/a001-*/worker.json")}
    second = driver(config, out)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    units = shard_units(out)
    ledger = [json.loads(line)["unit"] for line in (out / "ledger.jsonl").read_text().splitlines()]
    serial_units = [
        json.loads(x)["unit"] for x in (serial / "ledger.jsonl").read_text().splitlines()
    ]
    assert ledger == serial_units  # merged in plan order
    assert fingerprints(out) == fingerprints(serial)  # a later serial resume skips every unit
    assert Counter(units) == Counter(serial_units)  # every unit computed exactly once
    # The rerun never wrote into the killed run's shards (its actors, if any work was left after
    # the killed run's orphan actors finished, got fresh a002-* shards).
    assert {p.parent.name: p.read_text() for p in out.glob("shards/a001-*/worker.json")} == first
    assert all(p.name[:5] in ("a001-", "a002-") for p in (out / "shards").iterdir())
    for path in sorted((serial / "records").glob("*.jsonl")):
        assert (out / "records" / path.name).read_bytes() == path.read_bytes(), path.name
    ours = json.loads((out / "results.json").read_text())["metrics"]
    assert ours == json.loads((serial / "results.json").read_text())["metrics"]


def test_private_cluster_listens_on_loopback_only() -> None:
    """No process of the private cluster (GCS server, raylet, agents, workers) listens on a
    network interface: Ray's ports have no authentication."""
    import ipaddress

    import ray

    psutil = pytest.importorskip("psutil")
    from crma_eval.collect.executors.ray_exec import RayExecutor

    assert RayExecutor(workers=1, local_gpus=0, quiet=True)._connect(ray)
    try:

        @ray.remote
        class Echo:
            def ping(self) -> int:
                return 1

        assert ray.get(Echo.remote().ping.remote()) == 1  # the cluster works on loopback
        listening = []
        for proc in [psutil.Process(), *psutil.Process().children(recursive=True)]:
            try:
                conns = proc.net_connections(kind="inet")
            except psutil.Error:
                continue
            listen = [c for c in conns if c.status == psutil.CONN_LISTEN]
            listening += [(proc.name(), c.laddr.ip) for c in listen]
        assert listening
        exposed = [(name, ip) for name, ip in listening
                   if not ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback]  # fmt: skip
        assert not exposed, exposed
    finally:
        ray.shutdown()
