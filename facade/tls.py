"""A private CA and a serving certificate, made once per data directory and reused after.

ECDSA P-256 keys: generated in milliseconds (RSA-2048 would cost start-up time) and accepted by
kubectl, client-go and Python's ssl.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_IP = "10.96.0.1"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _names(host: str) -> list[x509.GeneralName]:
    dns = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local", socket.gethostname()}
    ips = {"127.0.0.1", "::1", SERVICE_IP}
    try:
        ipaddress.ip_address(host)
        if host not in ("0.0.0.0", "::"):
            ips.add(host)
    except ValueError:
        dns.add(host)
    out: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(dns) if d]
    out += [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    return out


def ensure_certificates(data_dir: Path, host: str) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key) under ``data_dir``, created when missing."""
    ca_crt, ca_key = data_dir / "ca.crt", data_dir / "ca.key"
    srv_crt, srv_key = data_dir / "server.crt", data_dir / "server.key"
    host_marker = data_dir / "server.host"
    if srv_crt.exists() and srv_key.exists() and ca_crt.exists() and (
        host_marker.exists() and host_marker.read_text() == host
    ):
        return ca_crt, srv_crt, srv_key
    now = datetime.datetime.now(datetime.UTC)
    if ca_crt.exists() and ca_key.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
        ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), None)
    else:
        ca_private = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubefacade-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_private, hashes.SHA256())
        )
        ca_crt.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        _write_key(ca_key, ca_private)  # type: ignore[arg-type]
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_private, hashes.SHA256())  # type: ignore[arg-type]
    )
    srv_crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(srv_key, key)
    host_marker.write_text(host)
    return ca_crt, srv_crt, srv_key
