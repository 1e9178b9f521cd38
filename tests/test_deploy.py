"""Deployment files: image, Compose stack, Kubernetes manifests, and sharding."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.runtime import Runtime, action_rates
from exporter.targets import shard_of
from tests.conftest import ROOT, FrozenClock, envelope, make_settings, need_binary
from tests.procs import Proc

K8S = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose"
KUSTOMIZATIONS = ["base", "overlays/example", "sharded"]


def tool(name: str) -> str:
    local = ROOT / ".venv-tools" / "bin" / name
    return str(local) if local.exists() else need_binary(name)


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}
    )


# -- sharding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shards", [1, 2, 3, 5, 7])
def test_shards_are_disjoint_and_complete(shards: int) -> None:
    apps = [f"{i:04x}e1629c1c1a650ff9fd61cf6"[:24] for i in range(2000)]
    owners = {a: shard_of(a, shards) for a in apps}
    assert set(owners.values()) == set(range(1, shards + 1))
    counts = [sum(1 for o in owners.values() if o == s) for s in range(1, shards + 1)]
    assert sum(counts) == len(apps)  # each app in exactly one shard
    assert min(counts) > len(apps) / shards * 0.8  # and spread evenly
    assert owners == {a: shard_of(a, shards) for a in apps}  # stable


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 6])
def test_shard_budgets_add_up_to_the_quota(shards: int) -> None:
    kw = {
        "rate_limit": {
            "requests_per_second": 2.0,
            "per_action": {"ListCallDetail": 10.0},
            "headroom": 0.9,
        }
    }
    total_default = total_detail = 0.0
    for i in range(1, shards + 1):
        default, per_action = action_rates(make_settings(shard=f"{i}/{shards}", **kw))
        total_default += default
        total_detail += per_action["ListCallDetail"]
    assert total_default == pytest.approx(2.0 * 0.9)
    assert total_detail == pytest.approx(10.0 * 0.9)


def test_discovery_with_shards_monitors_only_its_share() -> None:
    import httpx

    apps = [{"AppId": f"app-{i:03d}", "AppName": f"n{i}", "Status": 1} for i in range(60)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=envelope({"AppList": apps, "Total": len(apps)}))

    seen: set[str] = set()
    for i in (1, 2, 3):
        rt = Runtime.build(
            make_settings(apps=None, shard=f"{i}/3"),
            transport=httpx.MockTransport(handler),
            clock=FrozenClock(1704196800.0),
        )
        rt.refresher.refresh("apps")
        mine = {t.app_id for t in rt.targets.current()}
        assert mine and not (mine & seen)
        assert all(shard_of(a, 3) == i for a in mine)
        seen |= mine
    assert seen == {a["AppId"] for a in apps}


def test_auto_shard_from_statefulset_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "volc-rtc-exporter-2")
    assert make_settings(shard="auto/3").shard_index == (3, 3)


# -- image --------------------------------------------------------------------------------------


def test_hadolint() -> None:
    res = run(tool("hadolint"), str(ROOT / "Dockerfile"))
    assert res.returncode == 0, res.stdout + res.stderr


def test_dockerfile_essentials() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER 10001", text, re.M)
    assert re.search(r"^EXPOSE 9877", text, re.M)
    assert "HEALTHCHECK" in text and "/-/healthy" in text
    assert 'ENTRYPOINT ["volc-rtc-exporter"]' in text
    assert "org.opencontainers.image.source" in text
    assert not re.search(r"^ARG .*(SECRET|KEY|TOKEN)", text, re.M | re.I)


def checkov(path: Path, framework: str) -> None:
    res = run(
        tool("checkov"),
        "-f",
        str(path),
        "--framework",
        framework,
        "--quiet",
        "--compact",
        "--skip-download",
        env={"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Failed checks: 0" in res.stdout


def test_checkov_dockerfile() -> None:
    checkov(ROOT / "Dockerfile", "dockerfile")


# -- Kubernetes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    kubectl = need_binary("kubectl")
    out = {}
    tmp = tmp_path_factory.mktemp("k8s")
    for k in KUSTOMIZATIONS:
        res = run(kubectl, "kustomize", str(K8S / k))
        assert res.returncode == 0, f"{k}: {res.stderr}"
        path = tmp / (k.replace("/", "-") + ".yaml")
        path.write_text(res.stdout)
        out[k] = path
    return out


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_kubernetes_schemas(rendered: dict[str, Path], k: str) -> None:
    res = run(tool("kubernetes-validate"), "--strict", "--quiet", str(rendered[k]))
    assert res.returncode == 0, res.stdout + res.stderr
    kinds = {d["kind"] for d in docs(rendered[k])}
    assert {"ConfigMap", "Service", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_checkov_kubernetes(rendered: dict[str, Path], k: str) -> None:
    checkov(rendered[k], "kubernetes")


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_workloads_are_hardened_and_selected(rendered: dict[str, Path], k: str) -> None:
    all_docs = docs(rendered[k])
    workloads = [d for d in all_docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 1
    w = workloads[0]
    pod = w["spec"]["template"]
    c = pod["spec"]["containers"][0]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert c["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert not any("secret" in str(e).lower() for e in c.get("env", []))  # secrets as files
    labels = pod["metadata"]["labels"]
    for svc in (d for d in all_docs if d["kind"] == "Service"):
        assert all(labels.get(key) == v for key, v in svc["spec"]["selector"].items()), svc[
            "metadata"
        ]["name"]
    netpol = next(d for d in all_docs if d["kind"] == "NetworkPolicy")
    assert all(
        labels.get(key) == v for key, v in netpol["spec"]["podSelector"]["matchLabels"].items()
    )
    sm = next(d for d in all_docs if d["kind"] == "ServiceMonitor")
    svc = next(
        d
        for d in all_docs
        if d["kind"] == "Service" and d["metadata"]["name"] == "volc-rtc-exporter"
    )
    assert all(
        svc["metadata"]["labels"].get(key) == v
        for key, v in sm["spec"]["selector"]["matchLabels"].items()
    )
    ep = sm["spec"]["endpoints"][0]
    assert int(ep["scrapeTimeout"].rstrip("s")) < int(ep["interval"].rstrip("s"))
    dashboards = next(
        d
        for d in all_docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "volc-rtc-dashboards"
    )
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert set(dashboards["data"]) == {
        f"{u}.json"
        for u in ("rtc-overview", "rtc-daily-report", "rtc-client-watch", "rtc-exporter-health")
    }
    if k == "sharded":
        assert (
            w["kind"] == "StatefulSet"
            and "--shard=auto/3" in c["args"]
            and w["spec"]["replicas"] == 3
        )


def test_prometheusrule_passes_promtool(rendered: dict[str, Path], tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    rule = next(d for d in docs(rendered["base"]) if d["kind"] == "PrometheusRule")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    res = run(promtool, "check", "rules", str(path))
    assert res.returncode == 0, res.stdout + res.stderr


def test_example_config_in_configmaps_is_valid(rendered: dict[str, Path], tmp_path: Path) -> None:
    from exporter.settings import load_settings

    secret = tmp_path / "sk"
    secret.write_text("x")
    for k in KUSTOMIZATIONS:
        cm = next(
            d for d in docs(rendered[k]) if d["metadata"]["name"] == "volc-rtc-exporter-config"
        )
        cfg = tmp_path / f"{k.replace('/', '-')}.yml"
        cfg.write_text(
            cm["data"]["config.yml"].replace(
                "/var/run/secrets/volcengine/secret_access_key", str(secret)
            )
        )
        load_settings(cfg)


# -- Compose ------------------------------------------------------------------------------------


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
    assert "SUCCESS: 14 rules found" in res.stdout  # the generated rules, found as in the container
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


def test_compose_stack_as_local_processes(netns: str, tmp_path: Path) -> None:
    prometheus, alertmanager = need_binary("prometheus"), need_binary("prometheus-alertmanager")
    etc = compose_layout(tmp_path)
    # the exporter's command line is the Compose file's default
    default = re.fullmatch(r"\$\{EXPORTER_ARGS:-(.*)\}", compose_service("exporter")["command"])
    assert default
    exporter_args = shlex.split(default.group(1))
    receiver_cmd = compose_service("receiver")["entrypoint"][2:]  # python -m ...
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
                    and t["scrapeUrl"] == "http://exporter:9877/metrics"
                    and t["health"] == "up"
                    for t in active
                )
            rules = in_ns(netns, "http://prometheus:9090/api/v1/rules")
            if rules:
                groups = rules["data"]["groups"]
                rules_loaded = {g["name"] for g in groups} == {
                    "volc-rtc.recording",
                    "volc-rtc.alerts",
                } and sum(len(g["rules"]) for g in groups) == 14
            ams = in_ns(netns, "http://prometheus:9090/api/v1/alertmanagers")
            if ams:
                am_found = any(
                    "alertmanager:9093" in a["url"] for a in ams["data"]["activeAlertmanagers"]
                )
        logs = "\n".join(p.output()[-1500:] for p in procs)
        assert target_up, "exporter target not up\n" + logs
        assert rules_loaded, "rules not loaded\n" + logs
        assert am_found, "alertmanager not discovered\n" + logs
        # the demo simulator's admin endpoint is where the Compose file publishes it
        scenarios = in_ns(netns, "http://exporter:8080/-/scenarios")
        assert scenarios and "stall_spike" in scenarios["available"]
    finally:
        for p in procs:
            p.stop()
