"""What the stack writes for each server, without starting one."""

from __future__ import annotations

from pathlib import Path

from pipeline.stack.elasticsearch import ElasticsearchNode
from pipeline.stack.kafka import KafkaServer, new_cluster_id


def _fake_es_home(root: Path) -> Path:
    config = root / "es-home" / "config"
    config.mkdir(parents=True)
    (config / "log4j2.properties").write_text("status = error\n")
    (config / "jvm.options").write_text(
        "-XX:+UseG1GC\n-Xlog:gc*:file=gc.log:utctime,level,pid,tags:filecount=32,filesize=64m\n"
    )
    return root / "es-home"


def test_elasticsearch_config(tmp_path: Path) -> None:
    dictionary = tmp_path / "dict" / "en_US"
    dictionary.mkdir(parents=True)
    (dictionary / "en_US.dic").write_text("1\nrecapture/DSG\n")
    node = ElasticsearchNode(
        tmp_path / "es", 9201, 9301, heap="256m", hunspell={"en_US": dictionary}
    )

    node.write_config(_fake_es_home(tmp_path))

    yml = (node.config_dir / "elasticsearch.yml").read_text()
    for line in (
        "discovery.type: single-node",
        "network.host: 127.0.0.1",
        "http.port: 9201",
        "transport.port: 9301",
        "xpack.security.enabled: false",
        "cluster.routing.allocation.disk.threshold_enabled: false",
    ):
        assert line in yml.splitlines()
    jvm = (node.config_dir / "jvm.options").read_text()
    assert "filecount=2,filesize=8m" in jvm and "filecount=32" not in jvm
    heap = (node.config_dir / "jvm.options.d" / "wirewatch.options").read_text()
    assert heap.split() == ["-Xms256m", "-Xmx256m"]
    copied = node.config_dir / "hunspell" / "en_US" / "en_US.dic"
    assert copied.read_text() == "1\nrecapture/DSG\n"
    assert node.url == "http://127.0.0.1:9201"


def test_elasticsearch_failure_line_skips_the_jvm_flag_dump(tmp_path: Path) -> None:
    node = ElasticsearchNode(tmp_path, 9200, 9300)
    node.logs_dir.mkdir()
    (node.logs_dir / "launcher.log").write_text(
        "java.lang.RuntimeException: starting java failed with [1]\n"
        "output:\n[Global flags]\n"
        "     bool UseG1GC                 = true          {product} {ergonomic}\n"
        "error:\nInvalid initial heap size: -Xms12q\n"
        "Error: Could not create the Java Virtual Machine.\n"
        "\tat org.elasticsearch.server.cli.JvmOption.flagsFinal(JvmOption.java:125)\n"
    )
    assert node._failure_line() == "Invalid initial heap size: -Xms12q"


def test_kafka_is_one_combined_kraft_node_on_loopback(tmp_path: Path) -> None:
    server = KafkaServer(tmp_path / "kafka", 9092, 9093)
    props = dict(line.split("=", 1) for line in server.server_properties().splitlines() if line)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")


def test_cluster_ids_are_kafka_uuids() -> None:
    first, second = new_cluster_id(), new_cluster_id()
    assert first != second
    assert len(first) == 22 and "=" not in first
