"""The Kubernetes manifests, rendered per overlay and checked offline (no cluster)."""

from __future__ import annotations

import ast
import copy
import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import (
    K8S,
    K8S_VERSIONS,
    REPO,
    Manifest,
    NoSchemaError,
    by_kind,
    configmap_data,
    container_env,
    containers,
    crd_catalogue,
    crd_schema_path,
    is_builtin,
    kind_name,
    on_demand_jobs,
    one,
    overlays,
    pod_spec,
    render,
    shared_dir,
    validate_builtin,
    validate_custom,
    workloads,
)

from pipeline.settings import Settings
from pipeline.topics import ALL_TOPICS, qualified

OVERLAYS = overlays()
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")
# Secrets that operators create, not Kustomize: Strimzi (KafkaUser passwords, cluster CA),
# ECK (HTTP CAs), and the ES file-realm users created per docs/operations.md.
OPERATOR_SECRETS = {
    "wirewatch-cluster-ca-cert",
    "wirewatch-es-http-certs-public",
    "wirewatch-kb-http-certs-public",
    "wirewatch-es-worker",
    "wirewatch-es-setup",
    "wirewatch-es-ops",
}
# Made by operators from files in the repository (docs/operations.md, "Install").
OPERATOR_CONFIGMAPS = {"wirewatch-hunspell-en-us"}
PRIVATE_V4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8")


@pytest.fixture(params=OVERLAYS, ids=[p.name for p in OVERLAYS])
def docs(request: pytest.FixtureRequest) -> tuple[Manifest, ...]:
    """An overlay plus the on-demand Jobs, which run beside it and must meet the same rules."""
    jobs = tuple(doc for path in on_demand_jobs() for doc in render(path))
    return render(request.param) + jobs


def test_dev_and_prod_overlays_exist() -> None:
    assert {"dev", "prod"} <= {p.name for p in OVERLAYS}
    assert "replay" in {p.name for p in on_demand_jobs()}


def test_base_renders_and_every_overlay_keeps_every_base_resource() -> None:
    base = {(d["kind"], d["metadata"]["name"]) for d in render(K8S / "base")}
    for overlay in OVERLAYS:
        rendered = {(d["kind"], d["metadata"]["name"]) for d in render(overlay)}
        assert base == rendered, f"{overlay.name} adds or drops resources: {base ^ rendered}"


# --- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_builtin_kinds_validate_strictly(docs: tuple[Manifest, ...], version: str) -> None:
    builtin = [d for d in docs if is_builtin(d)]
    assert builtin
    for doc in builtin:
        validate_builtin(doc, version)  # raises on any error or a missing schema


def test_custom_resources_validate_against_crd_schemas(docs: tuple[Manifest, ...]) -> None:
    if crd_catalogue() is None:
        pytest.skip("../shared/data/k8s-crd-schemas is absent (CI has it)")
    custom = [d for d in docs if not is_builtin(d)]
    assert {d["kind"] for d in custom} >= {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    for doc in custom:
        validate_custom(doc)


def test_a_resource_without_a_schema_fails() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(NoSchemaError):
        crd_schema_path(unknown)
    with pytest.raises(NoSchemaError):
        validate_builtin({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}, "1.30")


def test_strict_validation_rejects_an_unknown_field() -> None:
    deployment = copy.deepcopy(one(render(OVERLAYS[0]), "StatefulSet", "wirewatch-worker"))
    pod_spec(deployment)["containers"][0]["livenessProbes"] = {}  # typo of livenessProbe
    with pytest.raises(Exception, match="livenessProbes"):
        validate_builtin(deployment, K8S_VERSIONS[0])


def test_crd_validation_rejects_an_invalid_custom_resource() -> None:
    if crd_catalogue() is None:
        pytest.skip("../shared/data/k8s-crd-schemas is absent (CI has it)")
    topic = copy.deepcopy(by_kind(render(OVERLAYS[0]), "KafkaTopic")[0])
    topic["spec"]["partitons"] = 3
    with pytest.raises(AssertionError, match="partitons"):
        validate_custom(topic)


def test_prometheus_rule_validates_against_its_schema(docs: tuple[Manifest, ...]) -> None:
    # Checked even without ../shared: its schema is in tests/deploy/crd-schemas.
    rules = by_kind(docs, "PrometheusRule")
    assert rules
    for rule in rules:
        validate_custom(rule)
    broken = copy.deepcopy(rules[0])
    broken["spec"]["groups"][0]["rules"][0]["expresion"] = "up"
    with pytest.raises(AssertionError, match="expresion"):
        validate_custom(broken)


# --- workloads -----------------------------------------------------------------------------


def _security(pod: Manifest, container: Manifest, key: str) -> Any:
    value = container.get("securityContext", {}).get(key)
    return value if value is not None else pod.get("securityContext", {}).get(key)


def test_every_container_is_bounded_probed_and_unprivileged(docs: tuple[Manifest, ...]) -> None:
    assert {d["kind"] for d in workloads(docs)} >= {"StatefulSet", "Job"}
    for workload in workloads(docs):
        pod = pod_spec(workload)
        for c in containers(workload):
            where = f"{kind_name(workload)} container {c['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(bound, {})), (
                    f"{where}: {bound} must set cpu and memory"
                )
            if workload["kind"] in LONG_RUNNING:
                for probe in ("livenessProbe", "readinessProbe"):
                    assert probe in c, f"{where}: no {probe}"
            else:
                # One-shot pods are bounded in time instead of probed.
                assert workload["spec"].get("activeDeadlineSeconds"), f"{where}: no deadline"
            assert _security(pod, c, "runAsNonRoot") is True, f"{where}: may run as root"
            assert _security(pod, c, "runAsUser") not in (None, 0), f"{where}: uid 0 or unset"
            sc = c.get("securityContext", {})
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}: writable root fs"
            assert sc.get("allowPrivilegeEscalation") is False, f"{where}: privilege escalation"
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}: caps kept"
            assert sc.get("privileged") in (None, False), f"{where}: privileged"
            seccomp = _security(pod, c, "seccompProfile") or {}
            assert seccomp.get("type") == "RuntimeDefault", f"{where}: no RuntimeDefault seccomp"
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
            assert mounts.get("/tmp") in empty_dirs, f"{where}: /tmp is not an emptyDir"
        assert pod.get("automountServiceAccountToken") is False, kind_name(workload)


def test_probes_hit_the_real_health_endpoints_on_the_configured_port(
    docs: tuple[Manifest, ...],
) -> None:
    port_setting = {"poller": "WIREWATCH_POLLER_PORT", "worker": "WIREWATCH_WORKER_WEB_PORT"}
    seen = set()
    for workload in workloads(docs):
        if workload["kind"] not in LONG_RUNNING:
            continue
        for c in pod_spec(workload)["containers"]:
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            env = container_env(docs, c)
            setting = port_setting[c["name"]]
            default = Settings.model_fields[setting.removeprefix("WIREWATCH_").lower()].default
            assert ports["http"] == int(env.get(setting, default)), f"{c['name']}: port drift"
            # The endpoints bind loopback by default; kubelet probes and Prometheus come
            # from outside the pod, so the manifests must open them.
            assert env.get("WIREWATCH_HEALTH_BIND_HOST") == "0.0.0.0", f"{c['name']}: bind"
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                get = c[probe]["httpGet"]
                assert (get["path"], get["port"]) == (path, "http"), f"{c['name']} {probe}"
            seen.add(c["name"])
    assert seen == {"poller", "worker"}


def test_worker_crash_restarts_the_pod(docs: tuple[Manifest, ...]) -> None:
    worker = one(docs, "StatefulSet", "wirewatch-worker")
    assert pod_spec(worker).get("restartPolicy", "Always") == "Always"
    # Nothing may swallow a crash: the container runs the CLI itself, no wrapper shell.
    (c,) = pod_spec(worker)["containers"]
    assert "command" not in c and c["args"] == ["worker", "--no-setup"]


def test_images_are_pinned_by_tag(docs: tuple[Manifest, ...]) -> None:
    images = {c["image"] for w in workloads(docs) for c in containers(w)}
    assert len(images) == 1, f"poller, workers and setup must run one image: {images}"
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, image


def test_every_long_running_workload_has_a_matching_pdb(docs: tuple[Manifest, ...]) -> None:
    pdbs = by_kind(docs, "PodDisruptionBudget")
    for workload in workloads(docs):
        if workload["kind"] not in LONG_RUNNING:
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        matching = [
            p
            for p in pdbs
            if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
            and p["metadata"]["namespace"] == workload["metadata"]["namespace"]
        ]
        assert len(matching) == 1, f"{kind_name(workload)}: {len(matching)} PDBs"


# --- configuration -------------------------------------------------------------------------


def _all_env(docs: tuple[Manifest, ...]) -> list[tuple[str, str, Any]]:
    return [
        (kind_name(w), name, value)
        for w in workloads(docs)
        for c in containers(w)
        for name, value in container_env(docs, c).items()
    ]


def test_every_environment_variable_is_a_setting(docs: tuple[Manifest, ...]) -> None:
    fields = set(Settings.model_fields)
    env = _all_env(docs)
    assert env
    for where, name, _ in env:
        assert name.startswith("WIREWATCH_"), f"{where}: {name} is not a Wirewatch setting"
        field = name.removeprefix("WIREWATCH_").lower()
        assert field in fields, f"{where}: {name} is not a field of pipeline.settings.Settings"


def test_configured_values_parse_as_settings(docs: tuple[Manifest, ...]) -> None:
    for w in workloads(docs):
        for c in containers(w):
            literal = {
                name.removeprefix("WIREWATCH_").lower(): value
                for name, value in container_env(docs, c).items()
                if isinstance(value, str)
            }
            Settings.model_validate(literal)  # raises on a value of the wrong type


def test_credentials_come_from_secrets_never_literals(docs: tuple[Manifest, ...]) -> None:
    secret_fields = {"kafka_password", "es_password", "es_api_key"}
    for where, name, value in _all_env(docs):
        if name.removeprefix("WIREWATCH_").lower() in secret_fields:
            assert isinstance(value, dict) and "secretKeyRef" in value, f"{where}: {name}"
    for secret in by_kind(docs, "Secret"):
        # The only rendered Secret holds role definitions, no credentials.
        assert set(secret.get("data", {})) == {"roles.yml"}, kind_name(secret)


def test_referenced_secrets_exist_or_are_made_by_operators(docs: tuple[Manifest, ...]) -> None:
    made = {u["metadata"]["name"] for u in by_kind(docs, "KafkaUser")}
    made |= {s["metadata"]["name"] for s in by_kind(docs, "Secret")} | OPERATOR_SECRETS
    for w in workloads(docs):
        refs = {v["secret"]["secretName"] for v in pod_spec(w).get("volumes", []) if "secret" in v}
        for c in containers(w):
            refs |= {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in c.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
        assert refs <= made, f"{kind_name(w)}: unknown secrets {refs - made}"


def test_kafka_username_matches_its_kafka_user_secret(docs: tuple[Manifest, ...]) -> None:
    users = {u["metadata"]["name"] for u in by_kind(docs, "KafkaUser")}
    for w in workloads(docs):
        for c in containers(w):
            env = {e["name"]: e for e in c.get("env", [])}
            user = env["WIREWATCH_KAFKA_USERNAME"]["value"]
            secret = env["WIREWATCH_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert user in users and secret == {"name": user, "key": "password"}, c["name"]


def test_poller_shards_agree_with_the_statefulset(docs: tuple[Manifest, ...]) -> None:
    poller = one(docs, "StatefulSet", "wirewatch-poller")
    (c,) = pod_spec(poller)["containers"]
    env = container_env(docs, c)
    assert int(env["WIREWATCH_POLLER_REPLICAS"]) == poller["spec"]["replicas"]
    ordinal = env["WIREWATCH_POLLER_ORDINAL"]["fieldRef"]["fieldPath"]
    assert ordinal == "metadata.labels['apps.kubernetes.io/pod-index']"


def test_each_worker_pod_has_a_stable_distinct_static_member_id(
    docs: tuple[Manifest, ...],
) -> None:
    """Static group membership (issue 11 item 7) needs an id per pod that survives its
    restarts and replacements and that no two live pods share: a StatefulSet's pod name
    (never two pods of one name at once), given to the worker through the downward API."""
    worker = one(docs, "StatefulSet", "wirewatch-worker")
    (c,) = pod_spec(worker)["containers"]
    env = container_env(docs, c)
    source = env["WIREWATCH_WORKER_INSTANCE_ID"]
    assert source == {"fieldRef": {"fieldPath": "metadata.name"}}, source
    # no shared literal anywhere: a fixed id on two pods would fence one of them
    assert all(
        "WIREWATCH_WORKER_INSTANCE_ID" not in d.get("data", {}) for d in by_kind(docs, "ConfigMap")
    )
    # a headless Service owns the pods' network identity, as a StatefulSet requires
    service = one(docs, "Service", worker["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert (
        service["spec"]["selector"].items()
        <= worker["spec"]["template"]["metadata"]["labels"].items()
    )
    # KEDA scales the StatefulSet itself, and the id is read the way the worker reads it
    (scaled,) = by_kind(docs, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    from pipeline.settings import Settings
    from pipeline.worker.app import instance_id

    assert instance_id(Settings(worker_instance_id="wirewatch-worker-1")) == "wirewatch-worker-1"


def test_feed_registry_configmap_parses() -> None:
    registry = pytest.importorskip("pipeline.poll.registry")
    feeds = registry.load(K8S / "base" / "app" / "feeds.yaml")
    assert feeds and all(f.url.startswith("https://") for f in feeds)


# --- Kafka ---------------------------------------------------------------------------------


def _topic_prefix(docs: tuple[Manifest, ...]) -> str:
    return configmap_data(docs, "wirewatch-config").get("WIREWATCH_TOPIC_PREFIX", "")


def test_kafka_topics_agree_with_pipeline_topics(docs: tuple[Manifest, ...]) -> None:
    prefix = _topic_prefix(docs)
    declared = {t["spec"]["topicName"]: t for t in by_kind(docs, "KafkaTopic")}
    expected = {qualified(t, prefix): t for t in ALL_TOPICS}
    assert set(declared) == set(expected)
    for name, topic in expected.items():
        spec = declared[name]["spec"]
        config = spec["config"]
        assert spec["partitions"] == topic.partitions, name
        if topic.compacted:
            assert config["cleanup.policy"] == "compact", name
            assert "retention.ms" not in config, f"{name}: time retention on a compacted topic"
        else:
            assert config["cleanup.policy"] == "delete", name
            assert config["retention.ms"] == topic.retention_ms, name


def test_topic_replication_fits_the_brokers(docs: tuple[Manifest, ...]) -> None:
    brokers = sum(
        p["spec"]["replicas"]
        for p in by_kind(docs, "KafkaNodePool")
        if "broker" in p["spec"]["roles"]
    )
    for topic in by_kind(docs, "KafkaTopic"):
        replicas = topic["spec"]["replicas"]
        assert replicas <= brokers, kind_name(topic)
        assert topic["spec"]["config"]["min.insync.replicas"] <= replicas, kind_name(topic)
        if brokers >= 3:
            assert replicas >= 3 and topic["spec"]["config"]["min.insync.replicas"] >= 2
    # Faust's own changelog topics get the same number of copies as ours.
    worker_config = configmap_data(docs, "wirewatch-worker-config")
    factor = int(worker_config["WIREWATCH_WORKER_REPLICATION_FACTOR"])
    assert {factor} == {t["spec"]["replicas"] for t in by_kind(docs, "KafkaTopic")}


def test_kafka_listeners_use_tls_and_scram_with_acls(docs: tuple[Manifest, ...]) -> None:
    (kafka,) = by_kind(docs, "Kafka")
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"]["type"] in ("scram-sha-512", "tls"), listener["name"]
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    config = configmap_data(docs, "wirewatch-config")
    assert config["WIREWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["WIREWATCH_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    port = int(config["WIREWATCH_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1])
    assert port in {listener["port"] for listener in listeners}


def test_acls_name_only_real_topics(docs: tuple[Manifest, ...]) -> None:
    prefix = _topic_prefix(docs)
    topics = {qualified(t, prefix) for t in ALL_TOPICS}
    for user in by_kind(docs, "KafkaUser"):
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            assert "All" not in acl["operations"], f"{kind_name(user)}: ACL grants All"
            if resource["type"] == "topic" and resource.get("patternType", "literal") == "literal":
                assert resource["name"] in topics, f"{kind_name(user)}: {resource['name']}"


# --- Elasticsearch -------------------------------------------------------------------------


def test_servers_are_the_versions_the_tests_run_against(docs: tuple[Manifest, ...]) -> None:
    pins = pytest.importorskip("pipeline.stack.pins")
    (kafka,) = by_kind(docs, "Kafka")
    assert kafka["spec"]["kafka"]["version"] == pins.KAFKA_VERSION
    major_minor = ".".join(pins.KAFKA_VERSION.split(".")[:2])
    metadata_version = kafka["spec"]["kafka"].get("metadataVersion", major_minor + "-")
    assert metadata_version.startswith(major_minor + "-")
    for kind in ("Elasticsearch", "Kibana"):
        (resource,) = by_kind(docs, kind)
        assert resource["spec"]["version"] == pins.ELASTICSEARCH_VERSION, kind


def strimzi_kafka_versions() -> list[dict[str, Any]]:
    """Strimzi's own version table (read from ../shared at test time, never copied)."""
    path = shared_dir() / "data" / "strimzi" / "kafka-versions.yaml"
    if not path.is_file():
        pytest.fail(f"{path} is missing: set WIREWATCH_SHARED to the shared data directory")
    rows = yaml.safe_load(path.read_text())
    assert isinstance(rows, list) and rows, f"{path}: not a list of versions"
    return rows


def test_kafka_version_is_one_the_current_strimzi_supports(docs: tuple[Manifest, ...]) -> None:
    supported = {
        str(row["version"]): row for row in strimzi_kafka_versions() if row.get("supported")
    }
    (kafka,) = by_kind(docs, "Kafka")
    version = str(kafka["spec"]["kafka"]["version"])
    assert version in supported, (
        f"Kafka {version} is not a supported: true row of Strimzi's kafka-versions.yaml "
        f"(supported: {', '.join(sorted(supported))})"
    )
    # A metadataVersion, if pinned, must not be newer than that Kafka version's own.
    pinned = kafka["spec"]["kafka"].get("metadataVersion")
    if pinned is not None:
        assert str(pinned) <= str(supported[version]["metadata"])


def test_elasticsearch_security_stays_on(docs: tuple[Manifest, ...]) -> None:
    (es,) = by_kind(docs, "Elasticsearch")
    assert es["spec"]["version"].startswith("9.")
    tls = es["spec"].get("http", {}).get("tls", {})
    assert not tls.get("selfSignedCertificate", {}).get("disabled", False)
    for node_set in es["spec"]["nodeSets"]:
        config = node_set.get("config", {})
        assert config.get("xpack.security.enabled", True) is not False
        assert config.get("xpack.security.http.ssl.enabled", True) is not False
    assert configmap_data(docs, "wirewatch-config")["WIREWATCH_ES_URL"].startswith("https://")


def test_elasticsearch_has_the_dictionaries_the_templates_use(
    docs: tuple[Manifest, ...],
) -> None:
    templates = REPO / "pipeline" / "index" / "templates"
    text = "\n".join(p.read_text() for p in templates.glob("*.json"))
    locales = set(re.findall(r'"type":\s*"hunspell",\s*"locale":\s*"([^"]+)"', text))
    assert locales, "expected the index templates to use a hunspell stemmer"
    (es,) = by_kind(docs, "Elasticsearch")
    for node_set in es["spec"]["nodeSets"]:
        pod = node_set["podTemplate"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        (container,) = [c for c in pod["containers"] if c["name"] == "elasticsearch"]
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        for locale in locales:
            volume = volumes[mounts[f"/usr/share/elasticsearch/config/hunspell/{locale}"]]
            assert volume["configMap"]["name"] in OPERATOR_CONFIGMAPS
            dictionary = REPO / "pipeline" / "index" / "hunspell" / locale
            size = sum(p.stat().st_size for p in dictionary.iterdir())
            assert size < 1_000_000, f"{locale}: too big for one ConfigMap ({size} bytes)"


# --- scaling -------------------------------------------------------------------------------


def test_workers_never_scale_beyond_the_partitions(docs: tuple[Manifest, ...]) -> None:
    (scaled,) = by_kind(docs, "ScaledObject")
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    one(docs, target["kind"], target["name"])
    (trigger,) = spec["triggers"]
    match = re.search(r'topic=~"([^"]+)"', trigger["metadata"]["query"])
    assert match, "the lag query must select the topics it measures"
    pattern = re.compile(match.group(1).replace("\\\\", "\\"))
    prefix = _topic_prefix(docs)
    consumed = [t for t in ALL_TOPICS if pattern.fullmatch(qualified(t, prefix))]
    assert consumed, f"lag query matches no topic: {pattern.pattern}"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert spec["maxReplicaCount"] <= min(t.partitions for t in consumed)


# --- network -------------------------------------------------------------------------------


def _selects(policy: Manifest, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return wanted.items() <= labels.items()


def _egress_for(docs: tuple[Manifest, ...], labels: dict[str, str]) -> list[Manifest]:
    return [
        rule
        for p in by_kind(docs, "NetworkPolicy")
        if _selects(p, labels) and "Egress" in p["spec"]["policyTypes"]
        for rule in p["spec"].get("egress", [])
    ]


def _reaches(rules: list[Manifest], peer_label: tuple[str, str], port: int) -> bool:
    for rule in rules:
        ports = {p.get("port") for p in rule.get("ports", [])}
        for peer in rule.get("to", []):
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if peer_label in labels.items() and port in ports and "namespaceSelector" not in peer:
                return True
    return False


def test_default_deny_covers_everything(docs: tuple[Manifest, ...]) -> None:
    deny = [
        p
        for p in by_kind(docs, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny) == 1


def test_each_service_reaches_only_what_it_needs(docs: tuple[Manifest, ...]) -> None:
    kafka = ("strimzi.io/cluster", "wirewatch")
    es = ("elasticsearch.k8s.elastic.co/cluster-name", "wirewatch")
    kibana = ("kibana.k8s.elastic.co/name", "wirewatch")
    pods = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in workloads(docs)
    }
    needs = {
        "wirewatch-poller": {(kafka, 9093)},
        "wirewatch-worker": {(kafka, 9093), (es, 9200)},
        "wirewatch-setup": {(kafka, 9093), (es, 9200), (kibana, 5601)},
        "wirewatch-replay": {(kafka, 9093), (es, 9200)},
    }
    for name, wanted in needs.items():
        rules = _egress_for(docs, pods[name])
        for peer, port in wanted:
            assert _reaches(rules, peer, port), f"{name} cannot reach {peer}:{port}"
        for other, port in {(kafka, 9093), (es, 9200), (kibana, 5601)} - wanted:
            assert not _reaches(rules, other, port), f"{name} may reach {other}:{port}"
        for rule in rules:
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block is None:
                    continue
                # Internet egress must never include the cluster or private networks.
                net = ipaddress.ip_network(block["cidr"])
                excluded = [ipaddress.ip_network(e) for e in block.get("except", [])]
                if net.version == 4:
                    for private in map(ipaddress.ip_network, PRIVATE_V4):
                        assert any(private.subnet_of(e) for e in excluded), f"{name}: {private}"
                assert {p["port"] for p in rule["ports"]} <= {80, 443}, name
    assert not any(
        "ipBlock" in peer
        for rule in _egress_for(docs, pods["wirewatch-setup"])
        for peer in rule.get("to", [])
    ), "the setup Job needs no internet"


def test_every_pod_can_resolve_names(docs: tuple[Manifest, ...]) -> None:
    dns = [
        p
        for p in by_kind(docs, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and any(53 in {x["port"] for x in r.get("ports", [])} for r in p["spec"].get("egress", []))
    ]
    assert dns


# --- monitoring ----------------------------------------------------------------------------


def test_metrics_are_scraped_from_every_service(docs: tuple[Manifest, ...]) -> None:
    monitors = by_kind(docs, "PodMonitor") + by_kind(docs, "ServiceMonitor")
    for w in workloads(docs):
        if w["kind"] not in LONG_RUNNING:
            continue
        labels = w["spec"]["template"]["metadata"]["labels"]
        ports = {p["name"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        scraping = [
            m
            for m in by_kind(docs, "PodMonitor")
            if m["spec"]["selector"].get("matchLabels", {}).items() <= labels.items()
            and m["spec"]["selector"].get("matchLabels")
        ]
        assert scraping, f"{kind_name(w)} is not scraped"
        for m in scraping:
            for endpoint in m["spec"]["podMetricsEndpoints"]:
                assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
    assert monitors


def _pipeline_sources() -> str:
    return "\n".join(p.read_text() for p in (REPO / "pipeline").rglob("*.py"))


def test_alerts_use_metrics_the_code_exports_and_have_runbooks(
    docs: tuple[Manifest, ...],
) -> None:
    sources = _pipeline_sources()
    runbook = (REPO / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.strip("# ").lower()).replace(" ", "-")
        for h in re.findall(r"^#+ .*$", runbook, flags=re.M)
    }
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert alerts
    for alert in alerts:
        for metric in set(re.findall(r"\bwirewatch_[a-z0-9_]+", alert["expr"])):
            base = re.sub(r"_(bucket|count|sum|created)$", "", metric)
            assert f'"{base}"' in sources, f"{alert['alert']}: {metric} is not exported"
        anchor = alert["annotations"]["runbook"].split("#", 1)[1]
        assert anchor in anchors, f"{alert['alert']}: no section #{anchor} in operations.md"
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}


_METRIC_CLASSES = {"Counter", "Gauge", "Histogram", "Summary"}


def _base(metric: str) -> str:
    return re.sub(r"_(total|bucket|count|sum|created)$", "", metric)


def _literals(node: ast.expr) -> set[str] | None:
    """The strings an argument can be: a literal, either arm of ``a if c else b``; None if
    it is computed (then its type must say: see _DYNAMIC_LABELS)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        return None if body is None or orelse is None else body | orelse
    return None


def _dynamic_labels() -> dict[tuple[str, str], set[str] | None]:
    """Label values passed as variables, from the types that bound them (None: free
    values such as a stage or an error type, which no rule or doc may pin)."""
    from typing import get_args

    from pipeline.dedup.state import Match
    from pipeline.events.clusterer import Match as EventMatch
    from pipeline.poll.metrics import ArticleOutcome, FeedPollOutcome
    from pipeline.records import Article
    from pipeline.worker.outcomes import Outcome

    text_source = get_args(Article.model_fields["text_source"].annotation)
    return {
        ("wirewatch_poll_feeds", "outcome"): set(get_args(FeedPollOutcome)),
        ("wirewatch_poll_articles", "outcome"): set(get_args(ArticleOutcome)),
        ("wirewatch_poll_article_text", "source"): set(text_source),
        ("wirewatch_stream_records", "outcome"): set(get_args(Outcome)),
        ("wirewatch_stream_records", "stage"): None,
        ("wirewatch_dead_letters", "stage"): None,
        ("wirewatch_dead_letters", "error_type"): None,
        # Deduplicator.last_layer: a Match, or "replay" / "update" (deduplicator.py).
        ("wirewatch_dedup_matches", "match"): set(get_args(Match)) | {"replay", "update"},
        ("wirewatch_event_matches", "match"): set(get_args(EventMatch)),
        ("wirewatch_alert_webhooks", "type"): None,
    }


def _emitted_label_values() -> dict[tuple[str, str], set[str] | None]:
    """(metric, label) -> every value the code passes to ``.labels()`` for it."""
    dynamic = _dynamic_labels()
    emitted: dict[tuple[str, str], set[str] | None] = {}
    trees = [ast.parse(p.read_text()) for p in (REPO / "pipeline").rglob("*.py")]
    metrics: dict[str, tuple[str, list[str]]] = {}  # variable -> (metric, label names)
    for tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) in _METRIC_CLASSES
                and isinstance(node.targets[0], ast.Name)
                and node.value.args
                and isinstance(node.value.args[0], ast.Constant)  # not collections.Counter
            ):
                args = node.value.args
                labels = [e.value for e in args[2].elts] if len(args) > 2 else []  # type: ignore[attr-defined]
                metrics[node.targets[0].id] = (_base(args[0].value), labels)  # type: ignore[attr-defined]
    for tree in trees:
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "labels"
            ):
                continue
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if name not in metrics:
                continue
            metric, labels = metrics[name]
            for label, arg in zip(labels, node.args, strict=True):
                values = _literals(arg)
                if values is None:
                    assert (metric, label) in dynamic, (
                        f"{metric}{{{label}}} gets a computed value at line {node.lineno}: "
                        "bind it with a Literal type and add it to _dynamic_labels"
                    )
                    values = dynamic[(metric, label)]
                known = emitted.get((metric, label), set())
                emitted[(metric, label)] = (
                    None if values is None or known is None else known | values
                )
    return emitted


def test_every_label_value_a_rule_or_the_guide_names_can_be_emitted(
    docs: tuple[Manifest, ...],
) -> None:
    emitted = _emitted_label_values()
    assert emitted[("wirewatch_poll_feeds", "outcome")] >= {"no-new", "failed"}  # type: ignore[operator]
    (rule,) = by_kind(docs, "PrometheusRule")
    for alert in (r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r):
        for metric, matchers in re.findall(r"\b(wirewatch_[a-z0-9_]+)\{([^}]*)\}", alert["expr"]):
            for label, op, value in re.findall(r'(\w+)\s*(=~|=)\s*"([^"]*)"', matchers):
                can = emitted.get((_base(metric), label))
                assert can is not None or (_base(metric), label) in _dynamic_labels(), (
                    f"{alert['alert']}: {metric} has no label {label}"
                )
                if can is None:
                    continue
                named = set(value.split("|")) if op == "=~" else {value}
                assert named <= can, f"{alert['alert']}: {metric}{{{label}}} never is {named - can}"
    guide = (REPO / "docs" / "operations.md").read_text()
    rows = re.findall(r"^\| `(wirewatch_\w+)` \| [^|]*?`(\w+)` = ([^|]+?) \|", guide, flags=re.M)
    assert rows
    for metric, label, listed in rows:
        documented = {v.strip() for v in listed.split(",")}
        can = emitted[(_base(metric), label)]
        assert can is not None, f"{metric}{{{label}}} has free values; do not list them"
        assert documented == can, (
            f"operations.md lists {metric}{{{label}}} = {sorted(documented)}; "
            f"the code emits {sorted(can)}"
        )


def test_operations_guide_documents_every_setting() -> None:
    guide = (REPO / "docs" / "operations.md").read_text()
    missing = [
        f"WIREWATCH_{name.upper()}"
        for name in Settings.model_fields
        if f"WIREWATCH_{name.upper()}" not in guide
    ]
    assert not missing, f"document these in docs/operations.md, Configure: {missing}"


def test_overlay_files_are_yaml_without_tabs() -> None:
    for path in Path(K8S).rglob("*.y*ml"):
        assert "\t" not in path.read_text(), path
