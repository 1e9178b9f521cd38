"""The Compose stack: its files are valid, its Prometheus scrapes the exporter over TLS with
basic auth using the shipped demo certificate and password, and the whole stack runs as local
processes in a private network namespace (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.mixin.config import MixinConfig
from exporter.mixin.render import RULES_PATH, render_all
from tests.conftest import ROOT, need_binary
from tests.procs import Proc
from tests.test_deploy import run, tool

COMPOSE = ROOT / "deploy" / "compose"
K8S_EXAMPLE = ROOT / "deploy" / "kubernetes" / "overlays" / "example"
RULE_COUNT = len(
    re.findall(r"^  - (?:record|alert): ", render_all(MixinConfig())[RULES_PATH], re.M)
)
RULE_GROUPS = set(re.findall(r"^- name: (\S+)", render_all(MixinConfig())[RULES_PATH], re.M))
WEB_CONFIG = "/etc/volc-rtc-exporter-web/web-config.yml"


def exporter_supports_web_config() -> bool:
    """The exporter gains --web.config.file with the core changes; until then the stack test
    cannot run the Compose command line."""
    res = subprocess.run(
        [sys.executable, "-m", "exporter", "--help"], capture_output=True, text=True
    )
    return "--web.config.file" in res.stdout


def test_compose_file_matches_the_compose_spec() -> None:
    res = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(COMPOSE / "docker-compose.yml"),
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_prometheus_and_alertmanager_configs(tmp_path: Path) -> None:
    promtool, amtool = need_binary("promtool"), need_binary("amtool")
    layout = compose_layout(tmp_path)
    res = run(promtool, "check", "config", str(layout / "prometheus.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert (
        f"SUCCESS: {RULE_COUNT} rules found" in res.stdout
    )  # the rules, found as in the container
    res = run(amtool, "check-config", str(COMPOSE / "alertmanager.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    res = run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={COMPOSE / 'alertmanager.yml'}",
        "severity=critical",
        "alertname=RtcVideoStallHigh",
    )
    assert res.stdout.strip() == "pager,chat"


def compose_layout(tmp: Path) -> Path:
    """/etc/prometheus as the Compose file mounts it: prometheus.yml and rules/ (byte copies)."""
    etc = tmp / "etc-prometheus"
    (etc / "rules").mkdir(parents=True)
    shutil.copy(COMPOSE / "prometheus.yml", etc / "prometheus.yml")
    for f in (ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"):
        shutil.copy(f, etc / "rules" / f.name)
    (etc / "tls").mkdir()
    shutil.copy(COMPOSE / "tls" / "ca.crt", etc / "tls" / "ca.crt")
    shutil.copy(COMPOSE / "scrape-password", etc / "scrape-password")
    return etc


def compose_service(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())["services"][name])


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace whose /etc/hosts names the Compose services (all on its loopback)."""
    ip = shutil.which("ip")
    if ip is None or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the Compose stack test needs root and iproute2 in CI")
        pytest.skip("needs root and iproute2")
    name = f"volcrtc{os.getpid()}"
    etc = Path("/etc/netns") / name
    subprocess.run([ip, "netns", "add", name], check=True)
    try:
        etc.mkdir(parents=True, exist_ok=True)
        services = " ".join(
            yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())["services"]
        )
        (etc / "hosts").write_text(f"127.0.0.1 localhost {services}\n")
        subprocess.run([ip, "netns", "exec", name, ip, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run([ip, "netns", "del", name], check=False)
        shutil.rmtree(etc, ignore_errors=True)


def in_ns(ns: str, url: str) -> Any:
    code = f"import urllib.request,sys; sys.stdout.write(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    res = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True, text=True
    )
    if res.returncode != 0:
        return None
    return json.loads(res.stdout)


@pytest.mark.skipif(
    not exporter_supports_web_config(), reason="the exporter has no --web.config.file yet"
)
@pytest.mark.slow
def test_compose_stack_as_local_processes(netns: str, tmp_path: Path) -> None:
    prometheus, alertmanager = need_binary("prometheus"), need_binary("prometheus-alertmanager")
    etc = compose_layout(tmp_path)
    # the exporter's command line is the Compose file's default
    default = re.fullmatch(r"\$\{EXPORTER_ARGS:-(.*)\}", compose_service("exporter")["command"])
    assert default
    exporter_args = [
        a.replace(WEB_CONFIG, str(COMPOSE / "web-config.yml"))
        for a in shlex.split(default.group(1))
    ]
    receiver_cmd = compose_service("receiver")["entrypoint"][1:]  # python [-m ...]
    ns = ["ip", "netns", "exec", netns]
    procs = [
        Proc([*ns, sys.executable, "-m", "exporter", *exporter_args], tmp_path / "exporter.log"),
        Proc([*ns, sys.executable, *receiver_cmd], tmp_path / "receiver.log"),
        Proc(
            [
                *ns,
                alertmanager,
                f"--config.file={COMPOSE / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                "--cluster.listen-address=",
            ],
            tmp_path / "am.log",
        ),
        Proc(
            [
                *ns,
                prometheus,
                f"--config.file={etc / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            ],
            tmp_path / "prom.log",
        ),
    ]
    try:
        deadline = time.monotonic() + 90
        target_up = rules_loaded = am_found = False
        while time.monotonic() < deadline and not (target_up and rules_loaded and am_found):
            time.sleep(2)
            targets = in_ns(netns, "http://prometheus:9090/api/v1/targets")
            if targets:
                active = targets["data"]["activeTargets"]
                target_up = any(
                    t["labels"]["job"] == "volc-rtc"
                    and t["scrapeUrl"] == "https://exporter:9877/metrics"
                    and t["health"] == "up"
                    for t in active
                )
            rules = in_ns(netns, "http://prometheus:9090/api/v1/rules")
            if rules:
                groups = rules["data"]["groups"]
                rules_loaded = {g["name"] for g in groups} == RULE_GROUPS and sum(
                    len(g["rules"]) for g in groups
                ) == RULE_COUNT
            ams = in_ns(netns, "http://prometheus:9090/api/v1/alertmanagers")
            if ams:
                am_found = any(
                    "alertmanager:9093" in a["url"] for a in ams["data"]["activeAlertmanagers"]
                )
        logs = "\n".join(p.output()[-1500:] for p in procs)
        assert target_up, "exporter target not up\n" + logs
        assert rules_loaded, "rules not loaded\n" + logs
        assert am_found, "alertmanager not discovered\n" + logs
        # the demo simulator's admin endpoint, where the README's `docker compose exec` reaches
        # it: on the exporter's own loopback interface
        scenarios = in_ns(netns, "http://127.0.0.1:8080/-/scenarios")
        assert scenarios and "stall_spike" in scenarios["available"]
    finally:
        for p in procs:
            p.stop()


def test_compose_web_config_and_scrape_config_agree() -> None:
    web = yaml.safe_load((COMPOSE / "web-config.yml").read_text())
    prom = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    scrape = prom["scrape_configs"][0]
    assert scrape["job_name"] == MixinConfig().exporter_job
    assert scrape["scheme"] == "https"
    assert scrape["basic_auth"]["username"] in web["basic_auth_users"]
    assert (COMPOSE / scrape["basic_auth"]["password_file"]).is_file()
    assert (COMPOSE / scrape["tls_config"]["ca_file"]).is_file()
    for key in ("cert_file", "key_file"):
        assert (COMPOSE / web["tls_server_config"][key]).is_file()
    mounts = compose_service("prometheus")["volumes"]
    assert "./tls/ca.crt:/etc/prometheus/tls/ca.crt:ro" in mounts
    assert "./scrape-password:/etc/prometheus/scrape-password:ro" in mounts
    assert f"--web.config.file={WEB_CONFIG}" in compose_service("exporter")["command"]


def test_compose_password_matches_its_bcrypt_hash() -> None:
    bcrypt = pytest.importorskip("bcrypt", reason="bcrypt comes with the exporter's web config")
    web = yaml.safe_load((COMPOSE / "web-config.yml").read_text())
    password = (COMPOSE / "scrape-password").read_text().strip().encode()
    assert bcrypt.checkpw(password, web["basic_auth_users"]["prometheus"].encode())


@pytest.mark.parametrize("name", ["exporter", "127.0.0.1"])
def test_compose_demo_certificate_verifies(tmp_path: Path, name: str) -> None:
    """A TLS server with tls/server.* is trusted through tls/ca.crt under the names Prometheus
    and the healthcheck use."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(COMPOSE / "tls" / "server.crt", COMPOSE / "tls" / "server.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(COMPOSE / "tls" / "ca.crt"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_ctx.wrap_socket(raw, server_hostname=name) as tls:
            assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()


def k8s_web_config() -> str:
    """The web config the Kubernetes tls-basic-auth component documents."""
    return (ROOT / "deploy/kubernetes/components/tls-basic-auth/web-config.yml").read_text()


def test_web_configs_load_with_the_exporters_loader(tmp_path: Path) -> None:
    webconfig = pytest.importorskip("exporter.web.config", reason="no --web.config.file yet")
    webconfig.load_web_config(COMPOSE / "web-config.yml")
    tls = tmp_path / "tls"
    tls.mkdir()
    for name in ("crt", "key"):
        (tls / f"tls.{name}").write_bytes((COMPOSE / "tls" / f"server.{name}").read_bytes())
    (tmp_path / "web.yml").write_text(
        k8s_web_config().replace("/etc/volc-rtc-exporter-tls/", str(tls) + "/")
    )
    webconfig.load_web_config(tmp_path / "web.yml")


def test_kubernetes_example_hash_is_the_documented_placeholder() -> None:
    bcrypt = pytest.importorskip("bcrypt", reason="bcrypt comes with the exporter's web config")
    hashed = yaml.safe_load(k8s_web_config())["basic_auth_users"]["prometheus"]
    assert bcrypt.checkpw(b"replace-me", hashed.encode())


# -- safe defaults ------------------------------------------------------------------------------


def published(service: dict[str, Any]) -> list[str]:
    return [str(p) for p in service.get("ports", [])]


def test_compose_publishes_on_loopback_only_and_not_the_simulator_admin() -> None:
    services = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())["services"]
    ports = {name: published(svc) for name, svc in services.items()}
    for name, mapped in ports.items():
        for port in mapped:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert not any(p.endswith(":8080") for mapped in ports.values() for p in mapped)
    assert ports["receiver"] == []
    assert set(ports["exporter"]) == {"127.0.0.1:9877:9877", "127.0.0.1:9878:9878"}
    # the simulator's admin endpoint listens on the container's loopback only
    command = compose_service("exporter")["command"]
    assert "--demo.listen-address=127.0.0.1:8080" in command


def test_compose_grafana_has_no_anonymous_access_and_needs_a_password() -> None:
    env = compose_service("grafana")["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert not any(k.startswith("GF_AUTH_ANONYMOUS_ORG_ROLE") for k in env)
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    assert "export GRAFANA_ADMIN_PASSWORD=" in (ROOT / "README.md").read_text()


def test_compose_keeps_data_in_named_volumes() -> None:
    compose = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    named = set(compose["volumes"])
    for service, path in (
        ("prometheus", "/prometheus"),
        ("grafana", "/var/lib/grafana"),
        ("alertmanager", "/alertmanager"),
    ):
        mounts = dict(v.split(":")[:2] for v in compose["services"][service]["volumes"])
        source = next(s for s, target in mounts.items() if target == path)
        assert source in named, (service, source)
    prometheus_args = compose["services"]["prometheus"]["command"]
    assert "--storage.tsdb.path=/prometheus" in prometheus_args


def test_compose_web_config_comment_names_the_mounted_directory() -> None:
    """The comment says where relative file names resolve: the directory the Compose file
    mounts web-config.yml into (a newcomer followed a wrong path here once)."""
    text = " ".join((COMPOSE / "web-config.yml").read_text().replace("#", " ").split())
    m = re.search(r"relative to this file's directory \((\S+) in the container\)", text)
    assert m, "web-config.yml: the comment on relative file names is gone"
    mount = next(
        v.split(":")[1]
        for v in compose_service("exporter")["volumes"]
        if v.startswith("./web-config.yml:")
    )
    assert m.group(1) == os.path.dirname(mount)
