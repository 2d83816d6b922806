"""deploy/kubernetes/overlays/dev, run for real without a cluster: `podman kube play`.

In the compose stage (the container lab's podman 4.3 is the engine), the dev
overlay's workloads run as pods: MySQL, Redis and memcached, then the migration
Job's pod (`migrate`), then the web Deployment, whose /readyz must answer 200 with
the database, Redis and memcached of the overlay all ok, then the jobs worker's
Deployment, whose `flask jobs alive` (its probe) must pass: it rendered the config,
reached the three and its consumer beats on Redis. The real overlays are
never changed for the lab: a throw-away overlay in a temporary folder (on top of
overlays/dev) and the edits below adapt the rendered objects to what podman 4.3
runs, each for a reason seen here:

- kinds: podman plays Pod, Deployment and PersistentVolumeClaim (and a ConfigMap
  given with --configmap). Service, Ingress, HorizontalPodAutoscaler,
  PodDisruptionBudget, NetworkPolicy and Namespace are not run, so they are left
  out; the Job runs as a Pod of its own (restartPolicy Never), before the web pods.
- names: pods find each other by pod name (a Deployment `x` is pod `x-pod-0`), not
  by Service: the throw-away overlay points DB_HOST, REDIS_HOST and MEMCACHED_HOST
  at those pod names, and prefixes every name so a run never meets another's leftovers.
- Secret volumes: podman 4.3.1 writes a Secret's `data` into the files still
  base64-encoded, ignores `items` and `stringData`, and crashes on a volume without
  `optional`; the same files (per `items`) are mounted from a host folder instead.
- emptyDir: podman 4.3.1 makes each one a named volume called after the volume
  (`tmp`, `instance`: shared by every pod, kept after `kube down`) and fills it
  from the host's path when the mount path crosses a symlink (/var/run); each
  becomes a host folder of its own (mode 1777).
- ports: podman 4.3.1 publishes every containerPort on the host's same port
  (3306, 6379 and 11211 are the machine's own services'): they are dropped, the
  pods talk over the network created here.
- probes: podman 4.3.1 turns a livenessProbe into a curl/nc healthcheck (neither is
  in these images; a named port becomes port 0) and ignores the others: dropped;
  the test asks /readyz itself (and runs the worker's exec probe itself).
- users: the lab's mysql and redis images are Debian builds whose users are
  100:101, not the official images' 999 (overlays/dev's runAsUser): the data
  services run as the owner of their volume's mount point in the lab's image.

Needs podman (the container lab: `cd / && ../shared/container-lab/setup`) and kubectl;
missing either, it fails with the reason. Every wait is bounded; everything it
made is removed in the end, and the pods' logs are kept in instance/kube-play-test.log.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests import tools
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.compose

DEV_OVERLAY = REPO_ROOT / "deploy" / "kubernetes" / "overlays" / "dev"
IMAGE = "localhost/flask-template-app"
TAG = "latest"
# Bounds of every wait, in seconds.
BUILD_TIMEOUT = 900
STEP_TIMEOUT = 180
READY_PROBE = """
import urllib.error, urllib.request
try:
    answer = urllib.request.urlopen("http://127.0.0.1:4200/readyz", timeout=5)
    print(answer.status, answer.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
"""


PODMAN_HINT = "run the container lab's setup (cd / && ../shared/container-lab/setup)"


def tool(name: str) -> str:
    """$NAME (KUBECTL: `make test-compose` points it at .venv-checkov's), else PATH's."""
    return tools.tool(name, PODMAN_HINT if name == "podman" else tools.KUBECTL_HINT)


def run(*command: str, timeout: float = STEP_TIMEOUT, check: bool = True, **options) -> subprocess.CompletedProcess:
    return tools.run(command, timeout=timeout, check=check, **options)


def throwaway_overlay(folder: Path, prefix: str, values: dict[str, str]) -> Path:
    """overlays/dev with unique names, the lab's image and hosts, and a Secret."""
    folder.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # The dev overlay's namespace: the Secret below must share it for kustomize
        # to rename the references to it.
        "namespace": "flask-template-dev",
        "namePrefix": prefix,
        # kustomize takes relative paths only.
        "resources": [os.path.relpath(DEV_OVERLAY, folder), "secret.yaml"],
        # Fully qualified: podman refuses short names where no search registry is set.
        "images": [{"name": "flask-template-app", "newName": IMAGE, "newTag": TAG},
                   *({"name": name, "newName": f"docker.io/library/{name}"}
                     for name in ("mysql", "redis", "memcached"))],
        "configMapGenerator": [{
            "name": "app-config",
            "behavior": "merge",
            "literals": [f"DB_HOST={prefix}mysql-pod-0", f"REDIS_HOST={prefix}redis-pod-0",
                         f"MEMCACHED_HOST={prefix}memcached-pod-0"],
        }],
    }
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secrets"},
              "type": "Opaque", "stringData": values}
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    (folder / "secret.yaml").write_text(yaml.safe_dump(secret, sort_keys=False))
    return folder


def owner_in_image(podman: str, image: str, path: str) -> tuple[int, int]:
    stat = run(podman, "run", "--rm", "--entrypoint", "stat", image, "-c", "%u:%g", path).stdout.split()[0]
    user, group = stat.split(":")
    return int(user), int(group)


class Adapter:
    """The edits of the module's docstring, applied to one pod spec."""

    def __init__(self, podman: str, folder: Path, values: dict[str, str]):
        self.podman, self.folder, self.values = podman, folder, values

    def host_folder(self, pod: str, volume: str, mode: int) -> str:
        path = self.folder / f"{pod}-{volume}"
        path.mkdir(parents=True)
        path.chmod(mode)
        return str(path)

    def pod_spec(self, pod: str, spec: dict, data_service: bool) -> dict:
        for container in spec["containers"]:
            container.pop("ports", None)
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                container.pop(probe, None)
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                source = volume.pop("secret")
                path = self.host_folder(pod, volume["name"], 0o755)
                items = source.get("items") or [{"key": key, "path": key} for key in self.values]
                for item in items:
                    file = Path(path) / item["path"]
                    file.write_text(self.values[item["key"]])
                    file.chmod(0o444)
                Path(path).chmod(0o555)
                volume["hostPath"] = {"path": path, "type": "Directory"}
            elif "emptyDir" in volume:
                volume.pop("emptyDir")
                volume["hostPath"] = {"path": self.host_folder(pod, volume["name"], 0o1777), "type": "Directory"}
        if data_service:
            [container] = spec["containers"]
            claims = {v["name"] for v in spec.get("volumes", []) if "persistentVolumeClaim" in v}
            for mount in container.get("volumeMounts", []):
                if mount["name"] in claims:
                    user, group = owner_in_image(self.podman, container["image"], mount["mountPath"])
                    for context in (spec["securityContext"], container["securityContext"]):
                        context.update(runAsUser=user, runAsGroup=group)
                    spec["securityContext"]["fsGroup"] = group
        return spec


def split_for_podman(documents: list[dict], adapter: Adapter) -> dict[str, list[dict]]:
    """The rendered overlay as the files played in order: data services, migration, app, worker."""
    played: dict[str, list[dict]] = {"configmap": [], "data": [], "migrate": [], "app": [], "worker": []}
    for doc in documents:
        kind, name = doc["kind"], doc["metadata"]["name"]
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if kind == "ConfigMap":
            played["configmap"].append(doc)
        elif kind == "PersistentVolumeClaim":
            played["data"].append(doc)
        elif kind == "Deployment":
            app_pod = component in ("web", "worker")
            adapter.pod_spec(f"{name}-pod-0", doc["spec"]["template"]["spec"], data_service=not app_pod)
            played[{"web": "app", "worker": "worker"}.get(component, "data")].append(doc)
        elif kind == "Job":
            template = doc["spec"]["template"]
            played["migrate"].append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": template["metadata"]["labels"]},
                "spec": adapter.pod_spec(name, template["spec"], data_service=False),
            })
        # Secret (mounted from host folders above), Service, Ingress, HPA, PDB,
        # NetworkPolicy and Namespace: not run by podman 4.3.
    return played


def test_dev_overlay_runs_under_podman_kube_play(tmp_path):
    podman, kubectl = tool("podman"), tool("kubectl")
    prefix = f"kp{uuid.uuid4().hex[:6]}-"
    network = f"{prefix}net"
    values = {"APP_KEY": secrets.token_urlsafe(48), "DB_PASSWORD": secrets.token_urlsafe(16),
              "REDIS_PASSWORD": secrets.token_urlsafe(16), "MYSQL_ROOT_PASSWORD": secrets.token_urlsafe(16)}

    # The image overlays/dev runs, built here as `kind load` would find it.
    run(podman, "build", "--format", "docker", "-t", f"{IMAGE}:{TAG}", str(REPO_ROOT), timeout=BUILD_TIMEOUT)

    overlay = throwaway_overlay(tmp_path / "overlay", prefix, values)
    rendered = run(kubectl, "kustomize", str(overlay)).stdout
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    played = split_for_podman(documents, Adapter(podman, tmp_path / "volumes", values))
    files = {}
    for part, objects in played.items():
        files[part] = tmp_path / f"{part}.yaml"
        files[part].write_text(yaml.safe_dump_all(objects, sort_keys=False))
    assert [d["metadata"]["name"] for d in played["app"]] == [f"{prefix}app"]
    assert [d["metadata"]["name"] for d in played["worker"]] == [f"{prefix}app-worker"]
    assert len(played["migrate"]) == 1 and len(played["configmap"]) == 1

    pods = [f"{doc['metadata']['name']}-pod-0" for part in ("data", "app", "worker") for doc in played[part]
            if doc["kind"] == "Deployment"] + [f"{prefix}app-migrate"]
    volumes = [doc["metadata"]["name"] for doc in played["data"] if doc["kind"] == "PersistentVolumeClaim"]
    app_container, migrate_container = f"{prefix}app-pod-0-app", f"{prefix}app-migrate-migrate"
    worker_container = f"{prefix}app-worker-pod-0-worker"
    play = [podman, "kube", "play", "--network", network, "--configmap", str(files["configmap"])]

    run(podman, "network", "create", network)
    try:
        run(*play, str(files["data"]))
        # The migration, as a pod of its own: render, wait for the three, `flask db upgrade`.
        run(*play, str(files["migrate"]))
        state = wait_for_exit(podman, migrate_container)
        migrate_logs = logs(podman, migrate_container)
        assert state == "exited 0", f"the migration pod ended {state}:\n{migrate_logs[-4000:]}"
        assert "applying database migrations" in migrate_logs

        run(*play, str(files["app"]))
        status, ready = wait_until_ready(podman, app_container)
        app_logs = logs(podman, app_container)
        assert status == 200, f"/readyz answered {status}: {ready}\n{app_logs[-4000:]}"
        assert ready["status"] == "ready"
        assert set(ready["checks"]) == {"database:main", "redis", "memcached"}
        assert all(check["ok"] for check in ready["checks"].values()), ready
        # The entrypoint's serve path rendered and checked the config, and left migrating to the Job.
        assert "SKIP_MIGRATIONS=true: not migrating" in app_logs and "starting gunicorn" in app_logs
        # The securityContext holds: the image's user, a read-only root, the config on the emptyDir.
        inside = run(podman, "exec", app_container, "sh", "-c",
                     "id -u; test -s /app/instance/config.yml && echo rendered; "
                     "grep ' / ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1").stdout.split()
        assert inside == ["10001", "rendered", "ro"], inside

        # The worker: its probe command (dropped by the adapter, run here as the kubelet would)
        # passes once the consumer beats; same user, read-only root, and it never migrated.
        run(*play, str(files["worker"]))
        # As rendered (the adapter dropped the probes from the played copy).
        probe = next(doc for doc in yaml.safe_load_all(rendered)
                     if doc and doc["metadata"]["name"] == f"{prefix}app-worker")
        [worker] = probe["spec"]["template"]["spec"]["containers"]
        alive = wait_until_alive(podman, worker_container, worker["livenessProbe"]["exec"]["command"])
        worker_logs = logs(podman, worker_container)
        assert alive.returncode == 0, f"`flask jobs alive` failed: {alive.stderr}\n{worker_logs[-4000:]}"
        assert "starting the jobs worker" in worker_logs and "redis storage" in worker_logs, worker_logs[-4000:]
        assert "applying database migrations" not in worker_logs
        inside = run(podman, "exec", worker_container, "sh", "-c",
                     "id -u; grep ' / ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1").stdout.split()
        assert inside == ["10001", "ro"], inside
    finally:
        record = [logs(podman, f"{pod}-{name}") for pod, name in containers_of(played, prefix)]
        (REPO_ROOT / "instance").mkdir(exist_ok=True)
        (REPO_ROOT / "instance" / "kube-play-test.log").write_text("\n".join(record))
        for part in ("worker", "app", "migrate", "data"):
            run(podman, "kube", "down", str(files[part]), check=False)
        for pod in pods:
            if run(podman, "pod", "exists", pod, check=False).returncode == 0:
                run(podman, "pod", "rm", "--force", pod, check=False)
        for volume in volumes:
            run(podman, "volume", "rm", "--force", volume, check=False)
        run(podman, "network", "rm", "--force", network, check=False)


def containers_of(played: dict[str, list[dict]], prefix: str) -> list[tuple[str, str]]:
    found = []
    for doc in played["data"] + played["app"] + played["worker"]:
        if doc["kind"] == "Deployment":
            found += [(f"{doc['metadata']['name']}-pod-0", c["name"])
                      for c in doc["spec"]["template"]["spec"]["containers"]]
    found += [(f"{prefix}app-migrate", c["name"]) for doc in played["migrate"] for c in doc["spec"]["containers"]]
    return found


def logs(podman: str, container: str) -> str:
    result = run(podman, "logs", container, check=False, timeout=60)
    return f"===== {container}\n{result.stdout}{result.stderr}"


def wait_for_exit(podman: str, container: str) -> str:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        state = run(podman, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container,
                    check=False).stdout.strip()
        if state.startswith(("exited", "stopped")):
            return state
        time.sleep(1)
    return f"still running after {STEP_TIMEOUT}s"


def wait_until_alive(podman: str, container: str, probe: list[str]) -> subprocess.CompletedProcess:
    """The worker's exec probe, until it passes or STEP_TIMEOUT."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        result = run(podman, "exec", container, *probe, check=False, timeout=30)
        if result.returncode == 0 or time.monotonic() > deadline:
            return result
        time.sleep(2)


def wait_until_ready(podman: str, container: str) -> tuple[int, dict | str]:
    """/readyz from inside the pod (nothing is published), until 200 or STEP_TIMEOUT."""
    deadline, answer = time.monotonic() + STEP_TIMEOUT, (0, "no answer")
    while time.monotonic() < deadline:
        result = run(podman, "exec", container, "python", "-c", READY_PROBE, check=False, timeout=30)
        if result.returncode == 0 and result.stdout.strip():
            status, _, body = result.stdout.strip().partition(" ")
            answer = (int(status), json.loads(body) if body.startswith("{") else body)
            if answer[0] == 200:
                return answer
        else:
            answer = (0, (result.stdout + result.stderr).strip()[-500:])
        time.sleep(2)
    return answer
