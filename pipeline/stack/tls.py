"""The secured stack's own certificate authority and the servers' certificate.

Made once per state dir with ``cryptography`` and kept under ``secrets/tls/`` (0700; keys
0600): a CA (``ca.pem``, the only file clients need) and one server certificate for
``127.0.0.1``/``localhost`` that the broker and the Elasticsearch node both present. It
carries both server and client authentication usages, because the broker also shows it to
its own controller (mutual TLS on the CONTROLLER listener). The broker reads it from a
PKCS#12 key store; Elasticsearch from PEM files copied into its config directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The servers' certificate subject; the broker's principal on the CONTROLLER listener.
SERVER_SUBJECT = "CN=wirewatch-broker"
_CA_NAME = "Wirewatch local stack CA"
_VALID_DAYS = 825


@dataclass(frozen=True)
class TlsFiles:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def server_keystore(self) -> Path:
        return self.directory / "server.p12"

    def exist(self) -> bool:
        return all(
            p.is_file()
            for p in (self.ca_cert, self.server_cert, self.server_key, self.server_keystore)
        )


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ensure_certificates(directory: Path, keystore_password: str) -> TlsFiles:
    """The CA and server certificate in ``directory``, made now unless already there."""
    files = TlsFiles(directory)
    if files.exist():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=_VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(_CA_NAME))
        .issuer_name(_name(_CA_NAME))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    common_name = SERVER_SUBJECT.removeprefix("CN=")
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    plain_key = serialization.PrivateFormat.PKCS8
    _write(
        files.ca_key,
        ca_key.private_bytes(pem, plain_key, serialization.NoEncryption()),
        0o600,
    )
    _write(files.server_key, key.private_bytes(pem, plain_key, serialization.NoEncryption()), 0o600)
    _write(files.server_cert, cert.public_bytes(pem) + ca_cert.public_bytes(pem), 0o644)
    keystore = pkcs12.serialize_key_and_certificates(
        b"wirewatch-broker",
        key,
        cert,
        [ca_cert],
        serialization.BestAvailableEncryption(keystore_password.encode()),
    )
    _write(files.server_keystore, keystore, 0o600)
    _write(files.ca_cert, ca_cert.public_bytes(pem), 0o644)  # last: marks the set complete
    return files
