"""Embedded X.509 certificates and keys: DER and PEM, located and described.

Candidates are found by their byte layout (one regex pass for DER, one for PEM) and parsed
with ``cryptography``; the number of candidates tried is bounded. Private keys are only
flagged: their location, type and the SHA-256 of their DER are recorded, never the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import warnings
from collections.abc import Iterator
from functools import lru_cache

from ecuscan.model import Buffer, Certificate, Sha256
from ecuscan.provenance import prefilter

CERT = "x509-certificate"
PUBLIC_KEY = "public-key"
PRIVATE_KEY = "private-key"


@lru_cache(maxsize=1)
def _parse_errors() -> tuple[type[Exception], ...]:
    """What cryptography raises for DER that is not what it claims to be. cryptography is imported
    here, on the first candidate the patterns find, not with this module: most images hold no
    certificate or key, and a scan's start-up does not pay for it."""
    from cryptography.exceptions import UnsupportedAlgorithm

    errors: tuple[type[Exception], ...] = (ValueError, TypeError, UnsupportedAlgorithm, OverflowError)
    return errors


_KEY_OIDS = (rb"(?:\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01|\x07\x2a\x86\x48\xce\x3d\x02\x01"
             rb"|\x03\x2b\x65[\x6e-\x71]|\x07\x2a\x86\x48\xce\x38\x04\x01)")
# Every alternative starts with the SEQUENCE tag 0x30, written once in front so the regex
# engine jumps from one 0x30 byte to the next instead of trying every offset.
_DER_RE = re.compile(
    rb"\x30(?:"
    # Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version | serial INTEGER ...
    rb"(?P<cert>\x82..\x30\x82..(?:\xa0\x03\x02\x01[\x00-\x02]|\x02))"
    # SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier SEQUENCE { OID ...
    rb"|(?P<spki>(?:\x81.|\x82..|[\x20-\x7f])\x30[\x05-\x7f]\x06" + _KEY_OIDS + rb")"
    # PKCS#8 PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier ...
    rb"|(?P<pkcs8>(?:\x81.|\x82..|[\x20-\x7f])\x02\x01[\x00\x01]\x30[\x05-\x7f]\x06" + _KEY_OIDS + rb")"
    # PKCS#1 RSAPrivateKey ::= SEQUENCE { version 0, modulus INTEGER (positive, high bit set) ...
    rb"|(?P<rsa>\x82..\x02\x01\x00\x02(?:\x81.|\x82..)\x00[\x80-\xff])"
    # SEC1 ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING (32/48/66 bytes) ...
    rb"|(?P<ec>(?:\x81.|[\x20-\x7f])\x02\x01\x01\x04[\x20\x30\x42]))",
    re.DOTALL,
)
#: Group of the prefilter pass for :data:`_DER_RE`: fixed-width starts of its alternatives (every
#: match starts with one of them) ...
DER_GROUP = "der"
_LEN = (rb"\x81.", rb"\x82..", rb"[\x20-\x7f]")
DER_STARTS = (
    rb"\x30\x82..\x30\x82",  # certificate
    *(rb"\x30" + n + rb"\x30[\x05-\x7f]\x06" for n in _LEN),  # SubjectPublicKeyInfo
    *(rb"\x30" + n + rb"\x02\x01[\x00\x01]\x30[\x05-\x7f]\x06" for n in _LEN),  # PKCS#8
    rb"\x30\x82..\x02\x01\x00\x02",  # PKCS#1 RSA
    *(rb"\x30" + n + rb"\x02\x01\x01\x04[\x20\x30\x42]" for n in (rb"\x81.", rb"[\x20-\x7f]")),  # SEC1 EC
)
#: ... and for :data:`_PEM_RE`.
PEM_GROUP = "pem"
PEM_STARTS = (b"-----BEGIN ",)
_PEM_RE = re.compile(
    # Backslashes: PEM kept JSON- or C-escaped in a configuration blob ("...-----\\nMIIB...").
    rb"-----BEGIN ([A-Z0-9 ]{3,40})-----([A-Za-z0-9+/=\s:,()\\\-]{16,65536}?)-----END \1-----"
)
_PEM_KINDS = {
    b"CERTIFICATE": CERT, b"X509 CERTIFICATE": CERT, b"TRUSTED CERTIFICATE": CERT,
    b"PUBLIC KEY": PUBLIC_KEY, b"RSA PUBLIC KEY": PUBLIC_KEY, b"EC PUBLIC KEY": PUBLIC_KEY,
    b"PRIVATE KEY": PRIVATE_KEY, b"RSA PRIVATE KEY": PRIVATE_KEY, b"EC PRIVATE KEY": PRIVATE_KEY,
    b"DSA PRIVATE KEY": PRIVATE_KEY, b"ENCRYPTED PRIVATE KEY": PRIVATE_KEY,
    b"OPENSSH PRIVATE KEY": PRIVATE_KEY,
}
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp224r1": "P-224",
           "secp192r1": "P-192"}


def key_type(key: object) -> str | None:
    """A short name for a public or private key: ``RSA-2048``, ``EC-P256``, ``Ed25519`` ..."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        name = key.curve.name
        return "EC-" + _CURVES.get(name, name).replace("-", "")
    if isinstance(key, dsa.DSAPublicKey | dsa.DSAPrivateKey):
        return f"DSA-{key.key_size}"
    for cls, label in ((ed25519.Ed25519PublicKey, "Ed25519"), (ed25519.Ed25519PrivateKey, "Ed25519"),
                       (ed448.Ed448PublicKey, "Ed448"), (ed448.Ed448PrivateKey, "Ed448"),
                       (x25519.X25519PublicKey, "X25519"), (x25519.X25519PrivateKey, "X25519"),
                       (x448.X448PublicKey, "X448"), (x448.X448PrivateKey, "X448")):
        if isinstance(key, cls):
            return label
    return None


def _der_total(header: bytes) -> int | None:
    """Total length (header + content) of a DER SEQUENCE from its first bytes."""
    if len(header) < 2 or header[0] != 0x30:
        return None
    first = header[1]
    if first < 0x80:
        return 2 + first
    if first == 0x81 and len(header) >= 3:
        return 3 + header[2] if header[2] >= 0x80 else None
    if first == 0x82 and len(header) >= 4:
        n = int.from_bytes(header[2:4], "big")
        return 4 + n if n >= 0x100 else None
    return None


def _sha(der: bytes) -> Sha256:
    return Sha256(hashlib.sha256(der).hexdigest())


def _describe_cert(der: bytes, offset: int, size: int, encoding: str, limit: int) -> Certificate | None:
    from cryptography import x509

    try:
        with warnings.catch_warnings():
            # Non-conformant but real certificates (negative serials ...) make cryptography warn;
            # the library must not emit warnings on behalf of firmware content.
            warnings.simplefilter("ignore")
            cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()[:limit]
        issuer = cert.issuer.rfc4514_string()[:limit]
        not_before = cert.not_valid_before_utc.isoformat()
        not_after = cert.not_valid_after_utc.isoformat()
    except _parse_errors():
        return None
    try:
        ktype = key_type(cert.public_key())
    except _parse_errors():
        ktype = None
    return Certificate(kind=CERT, offset=offset, size=size, sha256=_sha(der), subject=subject,
                       issuer=issuer, not_before=not_before, not_after=not_after, key_type=ktype,
                       encoding=encoding)


def _describe_public(der: bytes, offset: int, size: int, encoding: str) -> Certificate | None:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        ktype = key_type(load_der_public_key(der))
    except _parse_errors():
        return None
    return Certificate(kind=PUBLIC_KEY, offset=offset, size=size, sha256=_sha(der), key_type=ktype,
                       encoding=encoding)


def _describe_private(der: bytes, offset: int, size: int, encoding: str, *,
                      require_parse: bool) -> Certificate | None:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    # The key is loaded only to name its type; the object is dropped at once.
    try:
        ktype = key_type(load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True))
    except _parse_errors():
        if require_parse:
            return None
        ktype = None
    return Certificate(kind=PRIVATE_KEY, offset=offset, size=size, sha256=_sha(der), key_type=ktype,
                       encoding=encoding)


def scan_der(data: Buffer, max_items: int, max_candidates: int, limit: int = 200,
             places: prefilter.Found | None = None) -> Iterator[Certificate]:
    """Yield DER certificates, public keys and private keys found by layout in ``data`` (``places``:
    where a prefilter pass found the layouts' starts)."""
    tried = found = 0
    covered_end = -1  # candidates inside an object already found are parts of it
    size = len(data)
    for m in prefilter.finditer(_DER_RE, data, places, DER_GROUP):
        start = m.start()
        if start < covered_end:
            continue
        tried += 1
        if tried > max_candidates or found >= max_items:
            return
        total = _der_total(bytes(data[start:start + 4]))
        if total is None or start + total > size:
            continue
        der = bytes(data[start:start + total])
        kind = m.lastgroup
        if kind == "cert":
            item = _describe_cert(der, start, total, "der", limit)
        elif kind == "spki":
            item = _describe_public(der, start, total, "der")
        else:
            item = _describe_private(der, start, total, "der", require_parse=True)
        if item is not None:
            found += 1
            covered_end = start + total
            yield item


def _pem_der(body: bytes) -> bytes | None:
    body = body.replace(b"\\r", b"\n").replace(b"\\n", b"\n")
    lines = [ln.strip() for ln in body.splitlines() if b":" not in ln]
    try:
        return base64.b64decode(b"".join(b"".join(ln.split()) for ln in lines), validate=True)
    except (binascii.Error, ValueError):
        return None


def scan_pem(data: Buffer, max_items: int, max_candidates: int, limit: int = 200,
             places: prefilter.Found | None = None) -> Iterator[Certificate]:
    """Yield PEM certificates and keys found in ``data`` (``places``: where a prefilter pass found
    ``-----BEGIN``)."""
    tried = found = 0
    for m in prefilter.finditer(_PEM_RE, data, places, PEM_GROUP):
        tried += 1
        if tried > max_candidates or found >= max_items:
            return
        kind = _PEM_KINDS.get(m.group(1))
        der = _pem_der(m.group(2))
        if kind is None or not der:
            continue
        start, size = m.start(), m.end() - m.start()
        if kind == CERT:
            item = _describe_cert(der, start, size, "pem", limit)
        elif kind == PUBLIC_KEY:
            item = _describe_public(der, start, size, "pem")
        else:
            item = _describe_private(der, start, size, "pem", require_parse=False)
        if item is not None:
            found += 1
            yield item
