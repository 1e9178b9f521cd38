"""The Kubernetes tree works as the README and docs/kubernetes.md say: every overlay and every
component rendered with `kubectl kustomize` (tests/test_deploy.py renders them), then the
properties the steps rely on: one namespace, no committed Secret, the Secrets the docs tell you
to create are the ones mounted, a PodDisruptionBudget, a NetworkPolicy that admits Prometheus
(and, with callbacks, the Ingress controller on its own port) and nothing else, the labels
kube-prometheus-stack selects on, the certificate's names, the image."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import __version__
from tests.conftest import ROOT
from tests.test_deploy import CASES, K8S, KUSTOMIZATIONS, OVERLAYS, docs, render_all

IMAGE = "ghcr.io/volc-rtc-exporter/volc-rtc-exporter"
NAMESPACE = "monitoring"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "ClusterIssuer"}
README = (ROOT / "README.md").read_text(encoding="utf-8")
KUBERNETES_MD = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
# kube-prometheus-stack's Prometheus pod, the ingress-nginx controller, anyone else
PROMETHEUS = ({"kubernetes.io/metadata.name": "monitoring"},
              {"app.kubernetes.io/name": "prometheus",
               "prometheus": "kube-prometheus-stack-prometheus"})  # fmt: skip
INGRESS = ({"kubernetes.io/metadata.name": "ingress-nginx"},
           {"app.kubernetes.io/name": "ingress-nginx"})  # fmt: skip
STRANGER = ({"kubernetes.io/metadata.name": "monitoring"}, {"app.kubernetes.io/name": "grafana"})
ELSEWHERE = ({"kubernetes.io/metadata.name": "default"}, PROMETHEUS[1])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return {k: docs(p) for k, p in render_all(tmp_path_factory.mktemp("k8s")).items()}


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def workload(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (w,) = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]
    return w


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_component_is_rendered() -> None:
    components = {p.name for p in (K8S / "components").iterdir() if p.is_dir()}
    used = {c for _, cs in CASES.values() for c in cs}
    for overlay in OVERLAYS:
        text = (K8S / overlay / "kustomization.yaml").read_text()
        used |= set(re.findall(r"components/([\w-]+)", text))
    assert components <= used, components - used


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_one_namespace(rendered: dict[str, list[dict[str, Any]]], k: str) -> None:
    for obj in rendered[k]:
        if obj["kind"] not in CLUSTER_SCOPED:
            assert obj["metadata"].get("namespace") == NAMESPACE, (obj["kind"], obj["metadata"])


def test_docs_use_the_same_namespace() -> None:
    for text in (README, KUBERNETES_MD):
        for ns in re.findall(r"kubectl (?:\S+ )*?(?:-n|--namespace[= ])\s*(\S+)", text):
            assert ns == NAMESPACE
    assert "kubectl create namespace monitoring" in README
    for overlay in (*OVERLAYS, *(f"components/{c}" for c in ("callbacks", "tls-basic-auth"))):
        assert "rtc-monitoring" not in "".join(p.read_text() for p in (K8S / overlay).glob("*"))


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_no_committed_secret_and_every_mounted_one_is_documented(
    rendered: dict[str, list[dict[str, Any]]], k: str
) -> None:
    """Applying never overwrites a Secret you made: the only Secret ever rendered is the one
    credentials-from-file generates from your git-ignored file. Every Secret the workload,
    the ServiceMonitor or the Ingress reads is one the docs tell you how to create."""
    secrets = by_kind(rendered[k], "Secret")
    generated = "credentials-from-file" in CASES.get(k, ("", []))[1]
    assert [s["metadata"]["name"].rsplit("-", 1)[0] for s in secrets] == (
        ["volc-rtc-credentials"] if generated else []
    )
    pod = workload(rendered[k])["spec"]["template"]["spec"]
    wanted = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    text = yaml.safe_dump(by_kind(rendered[k], "ServiceMonitor"))
    wanted |= set(re.findall(r"name: (volc-rtc-[\w-]+)", text)) - {"volc-rtc-exporter"}
    issued = {c["spec"]["secretName"] for c in by_kind(rendered[k], "Certificate")}
    made = {s["metadata"]["name"] for s in secrets}
    for name in wanted - issued - made:
        assert re.search(rf"kubectl -n monitoring create secret \w+ {name}\b",
                         README + KUBERNETES_MD), name  # fmt: skip


def test_the_credentials_file_is_git_ignored() -> None:
    path = "deploy/kubernetes/components/credentials-from-file/secret_access_key"
    res = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert res.returncode == 0, f"{path} is not git-ignored"


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_pod_disruption_budget(rendered: dict[str, list[dict[str, Any]]], k: str) -> None:
    (pdb,) = by_kind(rendered[k], "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    labels = workload(rendered[k])["spec"]["template"]["metadata"]["labels"]
    assert matches(pdb["spec"]["selector"]["matchLabels"], labels)


def admitted(
    policy: dict[str, Any], peer: tuple[dict[str, str], dict[str, str]], port: str
) -> bool:
    """Whether a pod with these namespace and pod labels may connect to the named port."""
    for rule in policy["spec"].get("ingress", []):
        ports = [p["port"] for p in rule.get("ports", [])]
        if ports and port not in ports:
            continue
        for source in rule.get("from", [{}]):  # no `from`: everyone
            ns = source.get("namespaceSelector")
            pods = source.get("podSelector")
            if ns is None and pods is not None:
                ns = {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}  # own namespace
            if matches((ns or {}).get("matchLabels", {}), peer[0]) and matches(
                (pods or {}).get("matchLabels", {}), peer[1]
            ):
                return True
    return False


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_network_policy_admits_prometheus_only(
    rendered: dict[str, list[dict[str, Any]]], k: str
) -> None:
    (policy,) = by_kind(rendered[k], "NetworkPolicy")
    pod = workload(rendered[k])["spec"]["template"]
    assert matches(policy["spec"]["podSelector"]["matchLabels"], pod["metadata"]["labels"])
    for rule in policy["spec"]["ingress"]:
        assert rule["from"] and rule["ports"], rule  # no open door
        assert all("namespaceSelector" in s and "podSelector" in s for s in rule["from"])
    ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    assert ports["http-metrics"] == 9877
    assert admitted(policy, PROMETHEUS, "http-metrics")
    for peer in (STRANGER, ELSEWHERE, INGRESS):
        assert not admitted(policy, peer, "http-metrics"), peer
    if "callbacks" in ports:
        assert ports["callbacks"] == 9878
        assert admitted(policy, INGRESS, "callbacks")
        for peer in (PROMETHEUS, STRANGER, ELSEWHERE):
            assert not admitted(policy, peer, "callbacks"), peer
    assert set(ports) <= {"http-metrics", "callbacks"}


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_kube_prometheus_stack_labels(rendered: dict[str, list[dict[str, Any]]], k: str) -> None:
    resource, components = CASES.get(k, (k, []))
    expected = "kube-prometheus-stack" in components or resource.startswith("overlays/")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        (obj,) = by_kind(rendered[k], kind)
        assert (obj["metadata"]["labels"].get("release") == "kube-prometheus-stack") is expected
    assert not any(
        "release" in o["metadata"].get("labels", {})
        for o in rendered[k]
        if o["kind"] not in ("ServiceMonitor", "PrometheusRule")
    )


@pytest.mark.parametrize("k", KUSTOMIZATIONS)
def test_image_and_pull_policy(rendered: dict[str, list[dict[str, Any]]], k: str) -> None:
    c = workload(rendered[k])["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == f"{IMAGE}:{__version__}"
    assert c["imagePullPolicy"] == "IfNotPresent"


def test_one_image_name_everywhere() -> None:
    compose = yaml.safe_load((ROOT / "deploy/compose/docker-compose.yml").read_text())
    images = {s.get("image") for s in compose["services"].values()} - {None}
    ours = {i for i in images if "volc-rtc-exporter" in i}
    assert ours == {f"{IMAGE}:{__version__}"}
    assert f"-t {IMAGE}:{__version__} ." in README
    assert "volc-rtc-exporter:local" not in README + yaml.safe_dump(compose)
    workflow = (ROOT / ".github/workflows/release.yml").read_text()
    assert f"IMAGE: {IMAGE}\n" in workflow
    # every place that names the image or a release tag names this version
    files = [ROOT / f for f in ("README.md", "CONTRIBUTING.md", "Dockerfile")]
    files += [*(ROOT / "docs").glob("*.md"), *(ROOT / "deploy").rglob("*.y*ml")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(rf"{re.escape(IMAGE)}:(\d[\w.-]*)", text):  # not X.Y.Z
            assert tag == __version__, f"{path.relative_to(ROOT)} names {IMAGE}:{tag}"
        for tag in re.findall(r"volc-rtc-exporter/mixin@v(\d[\w.-]*)", text):
            assert tag == __version__, f"{path.relative_to(ROOT)} names mixin@v{tag}"


def test_tls_certificate_names_what_prometheus_verifies(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objs = rendered["overlays/example-tls"]
    cert = next(c for c in by_kind(objs, "Certificate") if not c["spec"].get("isCA"))
    (sm,) = by_kind(objs, "ServiceMonitor")
    tls = sm["spec"]["endpoints"][0]["tlsConfig"]
    assert tls["ca"]["secret"]["name"] == cert["spec"]["secretName"] == "volc-rtc-exporter-tls"
    assert tls["serverName"] in cert["spec"]["dnsNames"]
    (svc,) = by_kind(objs, "Service")
    assert tls["serverName"] == f"{svc['metadata']['name']}.{NAMESPACE}.svc"
    issuers = {i["metadata"]["name"] for i in by_kind(objs, "Issuer")}
    assert cert["spec"]["issuerRef"]["name"] in issuers


@pytest.mark.parametrize(
    "k", [k for k in KUSTOMIZATIONS if "callbacks" in CASES.get(k, ("", []))[1]]
)
def test_callbacks_component(rendered: dict[str, list[dict[str, Any]]], k: str) -> None:
    objs = rendered[k]
    c = workload(objs)["spec"]["template"]["spec"]["containers"][0]
    assert "--callbacks.listen-address=:9878" in c["args"]
    secret_file = next(e["value"] for e in c["env"]
                       if e["name"] == "VOLC_RTC_EXPORTER_CALLBACKS__SECRET_FILE")  # fmt: skip
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts[str(Path(secret_file).parent)] == "callback-secret"
    (svc,) = [s for s in by_kind(objs, "Service") if s["metadata"]["name"] == "volc-rtc-exporter"]
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["callbacks"]["port"] == 9878 and ports["callbacks"]["targetPort"] == "callbacks"
    (sm,) = by_kind(objs, "ServiceMonitor")
    assert [e["port"] for e in sm["spec"]["endpoints"]] == ["http-metrics"]  # not scraped
    (ingress,) = by_kind(objs, "Ingress")
    assert ingress["spec"]["tls"] and ingress["spec"]["tls"][0]["secretName"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/callbacks", "Exact")
    backend = path["backend"]["service"]
    assert backend == {"name": "volc-rtc-exporter", "port": {"name": "callbacks"}}
    assert re.search(r"^EXPOSE 9877 9878$", (ROOT / "Dockerfile").read_text(), re.M)


# -- the README's steps, as written ---------------------------------------------------------------


def test_readme_kubernetes_steps_apply_what_the_tests_render() -> None:
    block = README.split("**Kubernetes**", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    applied = re.findall(r"kubectl apply -k (\S+)", block)
    assert applied == ["deploy/kubernetes/overlays/example"]
    assert applied[0].removeprefix("deploy/kubernetes/") in OVERLAYS
    assert "create secret generic volc-rtc-credentials --from-file=secret_access_key=" in block
    assert 'up{job="volc-rtc"}' in block  # ends with the exporter scraped
    edited = re.findall(r"\$EDITOR (\S+)", block)
    assert all((ROOT / p).exists() for p in edited)


def test_tls_steps_make_a_web_config_the_exporter_accepts(tmp_path: Path) -> None:
    """The shell lines of docs/kubernetes.md that make the password hash and the web config,
    run as written (python3 being this interpreter); the result loads with the exporter's
    own web-config loader and accepts the password."""
    bcrypt = pytest.importorskip("bcrypt")
    block = KUBERNETES_MD.split("## TLS and basic auth", 1)[1].split("```sh\n", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", "")
    lines = [ln for ln in block.splitlines() if ln.startswith(("HASH=", "sed "))]
    assert len(lines) == 2
    script = "\n".join(["set -eu", "PASSWORD=s3cret-Pass", *lines])
    script = script.replace("python3 -c", f"{sys.executable} -c")
    script = script.replace(" deploy/kubernetes/", f" {ROOT}/deploy/kubernetes/")
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True, env={"PATH": "/usr/bin:/bin"})
    from exporter.web.config import load_web_config

    data = yaml.safe_load((tmp_path / "web-config.yml").read_text())
    assert bcrypt.checkpw(b"s3cret-Pass", data["basic_auth_users"]["prometheus"].encode())
    assert data["tls_server_config"]["cert_file"] == "/etc/volc-rtc-exporter-tls/tls.crt"
    for name in ("tls.crt", "tls.key"):  # the loader opens the certificate: point it at one
        (tmp_path / name).write_bytes((ROOT / "deploy/compose/tls" / name.replace(
            "tls.", "server.")).read_bytes())  # fmt: skip
    local = (tmp_path / "web-config.yml").read_text().replace("/etc/volc-rtc-exporter-tls/", "")
    (tmp_path / "local.yml").write_text(local)
    load_web_config(tmp_path / "local.yml")
