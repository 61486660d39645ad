"""The container image, read from the Dockerfile with dockerfile-parse: there is no Docker daemon
(and no base image to pull) where the tests run, so the image is checked by what the file says
it is. Each rule is a function of the Dockerfile's text, and every rule is also shown catching a
Dockerfile that breaks it.

The rules: more than one stage, and a final stage that does not start from an earlier one; it
runs as a numeric non-root USER; no compiler or headers are installed or copied into it, and pip
keeps no cache there; it has a HEALTHCHECK on the service's /healthz; and the process it starts
(ENTRYPOINT + CMD, in exec form so SIGTERM reaches it) is ``sms-bridge serve``.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from bot.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
README = ROOT / "README.md"
K8S_UID = 10001
K8S_SERVE_ARGS = ["serve", "--host", "0.0.0.0", "--port", "8080", "--config", "/config/app.yaml"]

# Compilers, build systems and headers: they belong in the builder stage only.
BUILD_TOOLS = re.compile(
    r"(?<![\w-])(gcc|g\+\+|cc|clang|make|cmake|build-essential|[\w.+]+-dev|rustc|cargo)(?![\w-])"
)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str  # continuation lines joined


def stages(text: str) -> list[list[Instruction]]:
    """The instructions of each stage (FROM first), comments left out."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    found: list[list[Instruction]] = []
    for item in parser.structure:
        keyword = str(item["instruction"]).upper()
        if keyword == "COMMENT":
            continue
        if keyword == "FROM":
            found.append([])
        assert found, f"{keyword} before the first FROM"
        found[-1].append(Instruction(keyword, " ".join(str(item["value"]).split())))
    return found


def values(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.value for i in stage if i.keyword == keyword]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values(stage, "ENV"):
        for pair in shlex.split(value):
            name, _, setting = pair.partition("=")
            env[name] = setting
    return env


# -- the rules -----------------------------------------------------------------------------------


def multi_stage(text: str) -> list[str]:
    found = stages(text)
    if len(found) < 2:
        return ["one stage only: the build tools end up in the image"]
    names = set()
    for stage in found[:-1]:
        words = stage[0].value.split()
        if len(words) == 3 and words[1].lower() == "as":
            names.add(words[2])
    final_base = found[-1][0].value.split()[0]
    if final_base in names:
        return [f"the final stage starts FROM {final_base}, so it inherits the build tools"]
    return []


def non_root(text: str) -> list[str]:
    users = values(stages(text)[-1], "USER")
    if not users:
        return ["the final stage sets no USER: it runs as root"]
    user = users[-1].partition(":")[0]
    if user in ("root", "0"):
        return [f"the final stage runs as {users[-1]}"]
    if not user.isdigit():
        return [f"USER {users[-1]} is not numeric: Kubernetes' runAsNonRoot cannot verify it"]
    return []


def no_build_tools(text: str) -> list[str]:
    final = stages(text)[-1]
    problems = []
    for value in values(final, "RUN") + values(final, "COPY") + values(final, "ADD"):
        tools = BUILD_TOOLS.findall(value)
        if tools:
            problems.append(f"the final stage brings in build tools {tools}: {value[:60]}")
    no_cache = env_of(final).get("PIP_NO_CACHE_DIR", "").lower() in ("1", "true", "yes", "on")
    for value in values(final, "RUN"):
        pip = "pip install" in value
        cached = "--no-cache-dir" not in value and "type=cache" not in value
        if pip and cached and not no_cache:
            problems.append(f"pip keeps its cache in the final image: {value[:60]}")
    return problems


def healthcheck(text: str) -> list[str]:
    final = stages(text)[-1]
    checks = values(final, "HEALTHCHECK")
    if not checks or checks[-1].upper() == "NONE":
        return ["the final stage has no HEALTHCHECK"]
    if "/healthz" not in checks[-1]:
        return [f"the HEALTHCHECK does not probe /healthz: {checks[-1]}"]
    return []


def argv_of(final: list[Instruction]) -> list[str]:
    """ENTRYPOINT + CMD, when both are in exec form."""
    argv: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        given = values(final, keyword)
        form = json.loads(given[-1]) if given and given[-1].startswith("[") else []
        argv += [str(part) for part in form]
    return argv


def one_port(text: str) -> list[str]:
    """The service and its HEALTHCHECK follow one setting, $PORT (issue 18 #13): the image
    sets it to the port it EXPOSEs, ``serve`` listens on it (no --port of its own), and the
    HEALTHCHECK probes it (no port written in)."""
    final = stages(text)[-1]
    port = env_of(final).get("PORT")
    exposed = values(final, "EXPOSE")
    if port is None or exposed != [port]:
        return [f"ENV PORT ({port}) is not the port the image EXPOSEs ({exposed})"]
    if any(a == "--port" or a.startswith("--port=") for a in argv_of(final)):
        return ["the CMD sets --port itself: the HEALTHCHECK, which probes $PORT, would miss it"]
    checks = values(final, "HEALTHCHECK")
    if not checks or checks[-1].upper() == "NONE":
        return []  # the healthcheck rule says so
    check = checks[-1]
    if re.search(r"127\.0\.0\.1:\d", check) or not re.search(
        r"os\.environ\[.PORT.\]|\$\{?PORT\b", check
    ):
        return [f"the HEALTHCHECK does not probe $PORT: {check}"]
    return []


def runs_sms_bridge_serve(text: str) -> list[str]:
    final = stages(text)[-1]
    argv: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        given = values(final, keyword)
        if not given:
            continue
        try:
            form = json.loads(given[-1])
        except ValueError:
            form = None
        if not isinstance(form, list):
            return [f"{keyword} is in shell form: SIGTERM would stop the shell, not the service"]
        argv += [str(part) for part in form]
    if argv[:2] != ["sms-bridge", "serve"]:
        return [f"the image runs {argv}, not sms-bridge serve"]
    return []


RULES: list[Callable[[str], list[str]]] = [
    multi_stage,
    non_root,
    no_build_tools,
    healthcheck,
    one_port,
    runs_sms_bridge_serve,
]


def problems(text: str) -> list[str]:
    return [problem for rule in RULES for problem in rule(text)]


# -- the repository's Dockerfile ----------------------------------------------------------------


def test_the_dockerfile_keeps_every_rule() -> None:
    assert problems(DOCKERFILE.read_text(encoding="utf-8")) == []


def final_part(text: str) -> tuple[str, str]:
    """The Dockerfile split before its last FROM."""
    at = text.rindex("\nFROM ")
    return text[:at], text[at:]


def break_final(old: str, new: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        head, tail = final_part(text)
        assert old in tail, old
        return head + tail.replace(old, new)

    return mutate


BROKEN: dict[str, tuple[Callable[[str], str], str]] = {
    "one stage": (lambda text: final_part(text)[1], "one stage only"),
    "final stage from the builder": (
        break_final("FROM python:3.11-slim\n", "FROM builder\n"),
        "inherits the build tools",
    ),
    "no USER": (break_final("USER 10001:10001\n", ""), "runs as root"),
    "USER root": (break_final("USER 10001:10001\n", "USER root\n"), "runs as root"),
    "a named USER": (break_final("USER 10001:10001\n", "USER sms-bridge\n"), "not numeric"),
    "gcc in the final stage": (
        break_final("WORKDIR /app\n", "RUN apt-get install -y gcc libpq-dev\nWORKDIR /app\n"),
        "build tools ['gcc', 'libpq-dev']",
    ),
    "the compiler copied over": (
        break_final("WORKDIR /app\n", "COPY --from=builder /usr/bin/gcc /usr/bin/\nWORKDIR /app\n"),
        "build tools ['gcc']",
    ),
    "pip's cache kept": (break_final("PIP_NO_CACHE_DIR=1", "PIP_NO_CACHE_DIR=0"), "its cache"),
    "no HEALTHCHECK": (
        lambda text: re.sub(r"HEALTHCHECK .*?\n(?=\n)", "", text, flags=re.S),
        "no HEALTHCHECK",
    ),
    "HEALTHCHECK NONE": (
        lambda text: re.sub(r"HEALTHCHECK .*?\n(?=\n)", "HEALTHCHECK NONE\n", text, flags=re.S),
        "no HEALTHCHECK",
    ),
    "shell-form ENTRYPOINT": (
        break_final('ENTRYPOINT ["sms-bridge"]', "ENTRYPOINT sms-bridge"),
        "shell form",
    ),
    "another command": (break_final('CMD ["serve",', 'CMD ["worker",'), "not sms-bridge serve"),
    "HEALTHCHECK on a port written in": (
        break_final(":' + os.environ['PORT'] + '/healthz", ":8080/healthz"),
        "does not probe $PORT",
    ),
    "a --port of the CMD's own": (
        break_final('"0.0.0.0", "--config"', '"0.0.0.0", "--port", "8080", "--config"'),
        "sets --port itself",
    ),
    "PORT not the exposed port": (break_final("ENV PORT=8080", "ENV PORT=9000"), "EXPOSEs"),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_each_rule_catches_a_dockerfile_that_breaks_it(broken: str) -> None:
    mutate, says = BROKEN[broken]
    found = problems(mutate(DOCKERFILE.read_text(encoding="utf-8")))
    assert len(found) == 1 and says in found[0], found


def test_the_image_is_what_the_kubernetes_manifests_expect() -> None:
    builder, final = stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert "pip wheel --wheel-dir /wheels" in " ".join(values(builder, "RUN"))
    # Only the builder's wheels are installed (no index, no source tree copied in).
    assert "pip install --no-index --find-links /wheels" in " ".join(values(final, "RUN"))
    assert not [v for v in values(final, "COPY") if "/src" in v]
    # runAsUser 10001, containerPort 8080, no `command` (the image's ENTRYPOINT is kept).
    assert values(final, "USER") == [f"{K8S_UID}:{K8S_UID}"]
    assert values(final, "EXPOSE") == ["8080"]
    # The manifests pass --port 8080; the image's CMD gets it from its ENV PORT=8080.
    assert env_of(final)["PORT"] == "8080"
    assert serve_args(json.loads(values(final, "CMD")[0]), env_of(final)) == serve_args(
        K8S_SERVE_ARGS, {}
    )
    assert values(final, "WORKDIR") == ["/app"]  # where the default SQLite file lives
    assert env_of(final)["PYTHONUNBUFFERED"] == "1"  # log lines leave at once
    assert env_of(final)["SMS_BRIDGE_CONFIG"] == "/config/app.yaml"


def serve_args(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """What ``sms-bridge <argv>`` runs with ``env`` (just PORT, else none) around it."""
    saved = os.environ.pop("PORT", None)
    os.environ.update({k: v for k, v in env.items() if k == "PORT"})
    try:
        args = build_parser().parse_args(argv)
    finally:
        os.environ.pop("PORT", None)
        if saved is not None:
            os.environ["PORT"] = saved
    return {k: getattr(args, k) for k in ("command", "host", "port", "config")}


def test_the_healthcheck_probes_the_port_serve_listens_on() -> None:
    """One setting: ``serve`` (its --port default) and the HEALTHCHECK both read $PORT, so
    ``docker run -e PORT=9000`` moves both."""
    final = stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    argv = argv_of(final)
    assert argv[0] == "sms-bridge"
    check = json.loads(values(final, "HEALTHCHECK")[-1].split(" CMD ", 1)[1])
    assert check[:2] == ["python", "-c"]
    for port in ("8080", "9000"):
        env = env_of(final) | {"PORT": port}
        assert serve_args(argv[1:], env)["port"] == int(port)
        probed: list[str] = []
        code = (
            check[2]
            .replace("urllib.request.urlopen(", "probed.append((")
            .replace(", timeout=4)", "))")
        )
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            exec(code, {"probed": probed})
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert probed == [f"http://127.0.0.1:{port}/healthz"]


# -- what the build reads, and how to run it ------------------------------------------------------


def test_every_file_the_build_copies_exists_and_survives_the_dockerignore() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for excluded in (".venv", ".git", ".env", "*.db", "app.yaml"):
        assert excluded in patterns  # never baked into the image
    copied = [
        source
        for stage in stages(DOCKERFILE.read_text(encoding="utf-8"))
        for value in values(stage, "COPY")
        if not value.startswith("--from")
        for source in shlex.split(value)[:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"the build copies {source}, which does not exist"
        parts = Path(source).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for pattern in patterns:
            hit = [p for p in prefixes if fnmatch.fnmatch(p, pattern.removeprefix("**/"))]
            assert pattern.startswith("!") or not hit, f"{pattern!r} drops {source}"


def test_the_readme_says_how_to_build_and_run_the_image_in_both_modes() -> None:
    text = README.read_text(encoding="utf-8")
    deploy = text[text.index("## Deploy") :]
    assert "docker build -t sms-bridge:0.1.0 ." in deploy
    runs = [line for line in deploy.splitlines() if line.startswith("docker run ")]
    assert any("-p 8080:8080" in line and line.endswith("sms-bridge:0.1.0") for line in runs)
    # No HTTP server without a public URL, so no /healthz for the HEALTHCHECK to find.
    assert any(
        "--no-healthcheck" in line and line.endswith("sms-bridge:0.1.0 serve --no-public-url")
        for line in runs
    ), runs
