"""Why a secured Kafka refuses us, in one line naming the setting to fix.

The clients cannot tell: a broker that rejects a password closes the connection, and
kafka-python then reports only that it could not bootstrap (after its full timeout), aiokafka
that the connection dropped. So when a command fails to reach a broker over SSL or SASL, the
CLI asks ``diagnose`` once: it connects to the first bootstrap server itself, does the TLS
handshake against ``WIREWATCH_KAFKA_SSL_CAFILE`` and, for SASL, one SaslHandshake and
SaslAuthenticate exchange (SCRAM from kafka-python's own mechanism), bounded by a timeout.
The line never carries the password.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

from kafka.errors import for_code

from pipeline.settings import Settings

_SASL_HANDSHAKE, _SASL_AUTHENTICATE = 17, 36
_CLIENT_ID = b"wirewatch-probe"


class _Wire:
    """Just enough of the Kafka protocol for the two SASL requests (non-flexible versions)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.correlation = sock, 0

    def request(self, api_key: int, version: int, body: bytes) -> bytes:
        self.correlation += 1
        header = struct.pack(">hhih", api_key, version, self.correlation, len(_CLIENT_ID))
        payload = header + _CLIENT_ID + body
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", self._read(4))
        response = self._read(size)
        return response[4:]  # after the correlation id

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _sasl(wire: _Wire, settings: Settings) -> str | None:
    from kafka.net.sasl.scram import SaslMechanismScram

    mechanism_name = settings.kafka_sasl_mechanism or "PLAIN"
    response = wire.request(_SASL_HANDSHAKE, 1, _string(mechanism_name))
    (error,) = struct.unpack(">h", response[:2])
    if error:
        return (
            f"Kafka does not offer the SASL mechanism {mechanism_name}: "
            "check WIREWATCH_KAFKA_SASL_MECHANISM"
        )
    if not mechanism_name.startswith("SCRAM-"):
        return None  # only SCRAM is checked further (what the manifests and the stack use)
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    scram: Any = SaslMechanismScram(
        sasl_plain_username=settings.kafka_username or "",
        sasl_plain_password=password,
        sasl_mechanism=mechanism_name,
        security_protocol=settings.kafka_security_protocol,
    )
    while not scram.is_done():
        token = scram.auth_bytes()
        response = wire.request(_SASL_AUTHENTICATE, 1, struct.pack(">i", len(token)) + token)
        (error,) = struct.unpack(">h", response[:2])
        if error:
            return (
                f"Kafka refused the login of user {settings.kafka_username!r} "
                f"({for_code(error).__name__}): check WIREWATCH_KAFKA_USERNAME and "
                "WIREWATCH_KAFKA_PASSWORD"
            )
        (message_len,) = struct.unpack(">h", response[2:4])
        offset = 4 + max(message_len, 0)
        (token_len,) = struct.unpack(">i", response[offset : offset + 4])
        scram.receive(response[offset + 4 : offset + 4 + token_len])
    return None


def diagnose(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """One line saying which security setting keeps us out, or None if none does.

    None also when the broker cannot be reached at all, or the protocol is PLAINTEXT:
    then the caller's "cannot reach" line stands.
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT" or not settings.kafka_bootstrap:
        return None
    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    try:
        raw = socket.create_connection((host, int(port)), timeout=timeout_s)
    except (OSError, ValueError):
        return None
    sock: socket.socket = raw
    try:
        if protocol in ("SSL", "SASL_SSL"):
            cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
            try:
                context = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as error:
                return (
                    f"cannot read the CA file {cafile} ({error.__class__.__name__}): "
                    "check WIREWATCH_KAFKA_SSL_CAFILE"
                )
            try:
                sock = context.wrap_socket(raw, server_hostname=host)
            except ssl.SSLCertVerificationError as error:
                trusted = cafile or "the system's CAs"
                return (
                    f"Kafka at {settings.kafka_bootstrap} presents a certificate that "
                    f"{trusted} does not trust ({error.verify_message}): set "
                    "WIREWATCH_KAFKA_SSL_CAFILE to the CA that signed the brokers' certificates"
                )
            except (OSError, ssl.SSLError) as error:
                return (
                    f"TLS with Kafka at {settings.kafka_bootstrap} failed "
                    f"({error.__class__.__name__}): check WIREWATCH_KAFKA_SECURITY_PROTOCOL"
                )
        if protocol.startswith("SASL"):
            try:
                return _sasl(_Wire(sock), settings)
            except (OSError, struct.error, ValueError):
                return None
        return None
    finally:
        sock.close()
        raw.close()
