"""Fixtures for provenance tests: certificates and keys generated fresh with ``cryptography``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOT_BEFORE = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Pki:
    """A small PKI: a self-signed RSA CA and an EC P-256 leaf it signed, plus their keys."""

    ca_der: bytes
    ca_pem: bytes
    leaf_der: bytes
    leaf_pem: bytes
    ec_spki_der: bytes
    rsa_spki_pem: bytes
    ec_private_pem: bytes
    rsa_private_pkcs8_der: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ACME Electronics"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: object, signer: rsa.RSAPrivateKey, serial: int) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key).serial_number(serial)  # type: ignore[arg-type]
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=subject == issuer, path_length=None), critical=True)
            .sign(signer, hashes.SHA256()))


@pytest.fixture(scope="session")
def pki() -> Pki:
    """Generated once per session (RSA key generation takes a moment)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("ECU Root CA", "ECU Root CA", ca_key.public_key(), ca_key, 1)
    leaf = _cert("bcm.ecu.example", "ECU Root CA", leaf_key.public_key(), ca_key, 0x1234)
    der, pem = serialization.Encoding.DER, serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return Pki(
        ca_der=ca.public_bytes(der), ca_pem=ca.public_bytes(pem),
        leaf_der=leaf.public_bytes(der), leaf_pem=leaf.public_bytes(pem),
        ec_spki_der=leaf_key.public_key().public_bytes(der, spki),
        rsa_spki_pem=ca_key.public_key().public_bytes(pem, spki),
        ec_private_pem=leaf_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                              serialization.NoEncryption()),
        rsa_private_pkcs8_der=ca_key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()),
    )
