"""Deployment files: image, Kubernetes manifests, and sharding (Compose: test_deploy_compose)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import DASHBOARDS
from exporter.runtime import Runtime
from exporter.targets import shard_of
from tests.conftest import ROOT, FrozenClock, envelope, make_settings, need_binary

K8S = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose"
# every overlay as committed, and the components on top of the base or the sharded variant (each
# component in at least one case: tests/test_deploy_kubernetes.py checks it)
OVERLAYS = ["base", "overlays/example", "overlays/example-tls", "sharded"]
CASES: dict[str, tuple[str, list[str]]] = {
    "all-components": (
        "overlays/example",
        ["callbacks", "tls-basic-auth", "cert-manager", "credentials-from-file"],
    ),
    "sharded-all-components": ("sharded", ["kube-prometheus-stack", "callbacks", "tls-basic-auth"]),
    "callbacks": ("overlays/example", ["callbacks"]),
}
KUSTOMIZATIONS = OVERLAYS + list(CASES)


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
    from exporter.runtime import _limiters
    from tests.conftest import FrozenClock

    kw = {"rate_limit": {"headroom": 0.9, "requests_per_second": None}}
    total_default = total_detail = 0.0
    for i in range(1, shards + 1):
        lims = _limiters(make_settings(shard=f"{i}/{shards}", **kw), FrozenClock(0))
        total_default += lims["ListRealTimeQuality"].rate
        total_detail += lims["ListCallDetail"].rate
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


def render_all(tmp: Path) -> dict[str, Path]:
    """`kubectl kustomize` of every overlay and case, from a copy of deploy/kubernetes (the
    cases are kustomizations written beside the overlays; credentials-from-file gets its
    git-ignored file)."""
    kubectl = tool("kubectl")
    tree = tmp / "kubernetes"
    shutil.copytree(K8S, tree)
    (tree / "components" / "credentials-from-file" / "secret_access_key").write_text("sk-test")
    for name, (resource, components) in CASES.items():
        case = tree / "cases" / name
        case.mkdir(parents=True)
        (case / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "namespace": "monitoring",
                    "resources": [f"../../{resource}"],
                    "components": [f"../../components/{c}" for c in components],
                }
            )
        )
    out = {}
    for k in KUSTOMIZATIONS:
        res = run(kubectl, "kustomize", str(tree / (k if k in OVERLAYS else f"cases/{k}")))
        assert res.returncode == 0, f"{k}: {res.stderr}"
        assert res.stderr == "", f"{k}: kustomize warns: {res.stderr}"  # current syntax only
        path = tmp / "rendered" / (k.replace("/", "-") + ".yaml")
        path.parent.mkdir(exist_ok=True)
        path.write_text(res.stdout)
        out[k] = path
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return render_all(tmp_path_factory.mktemp("k8s"))


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_kubernetes_schemas(rendered: dict[str, Path], k: str) -> None:
    res = run(tool("kubernetes-validate"), "--strict", "--quiet", str(rendered[k]))
    assert res.returncode == 0, res.stdout + res.stderr
    kinds = {d["kind"] for d in docs(rendered[k])}
    assert {"ConfigMap", "Service", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"} <= kinds


def test_checkov_kubernetes(rendered: dict[str, Path]) -> None:
    """One run over every rendering (checkov's start-up is most of its time)."""
    res = run(
        tool("checkov"),
        "-d",
        str(next(iter(rendered.values())).parent),
        "--framework",
        "kubernetes",
        "--quiet",
        "--compact",
        "--skip-download",
        env={"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Failed checks: 0" in res.stdout


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
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        # plain HTTP; with basic auth (tls-basic-auth) an authenticated exec
        assert path in str(c[probe].get("httpGet", {}).get("path", c[probe].get("exec")))
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert not any("valueFrom" in e for e in c.get("env", []))  # secrets as files, not env
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
    assert set(dashboards["data"]) == {f"{u}.json" for u in DASHBOARDS}
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


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_servicemonitor_finds_each_pod_once(rendered: dict[str, Path], k: str) -> None:
    """Targets per pod: Services the ServiceMonitor selects, whose selector picks the pod and
    that expose the scraped port. Two would scrape every exporter twice."""
    all_docs = docs(rendered[k])
    sm = next(d for d in all_docs if d["kind"] == "ServiceMonitor")
    pod = next(d for d in all_docs if d["kind"] in ("Deployment", "StatefulSet"))["spec"][
        "template"
    ]
    ports = {e["port"] for e in sm["spec"]["endpoints"]}
    targets = [
        svc["metadata"]["name"]
        for svc in all_docs
        if svc["kind"] == "Service"
        and matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"].get("labels", {}))
        and matches(svc["spec"]["selector"], pod["metadata"]["labels"])
        for port in svc["spec"]["ports"]
        if port["name"] in ports
    ]
    assert targets == ["volc-rtc-exporter"]


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_servicemonitor_job_is_the_mixins_exporter_job(rendered: dict[str, Path], k: str) -> None:
    sm = next(d for d in docs(rendered[k]) if d["kind"] == "ServiceMonitor")
    relabel = sm["spec"]["endpoints"][0]["relabelings"]
    assert {
        "action": "replace",
        "targetLabel": "job",
        "replacement": MixinConfig().exporter_job,
    } in relabel
    rule = next(d for d in docs(rendered[k]) if d["kind"] == "PrometheusRule")
    assert f'up{{job="{MixinConfig().exporter_job}"}}' in str(rule["spec"])


def test_tls_overlay_release_label_tls_and_basic_auth(rendered: dict[str, Path]) -> None:
    all_docs = docs(rendered["overlays/example-tls"])
    for kind in ("ServiceMonitor", "PrometheusRule"):
        d = next(d for d in all_docs if d["kind"] == kind)
        assert d["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    ep = next(d for d in all_docs if d["kind"] == "ServiceMonitor")["spec"]["endpoints"][0]
    assert ep["scheme"] == "https"
    assert ep["basicAuth"]["password"] == {"name": "volc-rtc-scrape-auth", "key": "password"}
    assert ep["tlsConfig"]["ca"]["secret"]["name"] == "volc-rtc-exporter-tls"
    deploy = next(d for d in all_docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    c = deploy["containers"][0]
    web_arg = next(a for a in c["args"] if a.startswith("--web.config.file="))
    web_dir = os.path.dirname(web_arg.split("=", 1)[1])
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in deploy["volumes"] if "secret" in v}
    assert secrets[mounts[web_dir]] == "volc-rtc-exporter-web"
    # the web config the README puts into that Secret names the mounted certificate
    web_config = yaml.safe_load((K8S / "components/tls-basic-auth/web-config.yml").read_text())
    cert_dir = os.path.dirname(web_config["tls_server_config"]["cert_file"])
    assert secrets[mounts[cert_dir]] == "volc-rtc-exporter-tls"
    assert "prometheus" in web_config["basic_auth_users"]


def test_image_tag_is_the_package_version_everywhere() -> None:
    from exporter import __version__

    image = f"ghcr.io/volc-rtc-exporter/volc-rtc-exporter:{__version__}"
    for manifest in ("base/deployment.yaml", "sharded/statefulset.yaml"):
        assert f"image: {image}\n" in (K8S / manifest).read_text(), manifest
    overlay = yaml.safe_load((K8S / "overlays/example/kustomization.yaml").read_text())
    assert overlay["images"][0]["newTag"] == __version__
    assert overlay["images"][0]["name"] == image.split(":")[0]
    build = f"docker build --build-arg VERSION={__version__} -t {image} ."
    assert build in (ROOT / "CONTRIBUTING.md").read_text()
    assert build in (ROOT / "Dockerfile").read_text()
    assert f"ARG VERSION={__version__}\n" in (ROOT / "Dockerfile").read_text()


def test_license_is_the_declared_one() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
