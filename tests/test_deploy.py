"""docker/ checked statically, and its entry point run for real outside Docker.

There is no Docker engine on the test machines: the compose file goes through
docker-compose's own validation and its JSON schema, the Dockerfile through a
parser and consistency checks, and the image's ENTRYPOINT + CMD run here with
the image's environment.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from samestory.config import ENV_PREFIX, Settings

from .conftest import REPO, free_port

COMPOSE = REPO / "docker" / "compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
BIN = Path(sys.executable).parent


def _dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def _instructions(name: str) -> list[str]:
    return [i["value"] for i in _dockerfile().structure if i["instruction"] == name]


def _exec_form(value: str) -> list[str]:
    form = json.loads(value)
    assert isinstance(form, list), f"{value} must use the exec form"
    return form


def test_compose_file_is_accepted_by_docker_compose():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is not installed: .ci/run installs Debian's docker-compose"
    result = subprocess.run([compose, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_file_matches_the_compose_schema():
    compose = shutil.which("docker-compose")
    assert compose
    interpreter = Path(compose).read_text().splitlines()[0].removeprefix("#!").strip()
    where = subprocess.run(
        [interpreter, "-c", "import compose.config, os; print(os.path.dirname(compose.config.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    schema = json.loads((Path(where) / "compose_spec.json").read_text())
    # The schema names draft 2019-09 by an address jsonschema does not know; name the draft here.
    jsonschema.Draft201909Validator.check_schema(schema)
    jsonschema.Draft201909Validator(schema).validate(yaml.safe_load(COMPOSE.read_text()))


def test_dockerfile_is_consistent_with_the_project():
    parser = _dockerfile()
    assert parser.baseimage.startswith("python:3.11")
    for copy in _instructions("COPY"):
        *sources, _ = shlex.split(copy)
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    entrypoint = _exec_form(_instructions("ENTRYPOINT")[-1]) + _exec_form(_instructions("CMD")[-1])
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint[0] in scripts
    fields = {f.upper() for f in Settings.__dataclass_fields__}
    for name in parser.envs:
        if name.startswith(ENV_PREFIX):
            assert name.removeprefix(ENV_PREFIX) in fields, f"{name} is not a setting"
    assert parser.envs["SAMESTORY_PORT"] in _instructions("EXPOSE")
    torch = re.search(r"^TORCH := torch==(\S+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert f"TORCH_VERSION={torch}" in _instructions("ARG")
    healthcheck = _instructions("HEALTHCHECK")[-1]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["samestory"]
    assert healthcheck.split("CMD", 1)[1].strip() == json.dumps(compose["healthcheck"]["test"][1:])
    assert compose["environment"]["SAMESTORY_PORT"] == parser.envs["SAMESTORY_PORT"]
    assert float(compose["environment"]["SAMESTORY_GRACE_SECONDS"]) < int(compose["stop_grace_period"].rstrip("s"))


def _wait_healthy(command: list[str], process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {process.stderr.read()}")
        if subprocess.run(command, capture_output=True, text=True).returncode == 0:
            return
        time.sleep(0.5)
    pytest.fail("the server did not become healthy in time")


@pytest.mark.slow
def test_image_entry_point_serves_the_seeds_and_stops_on_sigterm(tmp_path):
    parser = _dockerfile()
    port = free_port()
    env = {**os.environ, **parser.envs}
    env.update(SAMESTORY_DATA_DIR=str(tmp_path / "data"), SAMESTORY_HOST="127.0.0.1", SAMESTORY_PORT=str(port))
    command = _exec_form(_instructions("ENTRYPOINT")[-1]) + _exec_form(_instructions("CMD")[-1])
    command[0] = str(BIN / command[0])
    health = _exec_form(_instructions("HEALTHCHECK")[-1].split("CMD", 1)[1])
    health[0] = str(BIN / health[0])
    health[health.index("--target") + 1] = f"127.0.0.1:{port}"
    client = [str(BIN / "samestory-client"), "--target", f"127.0.0.1:{port}"]

    for run in range(2):
        with subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as process:
            try:
                _wait_healthy(health, process, time.monotonic() + 120)
                if run == 0:
                    ingest = subprocess.run(client + ["ingest", str(REPO / "seeds")], capture_output=True, text=True)
                    assert ingest.returncode == 0, ingest.stderr
                    rows = [line.split("\t") for line in ingest.stdout.splitlines()]
                    assert [r[1] for r in rows] == ["NEW_STORY", "SAME_EVENT", "SAME_EVENT"]
                    assert len({r[2] for r in rows}) == 1
                else:
                    stats = subprocess.run(client + ["--json", "stats"], capture_output=True, text=True, check=True)
                    assert json.loads(stats.stdout)["articles"] == "3"
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=float(parser.envs["SAMESTORY_GRACE_SECONDS"]) + 15) == 0
                assert time.monotonic() - started < float(parser.envs["SAMESTORY_GRACE_SECONDS"]) + 15
            finally:
                if process.poll() is None:
                    process.kill()


def test_the_shared_profile_runs_two_replicas_over_one_postgresql():
    compose = shutil.which("docker-compose")
    assert compose
    env = {**os.environ, "POSTGRES_PASSWORD": "pw"}
    result = subprocess.run(
        [compose, "-f", str(COMPOSE), "--profile", "shared", "config"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    replicas = [services["replica-1"], services["replica-2"]]
    stores = {r["environment"]["SAMESTORY_STORE"] for r in replicas}
    assert stores == {"postgresql://samestory:pw@postgres:5432/samestory"}
    assert {r["environment"]["SAMESTORY_LSH"] for r in replicas} == {"redis://redis:6379/0"}
    assert all(set(r["depends_on"]) == {"postgres", "redis"} for r in replicas)
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pw"
    # Each replica its own port and its own snapshot volume.
    assert len({r["ports"][0]["published"] for r in replicas}) == 2
    assert len({r["volumes"][0].split(":")[0] for r in replicas}) == 2
    # Without the profile only the embedded service runs.
    assert [name for name, service in services.items() if "profiles" not in service] == ["samestory"]
