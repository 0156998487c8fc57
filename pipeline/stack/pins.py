"""Pinned server artifacts: exact Maven Central coordinates, sizes and SHA-256 digests.

The Kafka list is the runtime classpath of ``org.apache.kafka:kafka_2.13`` plus a log4j2
binding for slf4j, resolved once with ``mvn dependency:list -DincludeScope=runtime``; at run
time each jar is fetched directly and checked against the digest here, so no Maven is needed.
To upgrade: resolve the new version the same way and regenerate this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Artifact:
    """One file in a Maven repository, identified by coordinates and pinned by digest."""

    group: str
    name: str
    version: str
    size: int
    sha256: str
    extension: str = "jar"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.{self.extension}"

    @property
    def repo_path(self) -> str:
        """Path below the repository root, in the standard Maven layout."""
        return f"{self.group.replace('.', '/')}/{self.name}/{self.version}/{self.filename}"

    def __str__(self) -> str:
        return f"{self.group}:{self.name}:{self.version}:{self.extension}"


def _jar(coordinates: str, size: int, sha256: str) -> Artifact:
    group, name, version = coordinates.split(":")
    return Artifact(group, name, version, size, sha256)


KAFKA_VERSION = "4.1.2"
KAFKA_JARS: tuple[Artifact, ...] = (
    _jar(
        "at.yawk.lz4:lz4-java:1.10.1",
        910232,
        "a58a84c4271e50df4c96ed916ccb7e48a869f8ed9cdcda1ad5d3d4c33b0214a3",
    ),
    _jar(
        "com.dynatrace.hash4j:hash4j:0.22.0",
        316573,
        "23028a3fd006e530bf495f551083208187cafd8f80624d048eba56442f16a50e",
    ),
    _jar(
        "com.fasterxml.jackson.core:jackson-annotations:2.19.4",
        79311,
        "ab26383fa3c10c0df1ffd1bb035d81161c059b1af71927d73c24473c058baa16",
    ),
    _jar(
        "com.fasterxml.jackson.core:jackson-core:2.19.4",
        591409,
        "466ae4dc4f7054f51525f4211df411d9a64d65cc169995d32bf49e20e6f586e5",
    ),
    _jar(
        "com.fasterxml.jackson.core:jackson-databind:2.19.4",
        1679441,
        "b781c431be870deb0bf84421e99e774c256a701f4ba678df80248f55cd16ff74",
    ),
    _jar(
        "com.fasterxml.jackson.dataformat:jackson-dataformat-csv:2.19.4",
        106994,
        "fc06cf56909e43e0cdc84ad5e23069fcc4d503a8833bda348f47e50e8f1ac92c",
    ),
    _jar(
        "com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.4",
        60229,
        "998e652806c49ca59e2b6432c4edc37580c4702cb6189d10e6053d0b7982c2e7",
    ),
    _jar(
        "com.fasterxml.jackson.datatype:jackson-datatype-jdk8:2.19.4",
        36413,
        "c0e0dc3039f9a37a099b2602838f833ea8c15c56445a0eb5463d0c7e0c355da2",
    ),
    _jar(
        "com.github.ben-manes.caffeine:caffeine:3.2.0",
        906581,
        "ec411dfdf0c03f25218648ce89861630b71680e5858a9a7278ebac8e55cab3d7",
    ),
    _jar(
        "com.github.luben:zstd-jni:1.5.6-10",
        7305999,
        "b6c3237e24b8252a5a9c3a0e1ae30ef8f323412e74bd358548b7a9e527d676df",
    ),
    _jar(
        "com.google.re2j:re2j:1.8",
        114335,
        "7b52c72156dd7f98b3237a5b35c1d34fba381b21048c89208913ad80a45dfbd7",
    ),
    _jar(
        "com.typesafe.scala-logging:scala-logging_2.13:3.9.5",
        61858,
        "87a3017d3f43e6ace7566fe4c3d615134c6914ff871c8d64bb32ca1d996d0545",
    ),
    _jar(
        "com.yammer.metrics:metrics-core:2.2.0",
        82123,
        "6b7a14a6f34c10f8683f7b5e2f39df0f07b58c7dff0e468ebbc713905c46979c",
    ),
    _jar(
        "commons-beanutils:commons-beanutils:1.11.0",
        246806,
        "9e44ba68ec9a3f21286fa2a8bbb003b735c0f69101bb43144b79f4f8aaa74709",
    ),
    _jar(
        "commons-collections:commons-collections:3.2.2",
        588337,
        "eeeae917917144a68a741d4c0dff66aa5c5c5fd85593ff217bced3fc8ca783b8",
    ),
    _jar(
        "commons-digester:commons-digester:2.1",
        196768,
        "e0b2b980a84fc6533c5ce291f1917b32c507f62bcad64198fff44368c2196a3d",
    ),
    _jar(
        "commons-logging:commons-logging:1.3.5",
        73737,
        "6d7a744e4027649fbb50895df9497d109f98c766a637062fe8d2eabbb3140ba4",
    ),
    _jar(
        "commons-validator:commons-validator:1.10.1",
        203132,
        "ed74711a78d793ca37f6075e4a1e93d107233dfd20d0bb17e32bad88d38e56aa",
    ),
    _jar(
        "net.sf.jopt-simple:jopt-simple:5.0.4",
        78146,
        "df26cc58f235f477db07f753ba5a3ab243ebe5789d9f89ecf68dd62ea9a66c28",
    ),
    _jar(
        "net.sourceforge.argparse4j:argparse4j:0.7.0",
        90347,
        "65ceb669d88f63306c680f8088bbf765bbca72d288a61a03703000076c3d3f56",
    ),
    _jar(
        "org.apache.kafka:kafka-clients:4.1.2",
        9769826,
        "afe861c05067f4018a3148d73c1ed1e5fc90808757c15b043527d7e535a5d431",
    ),
    _jar(
        "org.apache.kafka:kafka-coordinator-common:4.1.2",
        100654,
        "0e6697b6827fa635b4686ec9754b1c5583f4997e9bc0f33a8518f1dee518a454",
    ),
    _jar(
        "org.apache.kafka:kafka-group-coordinator:4.1.2",
        915256,
        "1925a002ef7c527b72a0877ed0d9f3a5f88a08d130d1ed2bdfcc40457ded354b",
    ),
    _jar(
        "org.apache.kafka:kafka-group-coordinator-api:4.1.2",
        11914,
        "781f932fb3e3824420e7554ef745b57e1827dd801cfc71bf8fd31eef56e60638",
    ),
    _jar(
        "org.apache.kafka:kafka-metadata:4.1.2",
        840858,
        "ccc29f5423cf5fbe63b47871dbce00a16e05a38bd0d531b3bf21e5c71ba54fac",
    ),
    _jar(
        "org.apache.kafka:kafka-raft:4.1.2",
        309751,
        "01f6717d07472b577a1cfe1cdf4d098b14a1dae4e35574164712801bd2a55cce",
    ),
    _jar(
        "org.apache.kafka:kafka-server:4.1.2",
        219116,
        "2b849f1c9d3d9a08a5ea4c2f0479c552592cd770d72263d8d1610701a9b3e8d4",
    ),
    _jar(
        "org.apache.kafka:kafka-server-common:4.1.2",
        371073,
        "0f1d8fb9478ca0e3eea23b81064749738b9bff705704067e2fe8d62047e5fc07",
    ),
    _jar(
        "org.apache.kafka:kafka-share-coordinator:4.1.2",
        111777,
        "fffacfaa46e7f25696f673035f86669422ae81889dfd28d8fec29500ee888310",
    ),
    _jar(
        "org.apache.kafka:kafka-storage:4.1.2",
        591039,
        "902a08f775a9957e1546ecec8e22fbda73b84be9dfbdf04cce7a023dd60bf8b9",
    ),
    _jar(
        "org.apache.kafka:kafka-storage-api:4.1.2",
        26987,
        "79910cc7d0e3d3a9d9ce6f30f6f000cd355321f604a0f6c73c948389d1b41457",
    ),
    _jar(
        "org.apache.kafka:kafka-tools-api:4.1.2",
        9072,
        "6d4d6a33b0dcd2180e7489c58c0089f8fb502e7a095cdd46f57755df462f00ae",
    ),
    _jar(
        "org.apache.kafka:kafka-transaction-coordinator:4.1.2",
        50504,
        "20939d46e1e65a34d6a59b447f0a5e63721678abbfdc948a5f9422930d71612c",
    ),
    _jar(
        "org.apache.kafka:kafka_2.13:4.1.2",
        2064221,
        "965af2d9c19be0c169110eb18468a0bee24e24d14071a57c7f8a57bc4d3f990e",
    ),
    _jar(
        "org.apache.logging.log4j:log4j-api:2.25.3",
        350610,
        "e886682920fa0fb9d6eb6395dcb4de088443f8646c89c5e5846e168e327f406f",
    ),
    _jar(
        "org.apache.logging.log4j:log4j-core:2.25.3",
        2018402,
        "362b7fcb65b73aa46cc4bc53abf4eb216f444a83b5d1a037cb6fdfff0ae9f0f9",
    ),
    _jar(
        "org.apache.logging.log4j:log4j-slf4j-impl:2.25.3",
        25390,
        "f835ac2bf1a895d5e687b4ebf238bff05316dd672e572dff235024b6e320bcc9",
    ),
    _jar(
        "org.bitbucket.b_c:jose4j:0.9.6",
        299502,
        "7314af50cde9c99e8eaf43eee617a23edcc6bb43036221064355094999d837ef",
    ),
    _jar(
        "org.hdrhistogram:HdrHistogram:2.2.2",
        177206,
        "22d1d4316c4ec13a68b559e98c8256d69071593731da96136640f864fa14fad8",
    ),
    _jar(
        "org.jspecify:jspecify:1.0.0",
        3819,
        "1fad6e6be7557781e4d33729d49ae1cdc8fdda6fe477bb0cc68ce351eafdfbab",
    ),
    _jar(
        "org.pcollections:pcollections:4.0.2",
        73718,
        "2bbeef5797a241300c4f7513cd546239629ed7deda4fc0c31df90bb95f5f13ef",
    ),
    _jar(
        "org.scala-lang:scala-library:2.13.16",
        5926340,
        "1ebb2b6f9e4eb4022497c19b1e1e825019c08514f962aaac197145f88ed730f1",
    ),
    _jar(
        "org.scala-lang:scala-reflect:2.13.16",
        3801119,
        "fb49ccd9cac7464486ab993cda20a3c1569d8ef26f052e897577ad2a4970fb1d",
    ),
    _jar(
        "org.slf4j:slf4j-api:1.7.36",
        41125,
        "d3ef575e3e4979678dc01bf1dcce51021493b4d11fb7f1be8ad982877c16a1c0",
    ),
    _jar(
        "org.xerial.snappy:snappy-java:1.1.10.7",
        2338496,
        "4c766cb3f855415ee734b2392949a0b6f12a60879334a74518deaf6270d32e36",
    ),
    _jar(
        "org.yaml:snakeyaml:2.4",
        339825,
        "ef779af5d29a9dde8cc70ce0341f5c6f7735e23edff9685ceaa9d35359b7bb7f",
    ),
)

ELASTICSEARCH_VERSION = "9.5.4"
ELASTICSEARCH_ZIP = Artifact(
    group="org.elasticsearch.distribution.integ-test-zip",
    name="elasticsearch",
    version=ELASTICSEARCH_VERSION,
    size=132432175,
    sha256="d9b0c28e08e499f6510b52ad66ec4bf9cdceab97cc28b3456989b8744b896934",
    extension="zip",
)
