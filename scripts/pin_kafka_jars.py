"""Print the KAFKA_JARS table of pipeline/stack/pins.py for one Kafka version.

Resolves the runtime classpath of org.apache.kafka:kafka_2.13:<version> plus the log4j2
binding for slf4j with Maven (``mvn dependency:list``), then reads each jar's size and
SHA-256 from the local Maven repository. Paste the output over the table in pins.py.

    python scripts/pin_kafka_jars.py 4.3.1 > /tmp/jars.py
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

LOG4J_VERSION = "2.25.3"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>wirewatch</groupId><artifactId>kafka-pins</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def resolve(kafka_version: str, repository: Path) -> list[tuple[str, str, str]]:
    """(group, artifact, version) of every runtime jar, sorted like pins.py."""
    with tempfile.TemporaryDirectory() as work:
        Path(work, "pom.xml").write_text(POM.format(kafka=kafka_version, log4j=LOG4J_VERSION))
        listing = Path(work, "deps.txt")
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                f"-Dmaven.repo.local={repository}",
                "dependency:list",
                "-DincludeScope=runtime",
                f"-DoutputFile={listing}",
            ],
            cwd=work,
            check=True,
            stdout=sys.stderr,  # keep stdout for the table
        )
        rows = []
        for line in listing.read_text().splitlines():
            parts = line.strip().split(":")
            if len(parts) == 5 and parts[2] == "jar":
                rows.append((parts[0], parts[1], parts[3]))
    return sorted(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kafka_version")
    parser.add_argument("--repository", type=Path, default=Path.home() / ".m2" / "repository")
    args = parser.parse_args()
    print(f'KAFKA_VERSION = "{args.kafka_version}"')
    print("KAFKA_JARS: tuple[Artifact, ...] = (")
    for group, name, version in resolve(args.kafka_version, args.repository):
        jar = args.repository / group.replace(".", "/") / name / version
        jar = jar / f"{name}-{version}.jar"
        digest = hashlib.sha256(jar.read_bytes()).hexdigest()
        print("    _jar(")
        print(f'        "{group}:{name}:{version}",')
        print(f"        {jar.stat().st_size},")
        print(f'        "{digest}",')
        print("    ),")
    print(")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
